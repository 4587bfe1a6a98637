"""The task workflow. Every function takes the acting user, runs in one transaction, writes an
audit event and uses optimistic locking: the write is ``UPDATE ... WHERE id=? AND version=?``;
when no row matches, someone else changed the task first and ``StaleTaskError`` says so.

Task states (seed slide 15/16)::

    unhandled --claim--> in_progress --complete--> handled_no_change | handled_new_alert

Outcomes, appointments and work orders are recorded while a task is in progress (appointments
and work orders also after it is handled, as follow-ups).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from keycare.core.audit import record
from keycare.errors import UserError
from keycare.workorders.models import (
    Appointment,
    AppointmentKind,
    Campaign,
    CampaignManager,
    CampaignStatus,
    CampaignTask,
    ContactResult,
    Department,
    Outcome,
    Recommendation,
    Segment,
    ServiceTask,
    TaskState,
    WorkOrder,
    WorkOrderPriority,
    WorkOrderStatus,
)
from keycare.workorders.segments import SegmentError, parse_conditions

HANDLED_STATES = (TaskState.HANDLED_NO_CHANGE, TaskState.HANDLED_NEW_ALERT)
FOLLOW_UP_STATES = (TaskState.IN_PROGRESS, *HANDLED_STATES)


class WorkflowError(UserError):
    """A workflow request that cannot be carried out; the message is shown to the user."""


class StaleTaskError(WorkflowError):
    """Someone else changed the task (or work order) since the user loaded it."""


class IllegalTransitionError(WorkflowError):
    """The requested change is not allowed from the task's current state."""


# --- task transitions -------------------------------------------------------------------


def claim_task(actor, task: ServiceTask, *, version: int | None = None) -> ServiceTask:
    """unhandled -> in_progress: the manager starts working the task."""
    now = timezone.now()
    with transaction.atomic():
        _transition(
            task,
            version,
            from_states=(TaskState.UNHANDLED,),
            action="领取",
            state=TaskState.IN_PROGRESS,
            claimed_by=_user_or_none(actor),
            claimed_at=now,
        )
        record(actor, "task.claim", task, to_state=TaskState.IN_PROGRESS)
    return task


def complete_task(
    actor,
    task: ServiceTask,
    *,
    new_alert: bool = False,
    version: int | None = None,
    outcome: dict | None = None,
) -> ServiceTask:
    """in_progress -> handled_no_change (or handled_new_alert when the contact raised a new alert).

    ``outcome`` (contact_result, recommendation, notes) is recorded in the same transaction.
    """
    to_state = TaskState.HANDLED_NEW_ALERT if new_alert else TaskState.HANDLED_NO_CHANGE
    if outcome:
        _check_outcome(**outcome)
    with transaction.atomic():
        _transition(
            task,
            version,
            from_states=(TaskState.IN_PROGRESS,),
            action="完成",
            state=to_state,
            handled_at=timezone.now(),
        )
        if outcome:
            _create_outcome(actor, task, **outcome)
        record(actor, "task.complete", task, to_state=to_state, outcome=outcome or {})
    return task


def record_outcome(
    actor,
    task: ServiceTask,
    *,
    contact_result: str,
    recommendation: str = Recommendation.NONE,
    notes: str = "",
    version: int | None = None,
) -> Outcome:
    """Record a contact attempt on a task in progress."""
    _check_outcome(contact_result, recommendation)
    with transaction.atomic():
        _transition(task, version, from_states=(TaskState.IN_PROGRESS,), action="记录结果")
        outcome = _create_outcome(
            actor, task, contact_result=contact_result, recommendation=recommendation, notes=notes
        )
        record(
            actor,
            "task.outcome",
            task,
            contact_result=contact_result,
            recommendation=recommendation,
        )
    return outcome


