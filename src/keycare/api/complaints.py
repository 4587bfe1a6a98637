"""Complaints API: the complaint and consultation texts with the classifier's reading, and an
analyst's correction.

- ``GET /api/complaints/?kind=&group=&cause=&need=&resolved=&low=&review=&since=&until=&q=``:
  texts in the caller's scope with predicted (or corrected) cause and need, their labels,
  the confidence and the resolved flag; numbers, ID numbers and names in the text are
  masked. ``review=true`` is the review queue (low confidence, not yet corrected, least
  confident first). A list is audited like the page.
- ``POST /api/complaints/{id}/correct/`` ``{cause, need, note?, version?}``: analysts and
  administrators correct a reading (versioned, audited; feeds the next training).
"""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from keycare.access.presenter import customer_text
from keycare.access.querysets import user_scope
from keycare.api.views import ScopedViewSet, StaleConflict
from keycare.complaints import actions, services, taxonomy
from keycare.complaints.models import Complaint, ComplaintKind, LabelSource
from keycare.core.audit import record
from keycare.core.workflow import StaleTaskError

SEARCH_MAX = 20


class ComplaintFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=ComplaintKind.choices)
    group = django_filters.CharFilter(field_name="cause_group")
    cause = django_filters.CharFilter()
    need = django_filters.CharFilter()
    resolved = django_filters.BooleanFilter()
    corrected = django_filters.BooleanFilter(method="filter_corrected")
    low = django_filters.BooleanFilter(method="filter_low", label="confidence below 0.6")
    review = django_filters.BooleanFilter(method="filter_review", label="the review queue")
    since = django_filters.DateFilter(field_name="occurred_at__date", lookup_expr="gte")
    until = django_filters.DateFilter(field_name="occurred_at__date", lookup_expr="lte")
    q = django_filters.CharFilter(method="filter_text", max_length=SEARCH_MAX)

    class Meta:
        model = Complaint
        fields = ["kind", "group", "cause", "need", "resolved", "since", "until"]

    def filter_corrected(self, queryset, name, value):
        source = LabelSource.ANALYST if value else LabelSource.MODEL
        return queryset.filter(label_source=source)

    def filter_low(self, queryset, name, value):
        low = {"confidence__lt": services.LOW_CONFIDENCE}
        return queryset.filter(**low) if value else queryset.exclude(**low)

    def filter_review(self, queryset, name, value):
        return services.review_queue(queryset) if value else queryset

    def filter_text(self, queryset, name, value):
        return queryset.filter(text__contains=value) if value else queryset


class ComplaintSerializer(serializers.ModelSerializer):
    subscriber_id = serializers.CharField(source="customer.subscriber_id", read_only=True)
    city = serializers.CharField(source="customer.city.code", read_only=True, default=None)
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    text = serializers.SerializerMethodField()
    handling_result = serializers.SerializerMethodField()
    cause_label = serializers.SerializerMethodField()
    cause_group_label = serializers.SerializerMethodField()
    need_label = serializers.SerializerMethodField()
    label_source_label = serializers.CharField(source="get_label_source_display", read_only=True)

    class Meta:
        model = Complaint
        fields = [
            "id", "event_id", "subscriber_id", "city", "kind", "kind_label", "channel",
            "occurred_at", "text", "handling_result", "resolved", "cause", "cause_label",
            "cause_group", "cause_group_label", "need", "need_label", "confidence",
            "model_version", "label_source", "label_source_label", "label_version",
        ]  # fmt: skip
        read_only_fields = fields

    def get_text(self, obj) -> str:
        return customer_text(obj.text, obj.customer)  # numbers, own name and address masked

    def get_handling_result(self, obj) -> str:
        return customer_text(obj.handling_result, obj.customer)

    def get_cause_label(self, obj) -> str:
        return taxonomy.load().cause_label(obj.cause) if obj.cause else ""

    def get_cause_group_label(self, obj) -> str:
        return taxonomy.load().group_label(obj.cause_group) if obj.cause_group else ""

    def get_need_label(self, obj) -> str:
        return taxonomy.load().need_label(obj.need) if obj.need else ""


class CorrectionSerializer(serializers.Serializer):
    cause = serializers.CharField(max_length=32)
    need = serializers.CharField(max_length=32)
    note = serializers.CharField(max_length=actions.NOTE_MAX, required=False, allow_blank=True)
    version = serializers.IntegerField(min_value=0, required=False)


class CanReview(permissions.BasePermission):
    message = "当前角色无权更正投诉原因 Your role may not correct complaint readings"

    def has_permission(self, request, view):
        return user_scope(request.user)[0] in actions.REVIEW_ROLES


class ComplaintViewSet(ScopedViewSet):
    """Complaint and consultation texts in the user's scope, newest first, masked; lists are
    audited."""

    model = Complaint
    select_related = ("customer", "customer__city")
    serializer_class = ComplaintSerializer
    filterset_class = ComplaintFilter
    ordering_fields = ["occurred_at", "confidence"]
    ordering = ["-occurred_at", "-id"]

    def get_queryset(self):
        if self.action == "correct":
            # Labels are the analysts' work, not the customer's data: the rows a reviewer
            # may read are the rows they may label (CanReview gates who labels at all).
            return self.scoped("view")
        return super().get_queryset()

    def get_permissions(self):
        if self.action == "correct":
            return [permissions.IsAuthenticated(), CanReview()]
        return super().get_permissions()

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        record(
            request.user,
            "search",
            object_type="complaints.complaint",
            ip=request.META.get("REMOTE_ADDR"),
            filters={k: str(v)[:32] for k, v in request.query_params.items()},
            rows=response.data.get("count") if isinstance(response.data, dict) else None,
        )
        return response

    @extend_schema(
        summary="更正投诉原因与需求 Correct a complaint's cause and need",
        request=CorrectionSerializer,
        responses={200: ComplaintSerializer},
    )
    @action(detail=True, methods=["post"])
    def correct(self, request, pk=None):
        complaint = self.get_object()
        body = CorrectionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            actions.correct_label(
                request.user,
                complaint,
                body.validated_data["cause"],
                body.validated_data["need"],
                body.validated_data.get("note", ""),
                version=body.validated_data.get("version"),
            )
        except StaleTaskError as exc:
            raise StaleConflict(str(exc)) from None
        complaint.refresh_from_db()
        return Response(ComplaintSerializer(complaint).data)
