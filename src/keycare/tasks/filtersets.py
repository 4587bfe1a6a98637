"""django-filter filtersets for the API (and any page that filters the same way).

Filters name codes (city, manager), not ids.
"""

import django_filters as filters

from keycare.core.filters import BoundedIsoDateTimeFilter
from keycare.tasks.models import Appointment, ServiceTask


class TaskFilter(filters.FilterSet):
    city = filters.CharFilter(field_name="customer__city__code")
    manager = filters.CharFilter(field_name="manager__manager_id")
    business_date = filters.DateFilter()
    business_date_from = filters.DateFilter(field_name="business_date", lookup_expr="gte")
    business_date_to = filters.DateFilter(field_name="business_date", lookup_expr="lte")

    class Meta:
        model = ServiceTask
        fields = ["state", "channel", "business_date", "city", "manager"]


class AppointmentFilter(filters.FilterSet):
    manager = filters.CharFilter(field_name="manager__manager_id")
    city = filters.CharFilter(field_name="customer__city__code")
    done = filters.BooleanFilter(field_name="done_at", lookup_expr="isnull", exclude=True)
    due_before = BoundedIsoDateTimeFilter(field_name="due_at", lookup_expr="lte")

    class Meta:
        model = Appointment
        fields = ["kind", "task", "manager", "city", "done"]