def create_appointment(
    actor,
    task: ServiceTask,
    *,
    kind: str,
    due_at,
    notes: str = "",
    version: int | None = None,
) -> Appointment:
    """Schedule a follow-up (预约) from a task in progress or handled."""
    _check_choice(kind, AppointmentKind, "预约类型")
    if due_at is None:
        raise WorkflowError("请填写预约时间")
    with transaction.atomic():
        _transition(task, version, from_states=FOLLOW_UP_STATES, action="预约")
        appointment = Appointment.objects.create(
            task=task,
            customer_id=task.customer_id,
            manager_id=task.manager_id,
            kind=kind,
            due_at=due_at,
            notes=notes,
            created_by=_user_or_none(actor),
        )
        record(
            actor,
            "appointment.create",
            appointment,
            task=task.pk,
            kind=kind,
            due_at=due_at.isoformat(),
        )
    return appointment


def complete_appointment(actor, appointment: Appointment, *, notes: str = "") -> Appointment:
    """Mark an appointment handled; a second completion is refused."""
    now = timezone.now()
    with transaction.atomic():
        fields = {"done_at": now, "updated_at": now}
        if notes:
            fields["notes"] = f"{appointment.notes}\n{notes}".strip()
        updated = Appointment.objects.filter(pk=appointment.pk, done_at__isnull=True).update(
            **fields
        )
        if not updated:
            raise StaleTaskError("这个预约已被处理，请刷新后查看")
        appointment.refresh_from_db()
        record(actor, "appointment.complete", appointment)
    return appointment


def create_work_order(
    actor,
    task: ServiceTask,
    *,
    department: Department,
    title: str,
    description: str = "",
    priority: str = WorkOrderPriority.NORMAL,
    version: int | None = None,
) -> WorkOrder:
    """Route a request from a task to a department queue, with its SLA clock started."""
    _check_choice(priority, WorkOrderPriority, "工单优先级")
    if not title.strip():
        raise WorkflowError("请填写工单标题")
    now = timezone.now()
    with transaction.atomic():
        _transition(task, version, from_states=FOLLOW_UP_STATES, action="派发工单")
        order = WorkOrder.objects.create(
            task=task,
            customer_id=task.customer_id,
            department=department,
            priority=priority,
            title=title.strip(),
            description=description,
            due_at=WorkOrder.sla_due(priority, now),
            created_by=_user_or_none(actor),
        )
        record(
            actor,
            "workorder.create",
            order,
            task=task.pk,
            department=department.code,
            priority=priority,
        )
    return order


# --- work order transitions -------------------------------------------------------------


def start_work_order(actor, order: WorkOrder, *, version: int | None = None) -> WorkOrder:
    """open -> in_progress: the department takes the order."""
    with transaction.atomic():
        _update_order(
            order, version, (WorkOrderStatus.OPEN,), "受理", status=WorkOrderStatus.IN_PROGRESS
        )
        record(actor, "workorder.start", order)
    return order


def close_work_order(
    actor, order: WorkOrder, *, resolution: str, version: int | None = None
) -> WorkOrder:
    """Close the order with its resolution and report it back on the task (闭环)."""
    if not resolution.strip():
        raise WorkflowError("请填写处理结果")
    now = timezone.now()
    open_states = (WorkOrderStatus.OPEN, WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.ESCALATED)
    with transaction.atomic():
        _update_order(
            order,
            version,
            open_states,
            "关闭",
            status=WorkOrderStatus.CLOSED,
            closed_at=now,
            resolution=resolution.strip(),
            closed_by=_user_or_none(actor),
        )
        if order.task_id:
            _report_back(order, now)
        record(actor, "workorder.close", order, resolution=resolution.strip())
    return order


