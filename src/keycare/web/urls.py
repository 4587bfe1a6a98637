from django.urls import path

from keycare.web import (
    admin_workbench,
    appointments,
    campaigns,
    customers,
    departments,
    segments,
    tactics,
    task_detail,
    task_dial,
    tasks,
    views,
    workbench,
    workorders,
)
from keycare.web import audit as audit_log
from keycare.web import runs as runs_pages
from keycare.web.domains import DOMAIN_URL_MODULES
from keycare.web.rules import views as rules

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("tasks/", tasks.task_list, name="task-list"),
    path("sms-tasks/", tasks.sms_task_list, name="sms-task-list"),
    path("appointments/", appointments.appointment_list, name="appointment-list"),
    path("appointments/<int:pk>/done/", appointments.appointment_done, name="appointment-done"),
    path("departments/", departments.department_list, name="department-list"),
    path("departments/new/", departments.department_new, name="department-new"),
    path("departments/<int:pk>/", departments.department_edit, name="department-edit"),
    path("departments/<int:pk>/active/", departments.department_active, name="department-active"),
    path("workbench/", workbench.manager_workbench, name="manager-workbench"),
    path("admin-workbench/", admin_workbench.admin_workbench, name="admin-workbench"),
    path("tasks/<int:pk>/", task_detail.task_detail, name="task-detail"),
    path("tasks/<int:pk>/dial/", task_dial.task_dial, name="task-dial"),
    path("audit/", audit_log.audit_list, name="audit-list"),
    path("runs/", runs_pages.run_list, name="run-list"),
    path("runs/start/", runs_pages.run_start, name="run-start"),
    path("runs/<int:pk>/", runs_pages.run_detail, name="run-detail"),
    path(
        "runs/requests/<int:pk>/progress/",
        runs_pages.run_request_progress,
        name="run-request-progress",
    ),
    path(
        "runs/requests/<int:pk>/cancel/", runs_pages.run_request_cancel, name="run-request-cancel"
    ),
    path("rules/", rules.rule_list, name="rule-list"),
    path("tactics/", tactics.tactic_library, name="tactic-library"),
    path("rules/<str:code>/", rules.rule_detail, name="rule-detail"),
    path("rules/<str:code>/preview/", rules.rule_preview, name="rule-preview"),
    path("rules/<str:code>/versions/", rules.rule_versions, name="rule-versions"),
    path(
        "rules/<str:code>/versions/<int:number>/",
        rules.rule_version_detail,
        name="rule-version-detail",
    ),
    path(
        "rules/<str:code>/versions/<int:number>/restore/", rules.rule_restore, name="rule-restore"
    ),
    path("segments/", segments.segment_list, name="segment-list"),
    path("segments/new/", segments.segment_new, name="segment-new"),
    path("segments/count/", segments.segment_count, name="segment-count"),
    path("segments/<int:pk>/", segments.segment_edit, name="segment-edit"),
    path("campaigns/", campaigns.campaign_list, name="campaign-list"),
    path("campaigns/new/", campaigns.campaign_new, name="campaign-new"),
    path("campaigns/<int:pk>/", campaigns.campaign_detail, name="campaign-detail"),
    path("campaigns/<int:pk>/finish/", campaigns.campaign_finish, name="campaign-finish"),
    path(
        "campaigns/tasks/<int:pk>/complete/",
        campaigns.campaign_task_complete,
        name="campaign-task-complete",
    ),
    path("workorders/", workorders.workorder_list, name="workorder-list"),
    path("workorders/<int:pk>/", workorders.workorder_detail, name="workorder-detail"),
    path("customers/", customers.customer_list, name="customer-list"),
    path("customers/<int:pk>/", customers.customer_detail, name="customer-detail"),
    path("customers/<int:pk>/unmask/", customers.customer_unmask, name="customer-unmask"),
]

# Each domain's pages live in web/urls_<domain>.py (one file per domain, see web/domains.py).
for _module in DOMAIN_URL_MODULES:
    urlpatterns += _module.urlpatterns
