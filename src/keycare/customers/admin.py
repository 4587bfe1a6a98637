"""Admin pages for the customer archive: loaded rows are read-only."""

from django.contrib import admin

from keycare.core.admin import ReadOnlyAdmin
from keycare.customers import models


class ArchiveAdmin(ReadOnlyAdmin):
    """The archive is the operator's record: not even deleted from the admin."""

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["subscriber_id", "city", "brand", "plan_code", "value_tier", "archive"]
    list_filter = ["archive", "value_tier", "status", "brand", "city"]
    search_fields = ["subscriber_id"]
    raw_id_fields = ["county", "grid", "key_account", "manager"]
    readonly_fields = ["row_hash", "created_at", "updated_at"]


@admin.register(models.CustomerHistory)
class CustomerHistoryAdmin(ArchiveAdmin):
    list_display = ["customer", "at", "load"]
    raw_id_fields = ["customer"]


@admin.register(models.Assignment)
class AssignmentAdmin(ArchiveAdmin):
    list_display = ["customer", "manager", "start_date", "end_date"]
    raw_id_fields = ["customer", "manager"]


@admin.register(models.LoadBatch)
class LoadBatchAdmin(ArchiveAdmin):
    list_display = ["pk", "business_date", "created", "updated", "unchanged", "retained"]
