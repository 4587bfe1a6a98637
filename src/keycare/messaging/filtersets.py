"""The outbox's API filters (codes, not ids)."""

import django_filters as filters

from keycare.messaging.models import SmsMessage


class SmsMessageFilter(filters.FilterSet):
    city = filters.CharFilter(field_name="city__code")
    business_date = filters.DateFilter()
    business_date_from = filters.DateFilter(field_name="business_date", lookup_expr="gte")
    business_date_to = filters.DateFilter(field_name="business_date", lookup_expr="lte")
    moment = filters.CharFilter(field_name="task__moments__moment__code", distinct=True)

    class Meta:
        model = SmsMessage
        fields = ["state", "hold_reason", "business_date", "city", "task"]
