"""Key-account REST resources: ``/api/key-accounts/`` (tier, value score, credit rating, points
balance) and, per group, its ``members/``, ``key-persons/`` and ``products/``. Scoped by
``restrict`` (a key-account manager sees their own groups; out of scope is 404), personal data
masked, a view of a group audited."""

from django.db.models import Count
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action

from keycare.api.serializers import MaskedField
from keycare.api.views import ScopedViewSet
from keycare.core.audit import record
from keycare.keyaccounts.models import (
    KeyAccount,
    KeyAccountMember,
    KeyAccountProduct,
    KeyPerson,
    PotentialKeyAccount,
)


class KeyAccountSerializer(serializers.ModelSerializer):
    city = serializers.CharField(source="city.code", read_only=True)
    manager = serializers.CharField(
        source="manager.manager_id", read_only=True, default=None, allow_null=True
    )
    points_balance = serializers.IntegerField(source="points", read_only=True, allow_null=True)
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = KeyAccount
        fields = [
            "id", "key_account_id", "name", "industry", "tier", "delivered_tier", "value_score",
            "credit_rating", "credit_score", "key_customer", "key_level", "points_balance", "status", "archive", "city", "manager",
            "employees", "strategic", "annual_revenue", "created_date", "member_count",
        ]  # fmt: skip
        read_only_fields = fields


class MemberSerializer(serializers.ModelSerializer):
    subscriber_id = serializers.CharField(source="customer.subscriber_id", read_only=True)
    name = MaskedField("name", source="customer.name")
    msisdn = MaskedField("msisdn", source="customer.msisdn")

    class Meta:
        model = KeyAccountMember
        fields = ["subscriber_id", "name", "msisdn", "role", "joined_date"]
        read_only_fields = fields


class KeyPersonSerializer(serializers.ModelSerializer):
    name = MaskedField("name")
    mobile = MaskedField("mobile")
    birth_date = MaskedField("birth_date")
    reports_to = serializers.CharField(
        source="reports_to.person_id", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = KeyPerson
        fields = [
            "person_id", "role", "name", "title", "mobile", "birth_date", "reports_to",
            "influence", "attitude",
        ]  # fmt: skip
        read_only_fields = fields


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = KeyAccountProduct
        fields = [
            "product_id", "product_type", "name", "informatization", "bandwidth_mbps", "quantity",
            "monthly_fee", "sla_availability", "sla_response_minutes", "sla_restore_hours",
            "start_date", "end_date", "status",
        ]  # fmt: skip
        read_only_fields = fields


class KeyAccountViewSet(ScopedViewSet):
    """Key (group) accounts in the user's scope; ``tier`` A1/A2/B1/B2/C as KeyCare scores it."""

    model = KeyAccount
    select_related = ("city", "manager")
    serializer_class = KeyAccountSerializer
    filterset_fields = ["tier", "archive", "status", "industry", "strategic"]
    ordering_fields = ["key_account_id", "value_score", "name"]

    def get_queryset(self):
        queryset = super().get_queryset().annotate(member_count=Count("members"))
        return queryset.order_by("key_account_id")

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        record(request.user, "keyaccount.view", object_type="keyaccounts.keyaccount",
               object_id=str(kwargs.get("pk")), ip=request.META.get("REMOTE_ADDR"))  # fmt: skip
        return response

    def _page(self, queryset, serializer_class):
        group = get_object_or_404(self.scoped("view"), pk=self.kwargs["pk"])
        page = self.paginate_queryset(queryset.filter(key_account=group))
        return self.get_paginated_response(serializer_class(page, many=True).data)

    @extend_schema(responses=MemberSerializer(many=True))
    @action(detail=True, serializer_class=MemberSerializer, filterset_fields=[])
    def members(self, request, pk=None):
        members = KeyAccountMember.objects.select_related("customer").order_by("customer_id")
        return self._page(members, MemberSerializer)

    @extend_schema(responses=KeyPersonSerializer(many=True))
    @action(detail=True, url_path="key-persons", serializer_class=KeyPersonSerializer,
            filterset_fields=[])  # fmt: skip
    def key_persons(self, request, pk=None):
        persons = KeyPerson.objects.select_related("reports_to").order_by("person_id")
        response = self._page(persons, KeyPersonSerializer)
        record(request.user, "keyaccount.view", object_type="keyaccounts.keyaccount",
               object_id=str(pk), ip=request.META.get("REMOTE_ADDR"), fields="key_persons")  # fmt: skip
        return response

    @extend_schema(responses=ProductSerializer(many=True))
    @action(detail=True, serializer_class=ProductSerializer, filterset_fields=[])
    def products(self, request, pk=None):
        return self._page(KeyAccountProduct.objects.order_by("product_id"), ProductSerializer)


class PotentialKeyAccountSerializer(serializers.ModelSerializer):
    """A potential key account; its contact person masked."""

    city = serializers.CharField(source="city.code", read_only=True)
    manager = serializers.CharField(
        source="manager.manager_id", read_only=True, default=None, allow_null=True
    )
    contact_name = MaskedField("name", source="contact.name", default=None)
    contact_msisdn = MaskedField("msisdn", source="contact.msisdn", default=None)
    key_account = serializers.CharField(
        source="key_account.key_account_id", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = PotentialKeyAccount
        fields = [
            "id", "candidate_id", "source", "name", "city", "manager", "subscribers",
            "monthly_spend", "score", "contact_name", "contact_msisdn", "stage", "key_account",
            "rule_version", "found_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class PotentialKeyAccountViewSet(ScopedViewSet):
    """Potential key accounts (潜在大客户) in the user's scope, found by the potential rule;
    ``stage`` is the pipeline candidate → contacted → qualified → converted (or dropped)."""

    model = PotentialKeyAccount
    select_related = ("city", "manager", "contact", "key_account")
    serializer_class = PotentialKeyAccountSerializer
    filterset_fields = ["stage", "source"]
    ordering_fields = ["score", "subscribers", "candidate_id"]

    def get_queryset(self):
        return super().get_queryset().order_by("-score", "candidate_id")
