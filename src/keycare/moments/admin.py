"""Admin pages for moment definitions; edits there bypass versioning, so they are read-only."""

from django.contrib import admin

from keycare.moments.models import (
    CityThreshold,
    DefinitionSetVersion,
    MomentDefinition,
    RuleVersion,
)


class CityThresholdInline(admin.TabularInline):
    model = CityThreshold
    extra = 0
    can_delete = False
    readonly_fields = ("city", "name", "value")


@admin.register(MomentDefinition)
class MomentDefinitionAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name_zh",
        "category",
        "cycle",
        "enabled",
        "priority",
        "channel",
        "current_version",
    )
    list_filter = ("category", "cycle", "enabled", "channel")
    search_fields = ("code", "name_zh", "name_en")
    inlines = [CityThresholdInline]

    def has_change_permission(self, request, obj=None):
        return False  # changes go through keycare.moments.actions so they are versioned


@admin.register(RuleVersion)
class RuleVersionAdmin(admin.ModelAdmin):
    list_display = ("moment", "number", "changed_by", "changed_at", "note")
    list_filter = ("moment",)
    list_select_related = ("moment", "changed_by")

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DefinitionSetVersion)
class DefinitionSetVersionAdmin(admin.ModelAdmin):
    list_display = ("content_hash", "created_at")

    def has_change_permission(self, request, obj=None):
        return False
