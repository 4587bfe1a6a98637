"""Admin pages for segments and campaigns."""

from django.contrib import admin

from keycare.campaigns import models


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
