"""The CTI feed: what an outbound-call system (CTI) needs to dial the day's call tasks and to
report back what happened.

- ``GET /api/cti/call-list/?date=&manager=``: the day's open call tasks of the CTI account's
  scope, in the managers' list order (highest priority first), with the number to dial. The
  number is in clear only for a CTI account holding ``access.cti_clear_numbers``; every
  request is audited (``cti.call_list``: date, manager, the task ids, whether numbers were
  clear). Without the permission the numbers are masked.
- ``POST /api/cti/call-results/``: one call's result. Idempotent on ``cti_call_id``: the first
  report claims the task if unhandled and records one outcome (``keycare.tasks.actions``); a
  repeat answers with the first report (200, ``Idempotent-Replayed: true``) and records nothing.

Only the CTI role may use the feed (403 for everyone else); the CTI role sees nothing through
the other resources (``restrict`` opens rows to it for the ``"cti"`` action only). A task
outside its scope is 404.
"""

from __future__ import annotations

import re

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from keycare.access import roles
from keycare.access.masking import scrub_text
from keycare.access.presenter import masked_value
from keycare.access.querysets import CTI_ACTION, user_scope
from keycare.access.unmask import clear_values
from keycare.api.pagination import StandardPagination
from keycare.api.serializers import BoundedDateTimeField
from keycare.core import workflow
from keycare.core.audit import record
from keycare.tasks import actions as task_actions
from keycare.tasks.models import ContactResult, CtiCall, ServiceTask, TaskChannel, TaskState

CTI_CLEAR_PERMISSION = "access.cti_clear_numbers"
CALL_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
OPEN_STATES = (TaskState.UNHANDLED, TaskState.IN_PROGRESS)


class IsCti(permissions.BasePermission):
    message = (
        "仅外呼系统（CTI）账号可以使用此接口 Only the CTI system account may use this endpoint"
    )

    def has_permission(self, request, view):
        return user_scope(request.user)[0] == roles.ROLE_CTI


class CtiMismatch(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "外呼流水号已用于不同的结果 cti_call_id reused with different facts"
    default_code = "idempotency_key_reused"


# --- the call list ----------------------------------------------------------------------


class CallListQuerySerializer(serializers.Serializer):
    date = serializers.DateField(
        required=False, help_text="Business date (YYYY-MM-DD); default today"
    )
    manager = serializers.CharField(
        required=False, max_length=32, help_text="Only this manager's tasks (manager code)"
    )
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=500)


class CallListRowSerializer(serializers.Serializer):
    task_id = serializers.IntegerField()
    manager_id = serializers.CharField(allow_null=True, help_text="Manager code")
    priority = serializers.IntegerField(help_text="Position in the list, 1 = call first")
    priority_score = serializers.FloatField()
    state = serializers.ChoiceField(choices=TaskState.choices)
    subscriber_id = serializers.CharField()
    msisdn = serializers.CharField(help_text="In clear with access.cti_clear_numbers, else masked")


class CallListSerializer(serializers.Serializer):
    date = serializers.DateField()
    clear = serializers.BooleanField(help_text="Whether the numbers are in clear")
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = CallListRowSerializer(many=True)


class CallListView(APIView):
    permission_classes = [permissions.IsAuthenticated, IsCti]

    @extend_schema(
        operation_id="cti_call_list",
        parameters=[CallListQuerySerializer],
        responses={200: CallListSerializer},
        description="The day's open call tasks in list order, with the number to dial (clear "
        "only for a CTI account with access.cti_clear_numbers). Audited per request.",
    )
    def get(self, request):
        query = CallListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        day = query.validated_data.get("date") or timezone.localdate()
        manager = query.validated_data.get("manager", "")
        tasks = (
            ServiceTask.objects.restrict(request.user, CTI_ACTION)
            .filter(business_date=day, channel=TaskChannel.CALL, state__in=OPEN_STATES)
            .select_related("customer", "manager")
            .only(
                "id",
                "priority_score",
                "state",
                "manager__manager_id",
                "customer__subscriber_id",
                "customer__msisdn",
            )  # fmt: skip
            .order_by("-priority_score", "id")
        )
        if manager:
            tasks = tasks.filter(manager__manager_id=manager)
        paginator = StandardPagination()
        page = paginator.paginate_queryset(tasks, request, view=self) or []
        clear = request.user.has_perm(CTI_CLEAR_PERMISSION)
        offset = (paginator.page.number - 1) * paginator.page.paginator.per_page if page else 0
        # One event for the whole answer: who received which tasks' numbers, clear or not.
        record(
            request.user,
            "cti.call_list",
            object_type="tasks.servicetask",
            ip=request.META.get("REMOTE_ADDR"),
            date=day.isoformat(),
            manager=manager[:32],
            tasks=[task.pk for task in page],
            fields=["msisdn"],
            clear=clear,
        )
        rows = [
            {
                "task_id": task.pk,
                "manager_id": task.manager.manager_id if task.manager_id else None,
                "priority": offset + n,
                "priority_score": task.priority_score,
                "state": task.state,
                "subscriber_id": task.customer.subscriber_id,
                "msisdn": _number(task.customer, clear),
            }
            for n, task in enumerate(page, start=1)
        ]
        response = Response(
            {
                "date": day.isoformat(),
                "clear": clear,
                "count": paginator.page.paginator.count if page else 0,
                "next": paginator.get_next_link() if page else None,
                "previous": paginator.get_previous_link() if page else None,
                "results": rows,
            }
        )
        response["Cache-Control"] = "no-store"
        return response


