"""Account-manager pages: routes and navigation entries (joined in web/urls.py and web/navigation.py)."""

from django.urls import path
from django.utils.translation import gettext_lazy as _

from keycare.access import roles
from keycare.web import assessments, assigned_tasks, daily_work, managers, plans, reminders

ADMINS = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN}

urlpatterns: list = [
    path("managers/", managers.manager_list, name="manager-list"),
    path("managers/<int:pk>/", managers.manager_detail, name="manager-detail"),
    path("managers/<int:pk>/profile/", managers.manager_profile_edit, name="manager-profile-edit"),
    path(
        "managers/<int:pk>/qualifications/",
        managers.manager_qualification_add,
        name="manager-qualification-add",
    ),
    path(
        "managers/<int:pk>/qualifications/<int:qid>/remove/",
        managers.manager_qualification_remove,
        name="manager-qualification-remove",
    ),
    path("managers/<int:pk>/status/", managers.manager_status, name="manager-status"),
    path("managers/<int:pk>/hand-over/", managers.manager_hand_over, name="manager-hand-over"),
    path("assigned-tasks/", assigned_tasks.assigned_task_list, name="assigned-task-list"),
    path("assigned-tasks/new/", assigned_tasks.assigned_task_new, name="assigned-task-new"),
    path(
        "assigned-tasks/<int:pk>/",
        assigned_tasks.assigned_task_detail,
        name="assigned-task-detail",
    ),
    path(
        "assigned-tasks/shares/<int:pk>/progress/",
        assigned_tasks.assignment_progress,
        name="assignment-progress",
    ),
    path(
        "assigned-tasks/shares/<int:pk>/evaluate/",
        assigned_tasks.assignment_evaluate,
        name="assignment-evaluate",
    ),
    path("daily-work/", daily_work.work_list, name="work-list"),
    path("daily-work/new/", daily_work.work_new, name="work-new"),
    path("plans/", plans.plan_list, name="plan-list"),
    path("plans/generate/", plans.plan_generate, name="plan-generate"),
    path("plans/<int:pk>/", plans.plan_detail, name="plan-detail"),
    path("plans/<int:pk>/edit/", plans.plan_edit, name="plan-edit"),
    path("plans/<int:pk>/review/", plans.plan_review, name="plan-review"),
    path("reminders/", reminders.reminder_list, name="reminder-list"),
    path("reminders/panel/", reminders.reminder_panel, name="reminder-panel"),
    path("reminders/digest/", reminders.reminder_digest, name="reminder-digest"),
    path("assessments/", assessments.assessment_home, name="assessment-home"),
    path("assessments/compute/", assessments.assessment_compute, name="assessment-compute"),
    path("assessments/<int:pk>/", assessments.assessment_period, name="assessment-period"),
    path("assessments/<int:pk>/status/", assessments.assessment_status, name="assessment-status"),
    path(
        "assessments/rows/<int:pk>/adjust/",
        assessments.assessment_adjust,
        name="assessment-adjust",
    ),
]

# (url name, label, roles that see it), as in web/navigation.NAV.
NAV: list = [
    ("web:manager-list", _("客户经理档案"), ADMINS | {roles.ROLE_MANAGER}),
    ("web:reminder-list", _("事务提醒"), ADMINS | {roles.ROLE_MANAGER}),
    ("web:plan-list", _("工作计划"), ADMINS | {roles.ROLE_MANAGER}),
    ("web:work-list", _("日常工作"), ADMINS | {roles.ROLE_MANAGER}),
    ("web:assigned-task-list", _("下达任务"), ADMINS | {roles.ROLE_MANAGER}),
    ("web:assessment-home", _("业绩考核"), ADMINS | {roles.ROLE_MANAGER}),
]
