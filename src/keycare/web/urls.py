from django.urls import path

from keycare.web import admin_workbench, task_detail, tasks, views, workbench
from keycare.web import audit as audit_log

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("tasks/", tasks.task_list, name="task-list"),
    path("workbench/", workbench.manager_workbench, name="manager-workbench"),
    path("admin-workbench/", admin_workbench.admin_workbench, name="admin-workbench"),
    path("tasks/<int:pk>/", task_detail.task_detail, name="task-detail"),
    path("audit/", audit_log.audit_list, name="audit-list"),
]
