"""django-filter filtersets for the API (and any page that filters the same way).

Filters name codes (city, manager), not ids.
"""

import django_filters as filters

from keycare.runs.models import Run


class RunFilter(filters.FilterSet):
    class Meta:
        model = Run
        fields = ["business_date", "status"]
