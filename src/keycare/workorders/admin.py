"""Admin pages for work orders: read-only, they change only through workorders/actions.py."""

from django.contrib import admin

from keycare.core.admin import ReadOnlyAdmin
from keycare.workorders import models


@admin.register(models.WorkOrder)
class WorkOrderAdmin(ReadOnlyAdmin):
    list_display = ("pk", "title", "department", "priority", "status", "due_at", "closed_at")
    list_filter = ("status", "priority", "department")
    list_select_related = ("department",)
