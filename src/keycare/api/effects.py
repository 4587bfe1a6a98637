"""Effects API (效果评估): stored evaluations and their rows, read-only and scoped by role.

Reports are gated by role (they hold no customer data); rows go through the chokepoint
(``EffectRow.objects.restrict``): a city role reads its city's rows only.
"""

from rest_framework import serializers

from keycare.access import roles
from keycare.api.views import RoleGatedViewSet, ScopedViewSet
from keycare.effects.filtersets import EffectRowFilter
from keycare.effects.models import EffectReport, EffectRow

READERS = frozenset({roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN, roles.ROLE_ANALYST})


class EffectReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = EffectReport
        fields = ["id", "as_of", "source_kind", "horizons", "qini", "totals", "loaded_at"]
        read_only_fields = fields


class EffectRowSerializer(serializers.ModelSerializer):
    city = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = EffectRow
        fields = [
            "id", "report", "dimension", "key", "label", "city", "horizon", "metric", "treated",
            "control", "treated_mean", "control_mean", "uplift", "ci_low", "ci_high",
            "contact_rate", "accept_rate",
        ]  # fmt: skip
        read_only_fields = fields


class EffectReportViewSet(RoleGatedViewSet):
    model = EffectReport
    allowed_roles = READERS
    serializer_class = EffectReportSerializer
    ordering_fields = ["as_of", "id"]


class EffectRowViewSet(ScopedViewSet):
    model = EffectRow
    select_related = ("city",)
    serializer_class = EffectRowSerializer
    filterset_class = EffectRowFilter
    ordering_fields = ["treated", "uplift", "key", "horizon"]

    def get_queryset(self):
        if self.request.method not in ("GET", "HEAD", "OPTIONS"):
            return EffectRow.objects.none()
        return (
            super().get_queryset().order_by("dimension", "key", "city__code", "horizon", "metric")
        )
