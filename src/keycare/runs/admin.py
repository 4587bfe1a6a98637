"""Admin pages for runs: read-only, a run changes only by loading it again."""

from django.contrib import admin

from keycare.core.admin import ReadOnlyAdmin
from keycare.runs import models


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
