"""Admin pages for tasks: read-only, tasks change only through tasks/actions.py."""

from django.contrib import admin

from keycare.core.admin import ReadOnlyAdmin
from keycare.tasks import models


@admin.register(models.ServiceTask)
class ServiceTaskAdmin(ReadOnlyAdmin):
    list_display = ("business_date", "customer", "manager", "state", "channel", "priority_score")
    list_filter = ("state", "channel", "cycle")
    list_select_related = ("customer", "manager")
    raw_id_fields = ("customer", "manager", "run")


@admin.register(models.AllocationDecision)
class AllocationDecisionAdmin(ReadOnlyAdmin):
    list_display = ("business_date", "customer", "decision", "reason", "age_days")
    list_filter = ("decision",)
    list_select_related = ("customer",)


@admin.register(models.Appointment)
class AppointmentAdmin(ReadOnlyAdmin):
    list_display = ("customer", "manager", "kind", "due_at", "done_at")
    list_filter = ("kind",)
    list_select_related = ("customer", "manager")
