"""django-filter filtersets for the API (and any page that filters the same way).

Filters name codes (city, manager), not ids.
"""

import django_filters as filters

from keycare.moments.models import MomentDefinition, RuleVersion


class MomentFilter(filters.FilterSet):
    class Meta:
        model = MomentDefinition
        fields = ["category", "cycle", "enabled", "channel"]


class RuleVersionFilter(filters.FilterSet):
    moment = filters.CharFilter(field_name="moment__code")

    class Meta:
        model = RuleVersion
        fields = ["moment"]
