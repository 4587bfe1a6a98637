"""Real-time detections API: ``GET /api/realtime-detections/`` (and ``/<id>/``).

The detections in the caller's scope (a manager: their own customers'), newest first. A
detection locates a customer (the country roamed, PIPL Art. 28), so every list and every
single read writes a ``signalling.view`` audit event with the ids returned. No personal
field: the customer's subscriber id, never the name or number.
"""

from __future__ import annotations

from rest_framework import serializers

from keycare.api.views import ScopedViewSet
from keycare.signalling.actions import record_detection_read
from keycare.signalling.models import RealtimeDetection


class RealtimeDetectionSerializer(serializers.ModelSerializer):
    subscriber_id = serializers.CharField(source="customer.subscriber_id", read_only=True)
    city = serializers.CharField(source="city.code", read_only=True)
    country = serializers.SerializerMethodField()
    latency_ms = serializers.SerializerMethodField()

    class Meta:
        model = RealtimeDetection
        fields = [
            "id", "subscriber_id", "city", "moment", "window", "outcome", "country",
            "signal_time", "detected_at", "acted_at", "latency_ms",
        ]  # fmt: skip
        read_only_fields = fields

    def get_country(self, obj) -> str:
        return obj.facts.get("country", "")

    def get_latency_ms(self, obj) -> dict:
        return obj.latency_ms


class RealtimeDetectionViewSet(ScopedViewSet):
    """Real-time detections in the user's scope; every read is audited."""

    model = RealtimeDetection
    select_related = ("customer", "city", "sms")
    serializer_class = RealtimeDetectionSerializer
    ordering_fields = ["detected_at", "signal_time"]
    ordering = ["-detected_at", "id"]

    def _audit(self, request, ids):
        record_detection_read(request.user, request.META.get("REMOTE_ADDR"), "api", ids)

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        results = response.data.get("results", []) if isinstance(response.data, dict) else []
        self._audit(request, [r["id"] for r in results])
        return response

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        self._audit(request, [response.data["id"]])
        return response
