"""Account-manager API: managers (the archive), work plans, visits and call notes, and KPI
assessments. Read through the chokepoint (a manager sees their own, an administrator their
scope, out of scope is 404); personal values masked, typed text scrubbed. A manager records a
visit or call with POST /api/visits/ (``keycare.managers.actions.record_work``).
"""

from __future__ import annotations

from rest_framework import exceptions, permissions, serializers, status
from rest_framework.response import Response

from keycare.access import roles
from keycare.access.masking import mask_field
from keycare.access.querysets import user_scope
from keycare.api.serializers import BoundedDateTimeField, MaskedField, ScrubbedTextField
from keycare.api.views import ScopedViewSet
from keycare.errors import UserError
from keycare.keyaccounts.models import KeyAccount, KeyPerson
from keycare.managers import actions, plans
from keycare.managers.models import (
    Assessment,
    PeriodStatus,
    PlanItem,
    WorkKind,
    WorkPlan,
    WorkRecord,
)
from keycare.managers.scoping import visible_managers
from keycare.org.models import Manager
from keycare.tasks.models import ServiceTask

MANAGER_VISIBLE = (PeriodStatus.APPROVED, PeriodStatus.LOCKED)


class ManagerSerializer(serializers.ModelSerializer):
    city = serializers.CharField(source="city.code", read_only=True)
    mobile = MaskedField("msisdn")
    status = serializers.SerializerMethodField()
    team = serializers.SerializerMethodField()
    visit_capacity = serializers.SerializerMethodField()
    key_account_capacity = serializers.SerializerMethodField()

    class Meta:
        model = Manager
        fields = [
            "id", "manager_id", "name", "mobile", "city", "role", "daily_capacity", "active",
            "status", "team", "visit_capacity", "key_account_capacity",
        ]  # fmt: skip

    def get_status(self, obj) -> str:
        return actions.profile_of(obj).status

    def get_team(self, obj) -> str:
        return actions.profile_of(obj).team

    def get_visit_capacity(self, obj) -> int:
        return actions.profile_of(obj).visit_capacity

    def get_key_account_capacity(self, obj) -> int:
        return actions.profile_of(obj).key_account_capacity


class ManagerViewSet(ScopedViewSet):
    """Account managers: an administrator's scope, a manager's own row."""

    model = Manager
    serializer_class = ManagerSerializer
    filterset_fields = ["role", "active"]
    ordering_fields = ["manager_id"]

    def get_queryset(self):
        return visible_managers(self.request.user).select_related("city", "profile")


class PlanItemSerializer(serializers.ModelSerializer):
    key_account = serializers.CharField(source="key_account.key_account_id", default=None)
    customer = serializers.CharField(source="customer.subscriber_id", default=None)
    note = ScrubbedTextField()

    class Meta:
        model = PlanItem
        fields = ["id", "kind", "due_date", "source", "key_account", "customer", "note"]


class WorkPlanSerializer(serializers.ModelSerializer):
    manager = serializers.CharField(source="manager.manager_id", read_only=True)
    items = PlanItemSerializer(many=True, read_only=True)
    note = ScrubbedTextField()
    review_comment = ScrubbedTextField()
    completion = serializers.SerializerMethodField()

    class Meta:
        model = WorkPlan
        fields = [
            "id", "manager", "period", "start", "end", "status", "note", "submitted_at",
            "reviewed_at", "review_comment", "items", "completion",
        ]  # fmt: skip

    def get_completion(self, obj) -> float | None:
        return plans.plan_actual(obj, obj.items.all()).completion


class WorkPlanViewSet(ScopedViewSet):
    model = WorkPlan
    serializer_class = WorkPlanSerializer
    select_related = ("manager",)
    prefetch_related = ("items__key_account", "items__customer")
    filterset_fields = ["status", "period"]
    ordering_fields = ["start"]


class VisitSerializer(serializers.ModelSerializer):
    manager = serializers.CharField(source="manager.manager_id", read_only=True)
    at = BoundedDateTimeField()
    key_account = serializers.PrimaryKeyRelatedField(
        queryset=KeyAccount.objects.all(), allow_null=True, required=False
    )
    key_persons = serializers.PrimaryKeyRelatedField(
        queryset=KeyPerson.objects.all(), many=True, required=False
    )
    key_person_names = serializers.SerializerMethodField()
    task = serializers.PrimaryKeyRelatedField(
        queryset=ServiceTask.objects.all(), allow_null=True, required=False
    )
    kind = serializers.ChoiceField(choices=WorkKind.choices)

    class Meta:
        model = WorkRecord
        fields = [
            "id", "manager", "kind", "at", "place", "key_account", "key_persons",
            "key_person_names", "task", "content", "result", "next_step", "next_date",
        ]  # fmt: skip

    def get_key_person_names(self, obj) -> list[str]:
        return [mask_field("name", p.name) for p in obj.key_persons.all()]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for field in ("place", "content", "result", "next_step"):
            data[field] = ScrubbedTextField().to_representation(data[field])
        return data


class VisitViewSet(ScopedViewSet):
    """Visits and call notes; POST records one for the signed-in manager."""

    model = WorkRecord
    serializer_class = VisitSerializer
    select_related = ("manager",)
    prefetch_related = ("key_persons",)
    filterset_fields = ["kind", "key_account"]
    ordering_fields = ["at"]
    http_method_names = ["get", "post", "head", "options"]

    def create(self, request, *args, **kwargs):
        role, scope = user_scope(request.user)
        if role != roles.ROLE_MANAGER or not scope:
            raise exceptions.PermissionDenied(
                "只有客户经理可以记录走访 Only managers record visits"
            )
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        manager = Manager.objects.get(pk=scope)
        links = {k: data.pop(k, None) for k in ("key_account", "task")}
        links["key_persons"] = data.pop("key_persons", [])
        try:
            record = actions.record_work(
                request.user, manager, kind=data.pop("kind"), at=data.pop("at"),
                content=data.pop("content", ""), links=links, **data,
            )  # fmt: skip
        except UserError as error:
            raise exceptions.ValidationError({"detail": str(error)}) from error
        return Response(self.get_serializer(record).data, status=status.HTTP_201_CREATED)


class AssessmentSerializer(serializers.ModelSerializer):
    period = serializers.CharField(source="period.name", read_only=True)
    period_status = serializers.CharField(source="period.status", read_only=True)
    manager = serializers.CharField(source="manager.manager_id", read_only=True)
    city = serializers.CharField(source="city.code", read_only=True)

    class Meta:
        model = Assessment
        fields = [
            "id", "period", "period_status", "manager", "city", "role", "team", "values",
            "score", "adjustment", "adjustment_reason", "final_score", "rank", "group_size",
        ]  # fmt: skip


class AssessmentViewSet(ScopedViewSet):
    """Assessment results: an administrator's scope; a manager their own, once approved."""

    model = Assessment
    serializer_class = AssessmentSerializer
    select_related = ("period", "manager", "city")
    filterset_fields = ["role", "team"]
    ordering_fields = ["final_score", "rank"]
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self):
        queryset = super().get_queryset()
        if user_scope(self.request.user)[0] == roles.ROLE_MANAGER:
            queryset = queryset.filter(period__status__in=MANAGER_VISIBLE)
        params = getattr(self.request, "query_params", self.request.GET)
        period = params.get("period")
        return queryset.filter(period__name=period) if period else queryset
