from django.contrib import admin

from keycare.keyaccounts import models


class MemberInline(admin.TabularInline):
    model = models.KeyAccountMember
    raw_id_fields = ["customer"]
    extra = 0


@admin.register(models.KeyAccount)
class KeyAccountAdmin(admin.ModelAdmin):
    list_display = ["key_account_id", "name", "industry", "tier", "city", "status"]
    list_filter = ["tier", "status", "city"]
    search_fields = ["key_account_id", "name"]
    raw_id_fields = ["manager"]
    inlines = [MemberInline]