def escalate_overdue_work_orders(actor=None, *, now=None) -> int:
    """Escalate every open order whose SLA has passed; returns how many were escalated."""
    now = now or timezone.now()
    with transaction.atomic():
        overdue = WorkOrder.objects.select_for_update().filter(
            status__in=(WorkOrderStatus.OPEN, WorkOrderStatus.IN_PROGRESS), due_at__lt=now
        )
        ids = list(overdue.values_list("pk", flat=True))
        WorkOrder.objects.filter(pk__in=ids).update(
            status=WorkOrderStatus.ESCALATED,
            escalated_at=now,
            updated_at=now,
            version=F("version") + 1,
        )
        for pk in ids:
            record(
                actor, "workorder.escalate", object_type="workorders.workorder", object_id=str(pk)
            )
    return len(ids)


# --- campaigns --------------------------------------------------------------------------


def save_segment(
    actor,
    *,
    name: str,
    conditions,
    description: str = "",
    city_id: int | None = None,
    segment: Segment | None = None,
) -> Segment:
    """Create a segment, or update ``segment``, from raw conditions validated against the catalog.

    Raises WorkflowError listing every invalid condition; nothing is saved then.
    """
    name = name.strip()
    if not name:
        raise WorkflowError("请填写客户群名称")
    if len(name) > 100:
        raise WorkflowError("客户群名称最多 100 个字符")
    try:
        clean = parse_conditions(conditions)
    except SegmentError as error:
        raise WorkflowError("；".join(error.messages)) from None
    values = {"name": name, "description": description.strip(), "filter": {"all": clean}}
    with transaction.atomic():
        if segment is None:
            segment = Segment.objects.create(**values, city_id=city_id, owner=_user_or_none(actor))
            record(actor, "segment.create", segment, filter=values["filter"])
        else:
            Segment.objects.filter(pk=segment.pk).update(**values, updated_at=timezone.now())
            segment.refresh_from_db()
            record(actor, "segment.update", segment, filter=values["filter"])
    return segment


class AssignMode:
    """How a campaign's customers are given to managers (see docs/workflow.md)."""

    OWN = "own"  # each customer to their own manager; the chosen managers take the rest
    SPREAD = "spread"  # spread over the chosen managers, own manager first, within capacity

    choices = ((OWN, "按归属经理分配"), (SPREAD, "在所选经理间均衡分配"))


def create_campaign(
    actor,
    *,
    name: str,
    customers,
    managers=(),
    segment=None,
    start_date=None,
    end_date=None,
    description: str = "",
    script: str = "",
    city=None,
    city_id: int | None = None,
    mode: str = AssignMode.SPREAD,
    capacity: dict | None = None,
) -> Campaign:
    """Create an active campaign for ``customers`` (a segment's selection, evaluated by the
    caller, already scoped) and give every customer to one manager.

    ``mode`` OWN: each customer goes to their own (active) manager; customers without one go
    to the chosen ``managers``. ``mode`` SPREAD: customers go to the chosen ``managers`` only,
    a customer's own manager first when chosen, otherwise the least loaded. ``capacity``
    ({manager pk: most customers}) caps what the chosen managers take; a selection that does
    not fit is refused whole, never cut silently.
    """
    if not name.strip():
        raise WorkflowError("请填写活动名称")
    if start_date and end_date and end_date < start_date:
        raise WorkflowError("结束日期不能早于开始日期")
    if mode not in (AssignMode.OWN, AssignMode.SPREAD):
        raise WorkflowError(f"分配方式无效：{mode!r}")
    chosen = {m.pk: m for m in managers}
    rows = list(
        customers.values_list("pk", "manager_id", "manager__active").order_by("pk").distinct()
    )
    if not rows:
        raise WorkflowError("客户群在您的权限范围内没有客户，无法创建活动")
    plan = plan_assignment(rows, chosen, mode=mode, capacity=capacity)
    with transaction.atomic():
        campaign = Campaign.objects.create(
            name=name.strip(),
            description=description,
            segment=segment,
            status=CampaignStatus.ACTIVE,
            start_date=start_date,
            end_date=end_date,
            script=script,
            city_id=city.pk if city is not None else city_id,
            created_by=_user_or_none(actor),
        )
        taking_part = sorted({m for m in plan.values() if m is not None})
        CampaignManager.objects.bulk_create(
            [CampaignManager(campaign=campaign, manager_id=pk) for pk in taking_part]
        )
        CampaignTask.objects.bulk_create(
            [
                CampaignTask(campaign=campaign, customer_id=customer_id, manager_id=manager_id)
                for customer_id, manager_id in plan.items()
            ],
            batch_size=2000,
        )
        record(
            actor,
            "campaign.create",
            campaign,
            customers=len(plan),
            managers=taking_part,
            mode=mode,
            segment=segment.pk if segment else None,
        )
    return campaign


