"""Account-manager pages: routes and navigation entries (joined in web/urls.py and web/navigation.py)."""

from django.urls import path
from django.utils.translation import gettext_lazy as _

from keycare.access import roles
from keycare.web import assigned_tasks, daily_work, managers

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
]

# (url name, label, roles that see it), as in web/navigation.NAV.
NAV: list = [
    ("web:manager-list", _("客户经理档案"), ADMINS | {roles.ROLE_MANAGER}),
    ("web:work-list", _("日常工作"), ADMINS | {roles.ROLE_MANAGER}),
    ("web:assigned-task-list", _("下达任务"), ADMINS | {roles.ROLE_MANAGER}),
]
