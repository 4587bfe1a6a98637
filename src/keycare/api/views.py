"""REST resources. Views stay thin: reads go through the chokepoint (``restrict``), writes through
``keycare.workorders.actions``.

Every viewset derives from ``ScopedViewSet`` (row scope via ``Model.objects.restrict``) or
``RoleGatedViewSet`` (unscoped reference data, visible to named roles only). Out of scope is 404.
tests/api/test_role_matrix.py fails for a registered viewset that bypasses both.
"""

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from keycare.access import roles
from keycare.access.masking import scrub_text
from keycare.access.querysets import user_scope
from keycare.access.unmask import unmask_customer
from keycare.api import serializers
from keycare.api.idempotency import IdempotentCreateMixin
from keycare.campaigns.filtersets import CampaignFilter
from keycare.campaigns.models import Campaign
from keycare.core import workflow
from keycare.core.audit import record
from keycare.customers.filtersets import CustomerFilter
from keycare.customers.models import Customer
from keycare.moments.filtersets import MomentFilter, RuleVersionFilter
from keycare.moments.models import MomentDefinition, RuleVersion
from keycare.org.models import Department
from keycare.runs.filtersets import RunFilter
from keycare.runs.models import Run
from keycare.tasks import actions as task_actions
from keycare.tasks.filtersets import AppointmentFilter, TaskFilter
from keycare.tasks.models import Appointment, ServiceTask, TaskMoment
from keycare.workorders import actions as workorder_actions
from keycare.workorders.filtersets import WorkOrderFilter
from keycare.workorders.models import WorkOrder

# Roles that may change work items; analysts and auditors only read.
WRITER_ROLES = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN, roles.ROLE_MANAGER}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "请求与当前状态冲突 Conflict"
    default_code = "conflict"


class StaleConflict(Conflict):
    default_code = "stale"


class CanWrite(permissions.BasePermission):
    """Reads for every signed-in user (scope limits what they see); writes for writer roles."""

    message = "当前角色无权执行此操作 Your role may not change data"

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return True
        return user_scope(request.user)[0] in WRITER_ROLES


class ScopedViewSet(viewsets.ReadOnlyModelViewSet):
    """Read-only resource over a scoped model: every queryset is ``restrict``-ed to the user."""

    model = None
    select_related: tuple[str, ...] = ()
    prefetch_related: tuple = ()
    # The columns a list page serialises, when loading whole rows would be most of its cost.
    list_only: tuple[str, ...] = ()
    permission_classes = [permissions.IsAuthenticated, CanWrite]

    def scoped(self, action_name: str = "view"):
        queryset = self.model.objects.restrict(self.request.user, action_name)
        if self.select_related:
            queryset = queryset.select_related(*self.select_related)
        if self.prefetch_related:
            queryset = queryset.prefetch_related(*self.prefetch_related)
        if self.list_only and self.action == "list":
            queryset = queryset.only(*self.list_only)
        return queryset

    def get_queryset(self):
        return self.scoped("view" if self.request.method in permissions.SAFE_METHODS else "change")


class RoleGatedViewSet(viewsets.ReadOnlyModelViewSet):
    """Read-only resource over unscoped data that only ``allowed_roles`` may see."""

    model = None
    allowed_roles: frozenset[str] = frozenset()
    select_related: tuple[str, ...] = ()

    def get_queryset(self):
        queryset = self.model.objects.select_related(*self.select_related)
        if user_scope(self.request.user)[0] not in self.allowed_roles:
            return queryset.none()
        return queryset


