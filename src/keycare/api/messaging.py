"""Messaging API: the SMS outbox (短信发送记录) and each message's receipts, read-only, for
province and city administrators within their scope; numbers masked."""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from keycare.access import roles
from keycare.access.querysets import user_scope
from keycare.api.serializers import CustomerBriefSerializer, MaskedField, ScrubbedTextField
from keycare.api.views import ScopedViewSet
from keycare.messaging.filtersets import SmsMessageFilter
from keycare.messaging.models import SmsMessage, SmsReceipt

SMS_ROLES = frozenset({roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN})


class SmsReceiptSerializer(serializers.ModelSerializer):
    detail = ScrubbedTextField()

    class Meta:
        model = SmsReceipt
        fields = [
            "kind", "status", "dlr_type", "gateway_message_id", "detail", "reported_at",
            "received_at",
        ]  # fmt: skip
        read_only_fields = fields


class SmsMessageSerializer(serializers.ModelSerializer):
    customer = CustomerBriefSerializer(read_only=True, allow_null=True)  # null: to staff
    recipient = MaskedField("msisdn")
    text = ScrubbedTextField()
    reason = ScrubbedTextField()
    city = serializers.CharField(source="city.code", read_only=True, default=None)

    class Meta:
        model = SmsMessage
        fields = [
            "id", "task", "campaign_ref", "customer", "city", "business_date", "moment_codes",
            "recipient", "text", "state", "hold_reason", "reason", "attempts",
            "next_attempt_at", "gateway_message_id", "submitted_at", "submit_status",
            "delivered_at", "delivery_status", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class SmsMessageViewSet(ScopedViewSet):
    """短信发送记录: ``?state=delivered&business_date=2026-11-22&moment=A04``."""

    model = SmsMessage
    serializer_class = SmsMessageSerializer
    filterset_class = SmsMessageFilter
    select_related = ("customer__city", "city")

    def get_queryset(self):
        if user_scope(self.request.user)[0] not in SMS_ROLES:
            return SmsMessage.objects.none()
        return super().get_queryset().order_by("-id")

    @action(detail=True, methods=["get"])
    def receipts(self, request, pk=None):
        message = self.get_object()
        rows = message.receipts.order_by("reported_at", "id")
        return Response(SmsReceiptSerializer(rows, many=True).data)
