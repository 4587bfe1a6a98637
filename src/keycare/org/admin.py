"""Admin pages for the organisation: regions, departments, managers, staff profiles."""

from django.contrib import admin

from keycare.org import models


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


@admin.register(models.Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "city", "active")


@admin.register(models.Manager)
class ManagerAdmin(admin.ModelAdmin):
    list_display = ["manager_id", "city", "role", "daily_capacity", "active"]
    list_filter = ["active", "role", "city"]
    search_fields = ["manager_id"]
    raw_id_fields = ["grid", "user"]


@admin.register(models.StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "city", "manager"]
    list_filter = ["role"]
    raw_id_fields = ["user", "manager"]