class CustomerViewSet(ScopedViewSet):
    """Customers in the user's scope, masked; a view and a search are audited."""

    model = Customer
    select_related = ("city", "county", "grid", "manager")
    serializer_class = serializers.CustomerSerializer
    filterset_class = CustomerFilter
    ordering_fields = ["subscriber_id", "join_date", "status_date", "plan_fee", "star_level"]

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        query = request.query_params.get("search")
        if query:
            record(
                request.user,
                "search",
                object_type="customers.customer",
                ip=request.META.get("REMOTE_ADDR"),
                query=scrub_text(query[:64]),
                rows=response.data.get("count") if isinstance(response.data, dict) else None,
            )
        return response

    def retrieve(self, request, *args, **kwargs):
        customer = self.get_object()
        record(request.user, "view_customer", customer, ip=request.META.get("REMOTE_ADDR"))
        return Response(self.get_serializer(customer).data)

    @extend_schema(
        request=serializers.UnmaskRequestSerializer,
        responses={200: serializers.UnmaskResponseSerializer},
        description="One customer's personal data in clear. Needs the access.unmask_personal_data "
        "permission and a reason of at least 10 characters; audited (denied attempts too).",
    )
    @action(detail=True, methods=["post"], permission_classes=[permissions.IsAuthenticated])
    def unmask(self, request, pk=None):
        # Looked up with the *view* scope: unmasking is gated by its own permission, not by
        # the writer roles, and out of scope stays 404.
        customer = get_object_or_404(self.scoped("view"), pk=pk)
        body = serializers.UnmaskRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        clear = unmask_customer(
            request.user,
            customer,
            body.validated_data["reason"],
            ip=request.META.get("REMOTE_ADDR"),
            channel="api",
        )
        response = Response({"id": customer.pk, "subscriber_id": customer.subscriber_id, **clear})
        response["Cache-Control"] = "no-store"
        return response


class TaskViewSet(ScopedViewSet):
    model = ServiceTask
    select_related = ("customer", "customer__city", "manager")
    # A moment's code is all a task shows of it (its definition holds three JSON documents).
    prefetch_related = (
        Prefetch(
            "moments",
            TaskMoment.objects.select_related("moment").only("id", "task", "moment__code"),
        ),
    )
    # A customer has ~140 columns; a task row shows five of them.
    list_only = (
        *("id", "business_date", "cycle", "priority_score", "risk_probability", "channel"),
        *("state", "version", "claimed_at", "handled_at", "feedback", "customer", "manager"),
        *("customer__subscriber_id", "customer__msisdn", "customer__name", "customer__city__code"),
        "manager__manager_id",
    )
    serializer_class = serializers.TaskSerializer
    filterset_class = TaskFilter
    ordering_fields = ["business_date", "priority_score", "state", "id"]

    @extend_schema(request=serializers.ClaimSerializer, responses=serializers.TaskSerializer)
    @action(detail=True, methods=["post"])
    def claim(self, request, pk=None):
        task = self.get_object()
        body = serializers.ClaimSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        _run_workflow(
            task_actions.claim_task, request.user, task, version=body.validated_data.get("version")
        )
        return Response(self._fresh(task))

    @extend_schema(
        request=serializers.OutcomeRequestSerializer, responses=serializers.TaskSerializer
    )
    @action(detail=True, methods=["post"])
    def outcome(self, request, pk=None):
        task = self.get_object()
        body = serializers.OutcomeRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        outcome = {
            "contact_result": data["result"],
            "recommendation": data["recommendation"],
            "notes": data["notes"],
            "tactic": data.get("tactic") or None,
        }
        if data["complete"] == "none":
            _run_workflow(
                task_actions.record_outcome,
                request.user,
                task,
                version=data.get("version"),
                **outcome,
            )
        else:
            _run_workflow(
                task_actions.complete_task,
                request.user,
                task,
                version=data.get("version"),
                outcome=outcome,
            )
        return Response(self._fresh(task))

    def _fresh(self, task):
        return self.get_serializer(self.scoped().get(pk=task.pk)).data


