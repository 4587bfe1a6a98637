"""集团关键时刻 (group tasks): routes and navigation entries (joined by web/domains.py)."""

from django.urls import path
from django.utils.translation import gettext_lazy as _

from keycare.web import group_tasks

urlpatterns: list = [
    path("key-accounts/moments/", group_tasks.group_task_list, name="group-task-list"),
    path("key-accounts/moments/<int:pk>/", group_tasks.group_task_detail, name="group-task-detail"),
]

# (url name, label, roles that see it), as in web/navigation.NAV.
NAV: list = [("web:group-task-list", _("集团关键时刻"), group_tasks.VIEW_ROLES)]
