"""Admin pages: runs and reference data are editable; tasks change only through actions.py."""

from django.contrib import admin

from keycare.workorders import models


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(models.Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = (
        "run_id",
        "business_date",
        "status",
        "engine",
        "detected",
        "quarantined",
        "loaded_at",
    )
    list_filter = ("status", "engine")
    date_hierarchy = "business_date"


@admin.register(models.QuarantineRow)
class QuarantineRowAdmin(ReadOnlyAdmin):
    list_display = ("run", "file", "row_number", "rule", "reason")
    list_filter = ("file", "rule")
    list_select_related = ("run",)


@admin.register(models.Detection)
class DetectionAdmin(ReadOnlyAdmin):
    list_display = ("business_date", "customer", "moment", "rule_version", "priority")
    list_filter = ("moment",)
    list_select_related = ("customer", "moment")
    raw_id_fields = ("customer", "run")


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


@admin.register(models.Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "city")


class CampaignManagerInline(admin.TabularInline):
    model = models.CampaignManager
    extra = 0
    raw_id_fields = ("manager",)


@admin.register(models.Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "status", "start_date", "end_date")
    list_filter = ("status",)
    inlines = [CampaignManagerInline]


@admin.register(models.Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "city", "active")


@admin.register(models.WorkOrder)
class WorkOrderAdmin(ReadOnlyAdmin):
    list_display = ("pk", "title", "department", "priority", "status", "due_at", "closed_at")
    list_filter = ("status", "priority", "department")
    list_select_related = ("department",)