class AppointmentReadViewSet(ScopedViewSet):
    model = Appointment
    select_related = ("customer", "customer__city", "manager")
    serializer_class = serializers.AppointmentSerializer
    filterset_class = AppointmentFilter
    ordering_fields = ["due_at", "done_at", "id"]

    @extend_schema(
        request=serializers.AppointmentCreateSerializer,
        responses={201: serializers.AppointmentSerializer},
    )
    def create(self, request, *args, **kwargs):
        body = serializers.AppointmentCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        tasks = ServiceTask.objects.restrict(request.user, "change")
        task = get_object_or_404(tasks, pk=data["task"])
        appointment = _run_workflow(
            task_actions.create_appointment,
            request.user,
            task,
            kind=data["kind"],
            due_at=data["due_at"],
            notes=data["notes"],
            version=data.get("version"),
        )
        fresh = self.scoped().get(pk=appointment.pk)
        return Response(self.get_serializer(fresh).data, status=status.HTTP_201_CREATED)


class AppointmentViewSet(IdempotentCreateMixin, AppointmentReadViewSet):
    """Appointments in scope; POST creates one from a task in scope (Idempotency-Key honoured)."""


class WorkOrderReadViewSet(ScopedViewSet):
    model = WorkOrder
    select_related = ("customer", "customer__city", "department")
    serializer_class = serializers.WorkOrderSerializer
    filterset_class = WorkOrderFilter
    ordering_fields = ["due_at", "created_at", "priority", "status", "id"]

    @extend_schema(
        request=serializers.WorkOrderCreateSerializer,
        responses={201: serializers.WorkOrderSerializer},
    )
    def create(self, request, *args, **kwargs):
        body = serializers.WorkOrderCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        tasks = ServiceTask.objects.restrict(request.user, "change")
        task = get_object_or_404(tasks, pk=data["task"])
        department = Department.objects.filter(code=data["department"], active=True).first()
        if department is None:
            raise exceptions.ValidationError(
                {"department": ["部门不存在或已停用 Unknown department"]}
            )
        order = _run_workflow(
            workorder_actions.create_work_order,
            request.user,
            task,
            department=department,
            title=data["title"],
            description=data["description"],
            priority=data["priority"],
            version=data.get("version"),
        )
        fresh = self.scoped().get(pk=order.pk)
        return Response(self.get_serializer(fresh).data, status=status.HTTP_201_CREATED)


class WorkOrderViewSet(IdempotentCreateMixin, WorkOrderReadViewSet):
    """Work orders in scope; POST creates one from a task in scope (Idempotency-Key honoured)."""


class CampaignViewSet(ScopedViewSet):
    model = Campaign
    select_related = ("city", "segment")
    serializer_class = serializers.CampaignSerializer
    filterset_class = CampaignFilter
    ordering_fields = ["start_date", "end_date", "name", "id"]

    def scoped(self, action_name: str = "view"):
        # The manager path crosses the assignment table: one row per campaign.
        return super().scoped(action_name).distinct()


MOMENT_READERS = frozenset(
    {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN, roles.ROLE_MANAGER, roles.ROLE_ANALYST}
)


class MomentViewSet(RoleGatedViewSet):
    model = MomentDefinition
    allowed_roles = MOMENT_READERS
    serializer_class = serializers.MomentSerializer
    filterset_class = MomentFilter
    ordering_fields = ["code", "priority"]


class RuleVersionViewSet(RoleGatedViewSet):
    model = RuleVersion
    allowed_roles = MOMENT_READERS
    select_related = ("moment", "changed_by")
    serializer_class = serializers.RuleVersionSerializer
    filterset_class = RuleVersionFilter
    ordering_fields = ["changed_at", "number"]


class RunViewSet(RoleGatedViewSet):
    model = Run
    allowed_roles = frozenset({roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN})
    serializer_class = serializers.RunSerializer
    filterset_class = RunFilter
    ordering_fields = ["business_date", "id"]


def _run_workflow(function, *args, **kwargs):
    """Call a workflow action; a stale version or an illegal transition answers 409."""
    try:
        return function(*args, **kwargs)
    except workflow.StaleTaskError as error:
        raise StaleConflict(str(error)) from error
    except workflow.IllegalTransitionError as error:
        raise Conflict(str(error)) from error