def plan_assignment(rows, chosen: dict, *, mode: str, capacity: dict | None = None) -> dict:
    """{customer pk: manager pk} for rows of (customer pk, own manager pk, own manager active).

    Raises WorkflowError, naming the numbers, when the chosen managers cannot take their part.
    """
    load = {pk: 0 for pk in chosen}
    caps = {pk: (capacity or {}).get(pk) for pk in chosen}
    plan: dict = {}
    rest = []
    for customer_id, own, own_active in rows:
        if mode == AssignMode.OWN and own is not None and own_active and own not in chosen:
            plan[customer_id] = own
        elif own in load and _has_room(load, caps, own):
            plan[customer_id] = own
            load[own] += 1
        else:
            rest.append(customer_id)
    if rest and not chosen:
        raise WorkflowError(
            f"有 {len(rest)} 位客户没有在岗的归属经理，请选择接收这些客户的经理"
            if mode == AssignMode.OWN
            else "请选择参与活动的客户经理"
        )
    room = sum(caps[pk] - load[pk] if caps[pk] is not None else len(rest) for pk in chosen)
    if len(rest) > room:
        if mode == AssignMode.SPREAD:
            total = sum(caps.values())
            raise WorkflowError(
                f"所选经理在活动期内最多承接 {total} 位客户（日服务能力 × 活动天数），"
                f"客户群有 {len(rows)} 位：请增加经理、延长活动期或缩小客户群"
            )
        raise WorkflowError(
            f"所选经理在活动期内还能承接 {room} 位客户，没有在岗归属经理的客户有 {len(rest)} 位："
            "请增加经理、延长活动期或缩小客户群"
        )
    for customer_id in rest:
        open_ = [pk for pk in chosen if _has_room(load, caps, pk)]
        target = min(open_, key=lambda pk: (load[pk] / (caps[pk] or 1e9), load[pk], pk))
        plan[customer_id] = target
        load[target] += 1
    return plan


def _has_room(load: dict, caps: dict, pk) -> bool:
    return caps[pk] is None or load[pk] < caps[pk]


def finish_campaign(actor, campaign: Campaign) -> Campaign:
    """End an active campaign early (已结束); its unfinished tasks stay as they are, for the record,
    but managers can no longer complete them."""
    with transaction.atomic():
        updated = Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.ACTIVE).update(
            status=CampaignStatus.FINISHED, updated_at=timezone.now()
        )
        if not updated:
            raise IllegalTransitionError("这个活动不在进行中，不能结束")
        campaign.refresh_from_db()
        open_tasks = CampaignTask.objects.filter(campaign=campaign, done_at__isnull=True).count()
        record(actor, "campaign.finish", campaign, open_tasks=open_tasks)
    return campaign


