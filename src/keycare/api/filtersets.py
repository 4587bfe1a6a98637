"""django-filter filtersets, one per resource. Filters name codes (city, manager), not ids."""

import django_filters as filters
from django.core.exceptions import ValidationError
from django.db.models import Q
from django_filters.fields import IsoDateTimeField

from keycare.api.serializers import DATETIME_OUT_OF_RANGE
from keycare.core.parsing import DateTimeOutOfRange, sane_datetime
from keycare.customers.models import Customer
from keycare.moments.models import MomentDefinition, RuleVersion
from keycare.workorders.models import Appointment, Campaign, Run, ServiceTask, WorkOrder


class BoundedIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time held to ``keycare.core.parsing.sane_datetime`` (years 1900-2100):
    year 1 or 9999 would overflow when the lookup value is converted for the database."""

    default_error_messages = {"out_of_range": DATETIME_OUT_OF_RANGE}

    def to_python(self, value):
        result = super().to_python(value)
        if result is None:
            return result
        try:
            return sane_datetime(result)
        except DateTimeOutOfRange:
            raise ValidationError(
                self.error_messages["out_of_range"], code="out_of_range"
            ) from None


class BoundedIsoDateTimeFilter(filters.IsoDateTimeFilter):
    """Every date-time filter of the API is one of these."""

    field_class = BoundedIsoDateTimeField


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
    due_before = BoundedIsoDateTimeFilter(field_name="due_at", lookup_expr="lte")

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
