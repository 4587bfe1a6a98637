"""django-filter filtersets for the effects API. Filters name codes (city), not ids."""

import django_filters as filters

from keycare.effects.models import EffectRow


class EffectRowFilter(filters.FilterSet):
    city = filters.CharFilter(field_name="city__code")
    province = filters.BooleanFilter(
        field_name="city", lookup_expr="isnull", label="province-wide rows only"
    )

    class Meta:
        model = EffectRow
        fields = ["report", "dimension", "key", "horizon", "metric", "city", "province"]