def _number(customer, clear: bool) -> str:
    if clear:
        return clear_values(customer, ("msisdn",))["msisdn"]  # audited above (cti.call_list)
    return masked_value("msisdn", customer.msisdn)


# --- call results -----------------------------------------------------------------------


class CallResultRequestSerializer(serializers.Serializer):
    cti_call_id = serializers.CharField(
        max_length=64, help_text="The CTI's own call id: letters, digits, . _ : - (idempotency)"
    )
    task_id = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    started_at = BoundedDateTimeField()
    ended_at = BoundedDateTimeField()
    result = serializers.ChoiceField(choices=ContactResult.choices)
    recording_ref = serializers.CharField(
        required=False, allow_blank=True, max_length=200, default=""
    )

    def validate_cti_call_id(self, value):
        if not CALL_ID_RE.fullmatch(value):
            raise serializers.ValidationError(
                "外呼流水号只能包含字母、数字和 . _ : -（最多 64 个字符）"
                " cti_call_id: letters, digits and . _ : - only"
            )
        return _no_personal_data(value)

    def validate_recording_ref(self, value):
        if not value.isprintable():
            raise serializers.ValidationError(
                "录音编号含有控制字符 recording_ref: control characters"
            )
        return _no_personal_data(value.strip())

    def validate(self, attrs):
        if attrs["ended_at"] < attrs["started_at"]:
            raise serializers.ValidationError(
                {"ended_at": ["结束时间不能早于开始时间 ended_at is before started_at"]}
            )
        return attrs


def _no_personal_data(value: str) -> str:
    """Ids are echoed, audited and kept in notes: one holding a mobile or ID number is refused."""
    if scrub_text(value) != value:
        raise serializers.ValidationError(
            "不能包含手机号码或证件号码 must not contain a mobile or ID number"
        )
    return value


class CallResultSerializer(serializers.ModelSerializer):
    task_id = serializers.IntegerField()
    outcome_id = serializers.IntegerField()

    class Meta:
        model = CtiCall
        fields = [
            "cti_call_id", "task_id", "outcome_id", "started_at", "ended_at", "result",
            "recording_ref", "claimed", "recorded_at",
        ]  # fmt: skip
        read_only_fields = fields


class CallResultView(APIView):
    permission_classes = [permissions.IsAuthenticated, IsCti]

    @extend_schema(
        operation_id="cti_call_results_create",
        request=CallResultRequestSerializer,
        responses={
            201: CallResultSerializer,
            200: OpenApiResponse(CallResultSerializer, description="A repeated cti_call_id"),
        },
        description="Record one call's result on its task (claiming the task if unhandled). "
        "Idempotent on cti_call_id: a repeat returns the first answer and records nothing.",
    )
    def post(self, request):
        body = CallResultRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        tasks = ServiceTask.objects.restrict(request.user, CTI_ACTION)
        task = get_object_or_404(tasks, pk=data["task_id"])
        try:
            call, created = task_actions.record_call_result(
                request.user,
                task,
                cti_call_id=data["cti_call_id"],
                started_at=data["started_at"],
                ended_at=data["ended_at"],
                result=data["result"],
                recording_ref=data["recording_ref"],
            )
        except task_actions.CtiCallMismatch as error:
            raise CtiMismatch(str(error)) from error
        except (workflow.StaleTaskError, workflow.IllegalTransitionError) as error:
            raise _Conflict(str(error)) from error
        response = Response(
            CallResultSerializer(call).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
        if not created:
            response["Idempotent-Replayed"] = "true"
        return response


class _Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "请求与当前状态冲突 Conflict"
    default_code = "conflict"
