"""Django admin for the archive. Lists show no personal fields; history and loads are read-only."""

from django.contrib import admin

from keycare.customers import models


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.Province)
class ProvinceAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]


@admin.register(models.City)
class CityAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "province"]


@admin.register(models.County)
class CountyAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "city"]
    list_filter = ["city"]


@admin.register(models.Grid)
class GridAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "county", "city"]
    list_filter = ["city"]
    search_fields = ["code", "name"]


@admin.register(models.Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["subscriber_id", "city", "brand", "plan_code", "value_tier", "archive"]
    list_filter = ["archive", "value_tier", "status", "brand", "city"]
    search_fields = ["subscriber_id"]
    raw_id_fields = ["county", "grid", "key_account", "manager"]
    readonly_fields = ["row_hash", "created_at", "updated_at"]


@admin.register(models.CustomerHistory)
class CustomerHistoryAdmin(ReadOnlyAdmin):
    list_display = ["customer", "at", "load"]
    raw_id_fields = ["customer"]


@admin.register(models.Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = ["customer", "manager", "start_date", "end_date"]
    raw_id_fields = ["customer", "manager"]


@admin.register(models.LoadBatch)
class LoadBatchAdmin(ReadOnlyAdmin):
    list_display = ["pk", "business_date", "created", "updated", "unchanged", "retained"]
