"""The task workflow. Every function takes the acting user, runs in one transaction, writes an
audit event and uses optimistic locking (``keycare.core.workflow.versioned_update``).

Task states (seed slide 15/16)::

    unhandled --claim--> in_progress --complete--> handled_no_change --new detection--> handled_new_alert

处理后有新预警 (handled_new_alert) is a fact, not a manager's choice: loading a run that brings a
new detection for a customer whose earlier task was handled sets it (``flag_new_alerts``).

Outcomes, appointments and work orders are recorded while a task is in progress (appointments
and work orders also after it is handled, as follow-ups).

Calls: the task's own manager may show the customer's number to dial it (``dial_task``: a
reason, a daily limit, an audited reveal through ``keycare.access.unmask``); the outbound-call
system reports its calls (``record_call_result``: once per CTI call id, claiming the task if
nobody had).
"""

from __future__ import annotations

from datetime import datetime, time

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from keycare.access import roles
from keycare.access.masking import scrub_text
from keycare.access.querysets import user_scope
from keycare.access.unmask import reveal
from keycare.core.audit import record
from keycare.core.models import AuditEvent
from keycare.core.workflow import (
    IllegalTransitionError,
    StaleTaskError,
    WorkflowError,
    check_choice,
    user_or_none,
    versioned_update,
)
from keycare.moments.models import Tactic
from keycare.org.models import StaffProfile
from keycare.tasks.models import (
    Appointment,
    AppointmentKind,
    ContactResult,
    CtiCall,
    DialReason,
    Outcome,
    Recommendation,
    ServiceTask,
    TaskChannel,
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


# --- calls ------------------------------------------------------------------------------

DIAL_FIELDS = ("msisdn",)
DIAL_NOTE_MAX = 200
DEFAULT_DIAL_DAILY_LIMIT = 60


class DialLimitReached(WorkflowError):
    """The manager has shown as many numbers today as the daily limit allows."""


class CtiCallMismatch(WorkflowError):
    """A CTI call id reported again with different facts: the first report stands."""


def dial_daily_limit() -> int:
    return int(getattr(settings, "KEYCARE_DIAL_DAILY_LIMIT", DEFAULT_DIAL_DAILY_LIMIT))


def dials_today(actor) -> int:
    """How many numbers ``actor`` has shown since local midnight (their ``task.dial`` events)."""
    midnight = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    return AuditEvent.objects.filter(actor=actor, action="task.dial", at__gte=midnight).count()


def dial_refusal(actor, task: ServiceTask) -> str:
    """Why ``actor`` may not dial ``task`` ("" when they may): only the task's own manager, and
    only while the task is open or still has a follow-up (an appointment not yet done)."""
    role, manager_id = user_scope(actor)
    if role != roles.ROLE_MANAGER or manager_id is None or task.manager_id != manager_id:
        return "只有任务所属的客户经理可以拨号"
    if not task.is_open and not task.appointments.filter(done_at__isnull=True).exists():
        return "任务已处理完毕且没有待跟进的预约，不能拨号"
    return ""


def dial_task(
    actor,
    task: ServiceTask,
    *,
    reason: str,
    note: str = "",
    ip: str | None = None,
    channel: str = "web",
) -> str:
    """The customer's number in clear, to dial ``task`` now; audited as ``task.dial``.

    Refused (and audited as ``task.dial_denied``): someone other than the task's manager
    (``PermissionDenied``), a closed task without follow-up, or the daily limit reached
    (``KEYCARE_DIAL_DAILY_LIMIT`` per manager per day). The number is returned for one
    response only; nothing stores it.
    """
    if reason not in DialReason.values:
        # Not echoed: whatever was typed (a number, markup) stays out of the message.
        raise WorkflowError("拨号理由无效，请从列表中选择")
    note = _clean_note(note)
    refusal = dial_refusal(actor, task)
    if refusal:
        record(actor, "task.dial_denied", task, ip=ip, task=task.pk, why=refusal)
        if refusal.startswith("只有"):
            raise PermissionDenied(refusal)
        raise IllegalTransitionError(refusal)
    limit = dial_daily_limit()
    with transaction.atomic():
        # One manager's dials queue here, so two at once cannot both take the last one.
        StaffProfile.objects.select_for_update().filter(user=actor).first()
        if dials_today(actor) < limit:
            clear = reveal(
                actor,
                "task.dial",
                task.customer,
                DIAL_FIELDS,
                obj=task,
                reason=reason,
                ip=ip,
                channel=channel,
                task=task.pk,
                note=scrub_text(note),
            )
            return clear["msisdn"]
    record(actor, "task.dial_denied", task, ip=ip, task=task.pk, why="daily_limit", limit=limit)
    raise DialLimitReached(f"今日拨号次数已达上限（{limit} 次），如需继续请联系管理员")


def _clean_note(note) -> str:
    text = "".join(ch for ch in str(note or "") if ch.isprintable()).strip()
    if len(text) > DIAL_NOTE_MAX:
        raise WorkflowError(f"补充说明过长（最多 {DIAL_NOTE_MAX} 个字，当前 {len(text)} 个字）")
    return text


def record_call_result(
    actor,
    task: ServiceTask,
    *,
    cti_call_id: str,
    started_at,
    ended_at,
    result: str,
    recording_ref: str = "",
) -> tuple[CtiCall, bool]:
    """Record what the outbound-call system reports for one call: (the call, created).

    The first report of a ``cti_call_id`` claims the task if it was unhandled and records one
    outcome; a repeat returns that first call and records nothing (``CtiCallMismatch`` when
    its facts differ). A handled task takes no outcome (``IllegalTransitionError``).
    """
    check_choice(result, ContactResult, "接触结果")
    if ended_at < started_at:
        raise WorkflowError("结束时间不能早于开始时间")
    facts = {
        "task_id": task.pk,
        "started_at": started_at,
        "ended_at": ended_at,
        "result": result,
        "recording_ref": recording_ref,
    }
    try:
        with transaction.atomic():
            existing = CtiCall.objects.filter(cti_call_id=cti_call_id).first()
            if existing is not None:
                return _same_call(existing, facts), False
            return _new_call(actor, task, cti_call_id, facts), True
    except IntegrityError:
        # The same call reported twice at once: the other report won; answer with it.
        existing = CtiCall.objects.filter(cti_call_id=cti_call_id).first()
        if existing is None:
            raise
        return _same_call(existing, facts), False


def _same_call(call: CtiCall, facts: dict) -> CtiCall:
    differing = sorted(name for name, value in facts.items() if getattr(call, name) != value)
    if differing:
        raise CtiCallMismatch(
            f"外呼流水号 {call.cti_call_id} 已记录过不同的结果（不同字段：{'、'.join(differing)}）"
        )
    return call


def _new_call(actor, task, cti_call_id, facts) -> CtiCall:
    claimed = task.state == TaskState.UNHANDLED
    if claimed:
        transition(
            task,
            None,
            from_states=(TaskState.UNHANDLED,),
            action="领取",
            state=TaskState.IN_PROGRESS,
            claimed_by=user_or_none(actor),
            claimed_at=timezone.now(),
        )
        record(actor, "task.claim", task, to_state=TaskState.IN_PROGRESS, via="cti")
    transition(task, None, from_states=(TaskState.IN_PROGRESS,), action="记录结果")
    seconds = int((facts["ended_at"] - facts["started_at"]).total_seconds())
    outcome = _create_outcome(
        actor,
        task,
        contact_result=facts["result"],
        notes=f"外呼系统通话 {cti_call_id}，时长 {seconds} 秒",
    )
    call = CtiCall.objects.create(
        cti_call_id=cti_call_id,
        outcome=outcome,
        claimed=claimed,
        recorded_by=user_or_none(actor),
        **facts,
    )
    record(
        actor,
        "task.outcome",
        task,
        contact_result=facts["result"],
        recommendation=Recommendation.NONE,
        via="cti",
        cti_call_id=cti_call_id,
        recording_ref=facts["recording_ref"],
    )
    return call


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


def record_sms_results(delivered, failed, at=None) -> int:
    """System action for the SMS outbox's final receipts (``keycare.messaging``): an SMS task
    whose message was delivered is handled (处理后无变化, handled at the receipt's time); one
    whose message failed keeps its state, so it stays open for an administrator to resend or
    serve otherwise. One audit event per batch lists the tasks. The delivery itself is the
    outcome (shown from the message on the task): no ``Outcome`` row is written, because
    outcomes are the managers' contacts and their reach rate and tactic comparison count them.
    Returns the number of tasks handled."""
    delivered, failed = sorted(set(delivered)), sorted(set(failed))
    if not delivered and not failed:
        return 0
    now = timezone.now()
    with transaction.atomic():
        open_tasks = ServiceTask.objects.filter(
            pk__in=delivered,
            channel=TaskChannel.SMS,
            state__in=(TaskState.UNHANDLED, TaskState.IN_PROGRESS),
        )
        handled = sorted(open_tasks.values_list("pk", flat=True))
        ServiceTask.objects.filter(
            pk__in=handled, state__in=(TaskState.UNHANDLED, TaskState.IN_PROGRESS)
        ).update(
            state=TaskState.HANDLED_NO_CHANGE,
            handled_at=at or now,
            version=F("version") + 1,
            updated_at=now,
        )
        if handled:
            record(None, "task.sms_delivered", object_type="tasks.servicetask", tasks=handled)
        if failed:
            record(None, "task.sms_failed", object_type="tasks.servicetask", tasks=failed)
    return len(handled)


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


# --- allocation settings (派送设置) --------------------------------------------------------


class StaleSettingsError(WorkflowError):
    """Someone saved newer settings after the editor loaded theirs (optimistic locking)."""


def save_allocation_settings(
    actor, values: dict, *, note: str = "", expected_version: int, restored_from=None
):
    """Make ``values`` the live allocation settings as a new version (None: nothing changed).

    ``expected_version`` is the version the editor loaded (0: the defaults); if another one
    was saved since, nothing is saved and ``StaleSettingsError`` says so.
    """
    from keycare.tasks import allocation_settings as spec
    from keycare.tasks.models import AllocationSettingsVersion

    spec.config_of(values)  # the engine's own checks: never store settings a run would refuse
    with transaction.atomic():
        live = AllocationSettingsVersion.objects.select_for_update().order_by("-number").first()
        number = live.number if live else 0
        if number != expected_version:
            raise StaleSettingsError(
                _("派送设置已被他人修改为版本 %(n)d，请刷新页面后重新修改") % {"n": number}
            )
        current = {**spec.default_values(), **(live.values if live else {})}
        new = {**current, **{k: v for k, v in values.items() if k in current}}
        changes = spec.changes_between(current, new)
        if not changes:
            return None
        version = AllocationSettingsVersion.objects.create(
            number=number + 1,
            values=new,
            changes=changes,
            note=scrub_text(note or "")[:200],
            restored_from=restored_from,
            changed_by=user_or_none(actor),
        )
        record(
            actor,
            "allocation.settings.restore" if restored_from else "allocation.settings.save",
            version,
            number=version.number,
            changes=changes,
            restored_from=restored_from,
        )
    return version


def restore_allocation_settings(actor, version, *, expected_version: int):
    """Make an old version's settings live again, as a new version."""
    return save_allocation_settings(
        actor,
        version.values,
        note=_("恢复版本 %(n)d") % {"n": version.number},
        expected_version=expected_version,
        restored_from=version.number,
    )
