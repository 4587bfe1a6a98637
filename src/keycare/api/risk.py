"""Churn-risk API: the day's risk scores of the customers in the caller's scope.

``GET /api/risk-scores/?business_date=&min_risk=0.3&has_moment=false&city=`` -- the same
rows as the 高风险客户 page (no personal fields: the customer's subscriber id, city and
manager, the scores and reasons); a list is audited like the page.
"""

from __future__ import annotations

import django_filters
from rest_framework import serializers

from keycare.api.views import ScopedViewSet
from keycare.core.audit import record
from keycare.runs.models import RiskScore


class RiskScoreFilter(django_filters.FilterSet):
    business_date = django_filters.DateFilter()
    min_risk = django_filters.NumberFilter(field_name="risk_probability", lookup_expr="gte")
    has_moment = django_filters.BooleanFilter()
    city = django_filters.CharFilter(field_name="customer__city__code")

    class Meta:
        model = RiskScore
        fields = ["business_date", "min_risk", "has_moment", "city"]


class RiskScoreSerializer(serializers.ModelSerializer):
    subscriber_id = serializers.CharField(source="customer.subscriber_id", read_only=True)
    city = serializers.CharField(source="customer.city.code", read_only=True, default=None)
    manager = serializers.CharField(
        source="customer.manager.manager_id", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = RiskScore
        fields = [
            "id", "subscriber_id", "city", "manager", "business_date", "risk_probability",
            "seed_score", "health_tariff_brand", "health_call_circle", "health_service",
            "health_business", "reasons", "model_version", "has_moment",
        ]  # fmt: skip
        read_only_fields = fields


class RiskScoreViewSet(ScopedViewSet):
    """Risk scores in the user's scope, highest risk first; lists are audited."""

    model = RiskScore
    select_related = ("customer", "customer__city", "customer__manager")
    serializer_class = RiskScoreSerializer
    filterset_class = RiskScoreFilter
    ordering_fields = ["risk_probability", "business_date"]
    ordering = ["-business_date", "-risk_probability"]

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        record(
            request.user,
            "search",
            object_type="runs.riskscore",
            ip=request.META.get("REMOTE_ADDR"),
            filters={k: str(v)[:32] for k, v in request.query_params.items()},
            rows=response.data.get("count") if isinstance(response.data, dict) else None,
        )
        return response
