"""django-filter filtersets for the API (and any page that filters the same way).

Filters name codes (city, manager), not ids.
"""

import django_filters as filters

from keycare.campaigns.models import Campaign


class CampaignFilter(filters.FilterSet):
    city = filters.CharFilter(field_name="city__code")

    class Meta:
        model = Campaign
        fields = ["status", "city"]
