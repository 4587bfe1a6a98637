"""django-filter filtersets for the API (and any page that filters the same way).

Filters name codes (city, manager), not ids.
"""

import django_filters as filters

from keycare.workorders.models import WorkOrder


class WorkOrderFilter(filters.FilterSet):
    city = filters.CharFilter(field_name="customer__city__code")
    department = filters.CharFilter(field_name="department__code")
    manager = filters.CharFilter(field_name="task__manager__manager_id")

    class Meta:
        model = WorkOrder
        fields = ["status", "priority", "department", "city", "manager", "task"]