def complete_campaign_task(
    actor,
    task: CampaignTask,
    *,
    contact_result: str,
    recommendation: str = Recommendation.NONE,
    notes: str = "",
    version: int | None = None,
) -> CampaignTask:
    """Record the result of a campaign contact; done once (optimistic lock as for tasks)."""
    _check_outcome(contact_result, recommendation)
    expected = task.version if version is None else int(version)
    now = timezone.now()
    with transaction.atomic():
        if Campaign.objects.filter(pk=task.campaign_id, status=CampaignStatus.FINISHED).exists():
            raise IllegalTransitionError("这个活动已结束，不能再记录结果")
        updated = CampaignTask.objects.filter(
            pk=task.pk, version=expected, done_at__isnull=True
        ).update(
            version=F("version") + 1,
            done_at=now,
            updated_at=now,
            contact_result=contact_result,
            recommendation=recommendation,
            notes=notes,
        )
        if not updated:
            raise StaleTaskError("这个活动任务已被他人处理或更新，请刷新后重试")
        task.refresh_from_db()
        record(actor, "campaign.task.complete", task, contact_result=contact_result)
    return task


# --- internals -------------------------------------------------------------------------


def _transition(task: ServiceTask, version, *, from_states, action: str, **fields) -> None:
    """Apply ``fields`` if the task is still at ``version`` and in one of ``from_states``.

    Always bumps the version, so two writers working from the same version cannot both win.
    """
    expected = task.version if version is None else int(version)
    now = timezone.now()
    updated = ServiceTask.objects.filter(
        pk=task.pk, version=expected, state__in=from_states
    ).update(version=F("version") + 1, updated_at=now, **fields)
    if updated:
        task.refresh_from_db()
        return
    current = ServiceTask.objects.filter(pk=task.pk).values("version", "state").first()
    if current is None:
        raise WorkflowError("这个任务已不存在")
    state_label = TaskState(current["state"]).label
    if current["version"] != expected:
        raise StaleTaskError(f"这个任务已被他人更新（当前状态：{state_label}），请刷新后重试")
    raise IllegalTransitionError(f"任务当前状态为“{state_label}”，不能{action}")


def _update_order(order: WorkOrder, version, from_states, action: str, **fields) -> None:
    expected = order.version if version is None else int(version)
    updated = WorkOrder.objects.filter(
        pk=order.pk, version=expected, status__in=from_states
    ).update(version=F("version") + 1, updated_at=timezone.now(), **fields)
    if updated:
        order.refresh_from_db()
        return
    current = WorkOrder.objects.filter(pk=order.pk).values("version", "status").first()
    if current is None:
        raise WorkflowError("这个工单已不存在")
    status_label = WorkOrderStatus(current["status"]).label
    if current["version"] != expected:
        raise StaleTaskError(f"这个工单已被他人更新（当前状态：{status_label}），请刷新后重试")
    raise IllegalTransitionError(f"工单当前状态为“{status_label}”，不能{action}")


def _report_back(order: WorkOrder, now) -> None:
    """Append the closure to the task's feedback; not a task transition, so no version bump."""
    line = f"[{timezone.localtime(now):%Y-%m-%d %H:%M}] 工单 WO-{order.pk}（{order.department}）已关闭：{order.resolution}"
    task = ServiceTask.objects.select_for_update().get(pk=order.task_id)
    feedback = f"{task.feedback}\n{line}".strip()
    ServiceTask.objects.filter(pk=task.pk).update(feedback=feedback)


def _check_outcome(contact_result=None, recommendation=Recommendation.NONE, notes=""):
    _check_choice(contact_result, ContactResult, "接触结果")
    _check_choice(recommendation, Recommendation, "建议结果")


def _create_outcome(actor, task, *, contact_result, recommendation=Recommendation.NONE, notes=""):
    return Outcome.objects.create(
        task=task,
        contact_result=contact_result,
        recommendation=recommendation,
        notes=notes,
        recorded_by=_user_or_none(actor),
    )


def _check_choice(value, choices, what: str) -> None:
    if value not in choices.values:
        allowed = "、".join(f"{c.value}（{c.label}）" for c in choices)
        raise WorkflowError(f"{what}无效：{value!r}；可选：{allowed}")


def _user_or_none(actor):
    return actor if getattr(actor, "is_authenticated", False) else None
