"""django-filter filtersets for the API (and any page that filters the same way).

Filters name codes (city, manager), not ids.
"""

import django_filters as filters
from django.db.models import Q

from keycare.customers.models import Customer


class CustomerFilter(filters.FilterSet):
    city = filters.CharFilter(field_name="city__code")
    manager = filters.CharFilter(field_name="manager__manager_id")
    # Exact match only (subscriber ID or mobile): a search is audited, never a fuzzy scan.
    search = filters.CharFilter(method="filter_search", max_length=32)

    class Meta:
        model = Customer
        fields = ["city", "manager", "status", "value_tier", "archive", "brand"]

    def filter_search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(subscriber_id=value) | Q(msisdn=value)) if value else queryset
