"""The task workflow. Every function takes the acting user, runs in one transaction, writes an
audit event and uses optimistic locking (``keycare.core.workflow.versioned_update``).

Task states (seed slide 15/16)::

    unhandled --claim--> in_progress --complete--> handled_no_change --new detection--> handled_new_alert

处理后有新预警 (handled_new_alert) is a fact, not a manager's choice: loading a run that brings a
new detection for a customer whose earlier task was handled sets it (``flag_new_alerts``).

Outcomes, appointments and work orders are recorded while a task is in progress (appointments
and work orders also after it is handled, as follow-ups).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from keycare.core.audit import record
from keycare.core.workflow import (
    StaleTaskError,
    WorkflowError,
    check_choice,
    user_or_none,
    versioned_update,
)
from keycare.moments.models import Tactic
from keycare.tasks.models import (
    Appointment,
    AppointmentKind,
    ContactResult,
    Outcome,
    Recommendation,
    ServiceTask,
    TaskState,
)

HANDLED_STATES = (TaskState.HANDLED_NO_CHANGE, TaskState.HANDLED_NEW_ALERT)
FOLLOW_UP_STATES = (TaskState.IN_PROGRESS, *HANDLED_STATES)


def claim_task(actor, task: ServiceTask, *, version: int | None = None) -> ServiceTask:
    """unhandled -> in_progress: the manager starts working the task."""
    now = timezone.now()
    with transaction.atomic():
        transition(
            task,
            version,
            from_states=(TaskState.UNHANDLED,),
            action="领取",
            state=TaskState.IN_PROGRESS,
            claimed_by=user_or_none(actor),
            claimed_at=now,
        )
        record(actor, "task.claim", task, to_state=TaskState.IN_PROGRESS)
    return task


def complete_task(
    actor,
    task: ServiceTask,
    *,
    version: int | None = None,
    outcome: dict | None = None,
) -> ServiceTask:
    """in_progress -> handled_no_change.

    ``outcome`` (contact_result, recommendation, notes, tactic) is recorded in the same
    transaction.
    """
    to_state = TaskState.HANDLED_NO_CHANGE
    if outcome:
        check_outcome(**outcome)
    with transaction.atomic():
        transition(
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
    tactic: str | None = None,
    version: int | None = None,
) -> Outcome:
    """Record a contact attempt on a task in progress.

    ``tactic``: the code of the retention tactic used (an active ``moments.Tactic``), or None.
    """
    check_outcome(contact_result, recommendation, tactic=tactic)
    with transaction.atomic():
        transition(task, version, from_states=(TaskState.IN_PROGRESS,), action="记录结果")
        outcome = _create_outcome(
            actor,
            task,
            contact_result=contact_result,
            recommendation=recommendation,
            notes=notes,
            tactic=tactic,
        )
        record(
            actor,
            "task.outcome",
            task,
            contact_result=contact_result,
            recommendation=recommendation,
            tactic=outcome.tactic.code if outcome.tactic_id else None,
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
    check_choice(kind, AppointmentKind, "预约类型")
    if due_at is None:
        raise WorkflowError("请填写预约时间")
    with transaction.atomic():
        transition(task, version, from_states=FOLLOW_UP_STATES, action="预约")
        appointment = Appointment.objects.create(
            task=task,
            customer_id=task.customer_id,
            manager_id=task.manager_id,
            kind=kind,
            due_at=due_at,
            notes=notes,
            created_by=user_or_none(actor),
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


def flag_new_alerts(actor, business_date, moments_by_customer: dict[int, list[str]], *, run=None):
    """handled_no_change -> handled_new_alert for the earlier tasks of customers detected again.

    ``moments_by_customer`` maps customer ids to the moment codes detected on
    ``business_date``; every task of theirs dated before it and handled without change gets the
    new state, a version bump and an audit event (``actor`` None: a system action of the load).
    Returns the number of tasks changed; loading the same run again changes nothing.
    """
    with transaction.atomic():
        tasks = list(
            ServiceTask.objects.filter(
                customer_id__in=list(moments_by_customer),
                business_date__lt=business_date,
                state=TaskState.HANDLED_NO_CHANGE,
            )
            .select_for_update()
            .only("id", "customer_id", "business_date", "version")
        )
        if not tasks:
            return 0
        now = timezone.now()
        for task in tasks:
            task.state = TaskState.HANDLED_NEW_ALERT
            task.version += 1
            task.updated_at = now
        ServiceTask.objects.bulk_update(tasks, ["state", "version", "updated_at"], batch_size=1000)
        for task in tasks:
            record(
                actor,
                "task.new_alert",
                task,
                to_state=TaskState.HANDLED_NEW_ALERT,
                business_date=business_date.isoformat(),
                run=getattr(run, "run_id", None),
                moments=sorted(moments_by_customer[task.customer_id]),
            )
    return len(tasks)


def transition(task: ServiceTask, version, *, from_states, action: str, **fields) -> None:
    """Apply ``fields`` to the task if it is still at ``version`` and in ``from_states``."""
    versioned_update(
        task,
        version,
        state_field="state",
        from_states=from_states,
        action=action,
        noun="任务",
        **fields,
    )


def check_outcome(contact_result=None, recommendation=Recommendation.NONE, notes="", tactic=None):
    check_choice(contact_result, ContactResult, "接触结果")
    check_choice(recommendation, Recommendation, "建议结果")
    resolve_tactic(tactic)


def resolve_tactic(code) -> Tactic | None:
    """The active tactic ``code`` names (None for no tactic); anything else is refused."""
    if code is None or code == "":
        return None
    tactic = Tactic.objects.filter(code=str(code)[:8], active=True).first()
    if tactic is None:
        raise WorkflowError(f"保有战术无效：{str(code)[:20]!r}；请从推荐或战术库中选择启用的战术")
    return tactic


def _create_outcome(
    actor, task, *, contact_result, recommendation=Recommendation.NONE, notes="", tactic=None
):
    return Outcome.objects.create(
        task=task,
        contact_result=contact_result,
        recommendation=recommendation,
        notes=notes,
        tactic=resolve_tactic(tactic),
        recorded_by=user_or_none(actor),
    )
