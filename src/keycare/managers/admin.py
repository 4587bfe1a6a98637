from django.contrib import admin

from keycare.managers import models


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
