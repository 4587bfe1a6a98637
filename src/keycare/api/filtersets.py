"""django-filter filtersets, one per resource. Filters name codes (city, manager), not ids."""

import django_filters as filters
from django.db.models import Q

from keycare.campaigns.models import Campaign
from keycare.customers.models import Customer
from keycare.moments.models import MomentDefinition, RuleVersion
from keycare.runs.models import Run
from keycare.tasks.models import Appointment, ServiceTask
from keycare.workorders.models import WorkOrder


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
    due_before = filters.IsoDateTimeFilter(field_name="due_at", lookup_expr="lte")

    class Meta:
        model = Appointment
        fields = ["kind", "task", "manager", "city", "done"]


class WorkOrderFilter(filters.FilterSet):
    city = filters.CharFilter(field_name="customer__city__code")
    department = filters.CharFilter(field_name="department__code")
    manager = filters.CharFilter(field_name="task__manager__manager_id")

    class Meta:
        model = WorkOrder
        fields = ["status", "priority", "department", "city", "manager", "task"]


class CampaignFilter(filters.FilterSet):
    city = filters.CharFilter(field_name="city__code")

    class Meta:
        model = Campaign
        fields = ["status", "city"]


class RunFilter(filters.FilterSet):
    class Meta:
        model = Run
        fields = ["business_date", "status"]


class MomentFilter(filters.FilterSet):
    class Meta:
        model = MomentDefinition
        fields = ["category", "cycle", "enabled", "channel"]


class RuleVersionFilter(filters.FilterSet):
    moment = filters.CharFilter(field_name="moment__code")

    class Meta:
        model = RuleVersion
        fields = ["moment"]
