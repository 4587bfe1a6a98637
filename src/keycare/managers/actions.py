"""Writes about staff: the demo users, one per role, with their data scope; the manager
archive (profile, qualifications, status) and the hand-over of a whole portfolio.

Every write takes the acting user, runs in one transaction and writes an audit event.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from keycare.access import roles
from keycare.campaigns.models import CampaignTask
from keycare.core import audit
from keycare.customers.models import Archive, Assignment, Customer
from keycare.errors import UserError
from keycare.keyaccounts.models import KeyAccount
from keycare.managers import assessment, plans
from keycare.managers.models import (
    Assessment,
    AssessmentPeriod,
    AssignedTask,
    AssignmentStatus,
    HandOver,
    ManagerProfile,
    ManagerStatus,
    PeriodStatus,
    PlanItem,
    PlanSource,
    PlanStatus,
    Qualification,
    TaskAssignment,
    WorkKind,
    WorkPlan,
    WorkRecord,
)
from keycare.org.models import City, Manager, StaffProfile
from keycare.tasks.models import Appointment, ServiceTask, TaskState

DEMO_CITY = "南京"
CTI_CLEAR_CODENAME = "cti_clear_numbers"  # access.cti_clear_numbers (keycare.access.models)


@dataclass
class DemoLogin:
    username: str
    role: str
    scope: str
    password: str


def create_demo_users() -> list[DemoLogin]:
    """Create or reset one user per role with a fresh random password. Idempotent.

    Needs the organisation and managers loaded (``keycare load``): the city administrator
    is scoped to 南京 (or the first city) and the account manager is linked to the manager
    with the largest active portfolio.
    """
    city = _demo_city()
    manager = _demo_manager()
    plan = [
        (roles.ROLE_PROVINCE_ADMIN, None, None, "全省 province"),
        (roles.ROLE_CITY_ADMIN, city, None, f"{city.name} ({city.code})"),
        (roles.ROLE_MANAGER, None, manager, f"{manager.name} ({manager.manager_id})"),
        (roles.ROLE_ANALYST, None, None, "全省，脱敏 province, masked"),
        (roles.ROLE_AUDITOR, None, None, "审计日志 audit log only"),
        (roles.ROLE_CTI, None, None, "外呼系统 CTI feed (API), numbers in clear"),
    ]
    with transaction.atomic():
        groups = roles.ensure_groups()
        logins = [_demo_user(groups[r], r, c, m, scope) for r, c, m, scope in plan]
        # The demo outbound-call system receives its call list with the numbers in clear.
        cti = get_user_model().objects.get(username=f"demo_{roles.ROLE_CTI}")
        cti.user_permissions.add(
            Permission.objects.get(content_type__app_label="access", codename=CTI_CLEAR_CODENAME)
        )
        audit.record(None, "demo_users", usernames=[login.username for login in logins])
    return logins


def _demo_city() -> City:
    city = City.objects.filter(name__contains=DEMO_CITY).first() or City.objects.first()
    if city is None:
        raise UserError("no city in the database: load a delivery first (keycare load DIR)")
    return city


def _demo_manager() -> Manager:
    manager = (
        Manager.objects.annotate(
            portfolio=Count("customers", filter=Q(customers__archive=Archive.ACTIVE))
        )
        .order_by("-active", "-portfolio", "manager_id")
        .first()
    )
    if manager is None:
        raise UserError(
            "no account manager in the database: load a delivery first (keycare load DIR)"
        )
    return manager


def _demo_user(group, role, city, manager, scope) -> DemoLogin:
    username = f"demo_{role}"
    user, _created = get_user_model().objects.get_or_create(username=username)
    password = secrets.token_urlsafe(12)
    user.set_password(password)
    user.is_active = True
    user.save()
    user.groups.set([group])
    StaffProfile.objects.update_or_create(
        user=user, defaults={"role": role, "city": city, "manager": manager}
    )
    if manager is not None and manager.user_id != user.pk:
        Manager.objects.filter(user=user).update(user=None)
        manager.user = user
        manager.save(update_fields=["user"])
    return DemoLogin(username, role, scope, password)


# --- The manager archive (§7.1) ---------------------------------------------------------

PROFILE_FIELDS = ("title", "team", "hire_date", "education", "notes")
CAPACITY_FIELDS = ("visit_capacity", "key_account_capacity")
MAX_CAPACITY = 1000
OPEN_TASK_STATES = (TaskState.UNHANDLED, TaskState.IN_PROGRESS)


def profile_of(manager: Manager) -> ManagerProfile:
    """The manager's archive; an unsaved default one when nobody has filled it in yet."""
    try:
        return manager.profile
    except ManagerProfile.DoesNotExist:
        return ManagerProfile(manager=manager)


def update_profile(actor, manager: Manager, *, daily_capacity: int, **fields) -> ManagerProfile:
    """Save the archive's profile and capacities (calls a day on the manager row itself)."""
    unknown = set(fields) - set(PROFILE_FIELDS) - set(CAPACITY_FIELDS)
    if unknown:
        raise UserError(f"未知的档案字段：{', '.join(sorted(unknown))}")
    for name, value in {"daily_capacity": daily_capacity, **fields}.items():
        if name in CAPACITY_FIELDS + ("daily_capacity",) and not 0 <= int(value) <= MAX_CAPACITY:
            raise UserError(f"容量须在 0 至 {MAX_CAPACITY} 之间")
    with transaction.atomic():
        profile = profile_of(manager)
        before = {name: str(getattr(profile, name)) for name in fields}
        before["daily_capacity"] = str(manager.daily_capacity)
        for name, value in fields.items():
            setattr(profile, name, value)
        profile.save()
        Manager.objects.filter(pk=manager.pk).update(daily_capacity=daily_capacity)
        manager.daily_capacity = daily_capacity
        after = {name: str(value) for name, value in fields.items()}
        after["daily_capacity"] = str(daily_capacity)
        changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
        audit.record(actor, "manager.profile", manager, changes=changes)
    return profile


def add_qualification(actor, manager: Manager, **fields) -> Qualification:
    name = (fields.get("name") or "").strip()
    if not name:
        raise UserError("请填写资格认证的名称")
    if fields.get("expires_on") and fields["expires_on"] < fields["obtained_on"]:
        raise UserError("有效期不能早于取得日期")
    with transaction.atomic():
        qualification = Qualification.objects.create(manager=manager, **{**fields, "name": name})
        audit.record(
            actor, "manager.qualification_add", manager, kind=qualification.kind, name=name
        )
    return qualification


def remove_qualification(actor, qualification: Qualification) -> None:
    with transaction.atomic():
        manager = qualification.manager
        audit.record(actor, "manager.qualification_remove", manager, name=qualification.name)
        qualification.delete()


def portfolio_counts(manager: Manager) -> dict[str, int]:
    """What a manager still holds: customers, key accounts, open tasks and appointments."""
    return {
        "customers": Customer.objects.filter(manager=manager).count(),
        "key_accounts": KeyAccount.objects.filter(manager=manager).count(),
        "tasks": ServiceTask.objects.filter(manager=manager, state__in=OPEN_TASK_STATES).count(),
        "appointments": Appointment.objects.filter(manager=manager, done_at__isnull=True).count(),
    }


def set_status(actor, manager: Manager, status: str, *, reason: str = "") -> ManagerProfile:
    """在岗 / 休假 / 离岗. A manager leaves only with an empty portfolio (hand it over first);
    only a manager in post takes new work (``Manager.active``, which the allocation reads)."""
    if status not in ManagerStatus.values:
        raise UserError(f"未知的状态：{status}")
    with transaction.atomic():
        profile = profile_of(manager)
        if profile.status == status:
            raise UserError("经理已是该状态")
        held = portfolio_counts(manager)
        if status == ManagerStatus.LEFT and any(held.values()):
            raise UserError(
                "离岗前须先移交全部客户组合（客户 {customers}、集团客户 {key_accounts}、"
                "未完成任务 {tasks}、未完成预约 {appointments}）".format(**held)
            )
        old = profile.status
        profile.status, profile.status_since = status, timezone.localdate()
        profile.save()
        Manager.objects.filter(pk=manager.pk).update(active=status == ManagerStatus.ACTIVE)
        manager.active = status == ManagerStatus.ACTIVE
        audit.record(
            actor, "manager.status", manager, changes={"status": [old, status]}, reason=reason
        )
    return profile


def hand_over(actor, manager: Manager, targets: list[Manager], *, reason: str) -> HandOver:
    """Move the manager's whole portfolio to ``targets`` (组合移交): key accounts in turn,
    each member customer with their key account, the other customers in turn; the current
    assignments end today and new ones start; open tasks, appointments and campaign tasks
    follow their customer. Afterwards the manager holds nothing (checked, else rolled back)."""
    reason = (reason or "").strip()
    targets = _hand_over_targets(manager, targets, reason)
    with transaction.atomic():
        locked = Manager.objects.select_for_update().get(pk=manager.pk)
        key_target = _deal_key_accounts(locked, targets)
        customer_target = _deal_customers(locked, targets, key_target)
        moved = {t.manager_id: _empty_move() for t in targets}
        by_id = {t.pk: t for t in targets}
        for target_pk, customer_ids in _grouped(customer_target).items():
            moved[by_id[target_pk].manager_id].update(
                _move_customers(locked, by_id[target_pk], customer_ids)
            )
        for target_pk, account_ids in _grouped(key_target).items():
            KeyAccount.objects.filter(pk__in=account_ids).update(manager_id=target_pk)
            moved[by_id[target_pk].manager_id]["key_accounts"] = len(account_ids)
        _sweep_open_work(locked, targets[0], moved[targets[0].manager_id])
        left = portfolio_counts(locked)
        if any(left.values()):
            raise UserError(f"移交未完成，仍有遗留：{left}")
        record = HandOver.objects.create(
            manager=locked,
            reason=reason,
            moved=moved,
            customers=len(customer_target),
            key_accounts=len(key_target),
            by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit.record(actor, "manager.hand_over", locked, reason=reason, moved=moved)
    return record


def _sweep_open_work(manager, target, counts) -> None:
    """Open work left on customers no longer in the portfolio goes to the first target."""
    counts["tasks"] += ServiceTask.objects.filter(
        manager=manager, state__in=OPEN_TASK_STATES
    ).update(manager=target)
    counts["appointments"] += Appointment.objects.filter(
        manager=manager, done_at__isnull=True
    ).update(manager=target)


def _hand_over_targets(manager, targets, reason) -> list[Manager]:
    if not reason:
        raise UserError("请填写移交原因")
    unique = list({t.pk: t for t in targets}.values())
    if not unique:
        raise UserError("请选择至少一位接收经理")
    if any(t.pk == manager.pk for t in unique):
        raise UserError("接收经理不能是移交人本人")
    inactive = [t.manager_id for t in unique if not t.active]
    if inactive:
        raise UserError(f"接收经理不在岗：{', '.join(inactive)}")
    return sorted(unique, key=lambda t: t.manager_id)


def _deal_key_accounts(manager, targets) -> dict[int, int]:
    ids = KeyAccount.objects.filter(manager=manager).order_by("pk").values_list("pk", flat=True)
    return {pk: targets[i % len(targets)].pk for i, pk in enumerate(ids)}


def _deal_customers(manager, targets, key_target) -> dict[int, int]:
    """customer pk -> target pk: with their key account's new manager, else in turn."""
    dealt, turn = {}, 0
    rows = (
        Customer.objects.filter(manager=manager).order_by("pk").values_list("pk", "key_account_id")
    )
    for pk, key_account_id in rows:
        if key_account_id in key_target:
            dealt[pk] = key_target[key_account_id]
        else:
            dealt[pk] = targets[turn % len(targets)].pk
            turn += 1
    return dealt


def _grouped(mapping: dict[int, int]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for key, target in mapping.items():
        groups.setdefault(target, []).append(key)
    return groups


def _empty_move() -> dict[str, int]:
    return {"customers": 0, "key_accounts": 0, "tasks": 0, "appointments": 0, "campaign_tasks": 0}


def _move_customers(manager, target, customer_ids) -> dict[str, int]:
    today = timezone.localdate()
    Assignment.objects.filter(customer_id__in=customer_ids, end_date__isnull=True).update(
        end_date=today
    )
    Assignment.objects.bulk_create(
        Assignment(customer_id=pk, manager=target, start_date=today) for pk in customer_ids
    )
    return {
        "customers": Customer.objects.filter(pk__in=customer_ids).update(manager=target),
        "tasks": ServiceTask.objects.filter(
            manager=manager, customer_id__in=customer_ids, state__in=OPEN_TASK_STATES
        ).update(manager=target),
        "appointments": Appointment.objects.filter(
            manager=manager, customer_id__in=customer_ids, done_at__isnull=True
        ).update(manager=target),
        "campaign_tasks": CampaignTask.objects.filter(
            manager=manager, customer_id__in=customer_ids, done_at__isnull=True
        ).update(manager=target),
    }


# --- Assigned tasks (任务下达 / 过程控制 / 执行评价, §7.3) ---------------------------------

TITLE_MAX = 200
TEXT_MAX = 4000
RATINGS = range(1, 6)


def assign_task(
    actor, *, title: str, description: str, deadline, managers, team: str = "", city_id=None
) -> AssignedTask:
    """Give a task to ``managers`` (the caller resolves a team to its managers in scope)."""
    title, description = (title or "").strip(), (description or "").strip()
    if not title or len(title) > TITLE_MAX:
        raise UserError(f"请填写任务名称（最长 {TITLE_MAX} 个字符）")
    if deadline is None or deadline <= timezone.now():
        raise UserError("完成时限须晚于现在")
    managers = list({m.pk: m for m in managers}.values())
    if not managers:
        raise UserError("请选择至少一位经理或一个班组")
    gone = [m.manager_id for m in managers if profile_of(m).status == ManagerStatus.LEFT]
    if gone:
        raise UserError(f"经理已离岗，不能接收任务：{', '.join(gone)}")
    with transaction.atomic():
        task = AssignedTask.objects.create(
            title=title,
            description=description[:TEXT_MAX],
            team=team,
            deadline=deadline,
            city_id=city_id,
            created_by=actor,
        )
        TaskAssignment.objects.bulk_create(
            TaskAssignment(task=task, manager=m, city_id=m.city_id) for m in managers
        )
        audit.record(
            actor,
            "assigned_task.create",
            task,
            managers=[m.manager_id for m in managers],
            team=team,
            deadline=deadline.isoformat(),
        )
    return task


def report_progress(
    actor, assignment: TaskAssignment, *, progress: int, note: str
) -> TaskAssignment:
    """The manager's progress (过程控制); 100 % completes their share."""
    if not 0 <= progress <= 100:
        raise UserError("进度须在 0 至 100 之间")
    if assignment.status == AssignmentStatus.DONE:
        raise UserError("任务已完成，不能再修改进度")
    with transaction.atomic():
        assignment.progress = progress
        assignment.progress_note = (note or "").strip()[:TEXT_MAX]
        assignment.status = (
            AssignmentStatus.IN_PROGRESS if progress < 100 else AssignmentStatus.DONE
        )
        assignment.completed_at = timezone.now() if progress == 100 else None
        assignment.save()
        audit.record(
            actor, "assigned_task.progress", assignment, progress=progress, status=assignment.status
        )
    return assignment


def evaluate_assignment(actor, assignment: TaskAssignment, *, rating: int, comment: str):
    """The assigner's evaluation (执行评价): of a completed share, or of one past its deadline."""
    if rating not in RATINGS:
        raise UserError("评价须为 1 至 5 分")
    overdue = assignment.task.deadline < timezone.now()
    if assignment.status != AssignmentStatus.DONE and not overdue:
        raise UserError("任务完成或超过时限后才能评价")
    with transaction.atomic():
        assignment.rating = rating
        assignment.evaluation = (comment or "").strip()[:TEXT_MAX]
        assignment.evaluated_by = actor
        assignment.evaluated_at = timezone.now()
        assignment.save()
        audit.record(actor, "assigned_task.evaluate", assignment, rating=rating)
    return assignment


# --- Daily work: visits and call notes (§7.2.2) -------------------------------------------

# A record is of work done: at most this far ahead of now (clock drift, a visit starting).
FUTURE_SLACK = timedelta(hours=1)
PLACE_MAX = 200


def record_work(actor, manager: Manager, *, kind: str, at, content: str, links=None, **text):
    """Record a visit or call note of ``manager``. ``links`` may name ``key_account``,
    ``key_persons`` (KeyPerson), ``persons`` (customers), ``task`` and ``assignment``: each
    must be the manager's own. The customers met also include the task's customer and key
    persons who are subscribers. ``text`` holds place, result, next_step and next_date."""
    links = links or {}
    _check_work(manager, kind, at, content, links, text)
    key_persons = list(links.get("key_persons") or [])
    account = links.get("key_account")
    if account is None and len({p.key_account_id for p in key_persons}) == 1:
        account = key_persons[0].key_account
    met = {c.pk for c in links.get("persons") or []}
    met |= {p.customer_id for p in key_persons if p.customer_id}
    if links.get("task") is not None:
        met.add(links["task"].customer_id)
    with transaction.atomic():
        record = WorkRecord.objects.create(
            manager=manager,
            city_id=manager.city_id,
            kind=kind,
            at=at,
            content=content.strip()[:TEXT_MAX],
            place=(text.get("place") or "").strip()[:PLACE_MAX],
            result=(text.get("result") or "").strip()[:TEXT_MAX],
            next_step=(text.get("next_step") or "").strip()[:TEXT_MAX],
            next_date=text.get("next_date"),
            key_account=account,
            task=links.get("task"),
            assignment=links.get("assignment"),
            recorded_by=actor,
        )
        record.key_persons.set(key_persons)
        record.persons.set(met)
        audit.record(
            actor,
            "work.record",
            record,
            kind=kind,
            key_account=record.key_account_id,
            persons=len(key_persons) + len(met),
        )
    return record


def _check_work(manager, kind, at, content, links, text) -> None:
    if kind not in WorkKind.values:
        raise UserError("请选择记录类型（走访或电话沟通）")
    if at is None or at > timezone.now() + FUTURE_SLACK:
        raise UserError("请填写已发生的时间（不能晚于现在）")
    if not (content or "").strip():
        raise UserError("请填写沟通内容")
    if text.get("next_date") and text["next_date"] < timezone.localtime(at).date():
        raise UserError("下一步日期不能早于本次时间")
    account = links.get("key_account")
    if account is not None and account.manager_id != manager.pk:
        raise UserError("只能记录自己负责的集团客户")
    if links.get("task") is not None and links["task"].manager_id != manager.pk:
        raise UserError("只能关联自己的预警任务")
    if links.get("assignment") is not None and links["assignment"].manager_id != manager.pk:
        raise UserError("只能关联下达给自己的任务")
    own_accounts = set(KeyAccount.objects.filter(manager=manager).values_list("pk", flat=True))
    if any(p.key_account_id not in own_accounts for p in links.get("key_persons") or []):
        raise UserError("关键人须属于自己负责的集团客户")
    persons = links.get("persons") or []
    own = set(
        Customer.objects.filter(manager=manager, pk__in=[p.pk for p in persons]).values_list(
            "pk", flat=True
        )
    )
    if any(p.pk not in own for p in persons):
        raise UserError("对象须是自己负责的客户")


# --- Work plans (§7.2.1) ------------------------------------------------------------------

EDITABLE = (PlanStatus.DRAFT, PlanStatus.RETURNED)


def generate_plan(actor, manager: Manager, *, period: str, day) -> WorkPlan:
    """The manager's plan for the month or week holding ``day``: visits due by the tier
    service standards and calls for the due appointments. Run again on a draft or returned
    plan, it adds what is newly due and keeps the manager's own edits."""
    start, end = plans.period_bounds(period, day)
    with transaction.atomic():
        plan, created = WorkPlan.objects.select_for_update().get_or_create(
            manager=manager,
            period=period,
            start=start,
            defaults={"end": end, "city_id": manager.city_id},
        )
        if plan.status not in EDITABLE:
            raise UserError("计划已提交或已批准，不能重新生成")
        have_accounts = set(
            plan.items.filter(source=PlanSource.STANDARD).values_list("key_account_id", "due_date")
        )
        have_appointments = set(
            plan.items.exclude(appointment=None).values_list("appointment_id", flat=True)
        )
        items = [
            PlanItem(
                plan=plan,
                kind=WorkKind.VISIT,
                due_date=due,
                source=PlanSource.STANDARD,
                key_account_id=pk,
            )
            for pk, due in plans.standard_visits(manager, start, end)
            if (pk, due) not in have_accounts
        ]
        items += [
            PlanItem(
                plan=plan,
                kind=WorkKind.CALL,
                source=PlanSource.APPOINTMENT,
                due_date=max(start, timezone.localtime(a.due_at).date()),
                customer_id=a.customer_id,
                appointment=a,
            )
            for a in plans.due_appointments(manager, end)
            if a.pk not in have_appointments
        ]
        PlanItem.objects.bulk_create(items)
        audit.record(actor, "plan.generate", plan, created=created, items=len(items))
    return plan


def add_plan_item(
    actor, plan: WorkPlan, *, kind: str, due_date, key_account=None, customer=None, note: str = ""
) -> PlanItem:
    _editable(plan)
    if kind not in WorkKind.values:
        raise UserError("请选择计划类型（走访或电话沟通）")
    if due_date is None or not plan.start <= due_date <= plan.end:
        raise UserError(f"计划日期须在 {plan.start} 至 {plan.end} 之间")
    if key_account is None and customer is None:
        raise UserError("请选择集团客户或客户")
    if key_account is not None and key_account.manager_id != plan.manager_id:
        raise UserError("只能计划自己负责的集团客户")
    if customer is not None and customer.manager_id != plan.manager_id:
        raise UserError("只能计划自己负责的客户")
    with transaction.atomic():
        item = PlanItem.objects.create(
            plan=plan,
            kind=kind,
            due_date=due_date,
            source=PlanSource.MANUAL,
            key_account=key_account,
            customer=customer,
            note=(note or "").strip()[:200],
        )
        audit.record(actor, "plan.item_add", plan, item=item.pk, kind=kind)
    return item


def remove_plan_item(actor, item: PlanItem) -> None:
    _editable(item.plan)
    with transaction.atomic():
        audit.record(actor, "plan.item_remove", item.plan, item=item.pk, kind=item.kind)
        item.delete()


def submit_plan(actor, plan: WorkPlan, *, note: str = "") -> WorkPlan:
    _editable(plan)
    if not plan.items.exists():
        raise UserError("计划没有任何事项，不能提交")
    with transaction.atomic():
        plan.status, plan.submitted_at = PlanStatus.SUBMITTED, timezone.now()
        plan.note = (note or plan.note).strip()[:TEXT_MAX]
        plan.save()
        audit.record(actor, "plan.submit", plan)
    return plan


def review_plan(actor, plan: WorkPlan, *, approve: bool, comment: str = "") -> WorkPlan:
    """The administrator approves a submitted plan, or returns it with a comment."""
    comment = (comment or "").strip()
    if plan.status != PlanStatus.SUBMITTED:
        raise UserError("只能审批待审批的计划")
    if not approve and not comment:
        raise UserError("退回计划须填写审批意见")
    with transaction.atomic():
        plan.status = PlanStatus.APPROVED if approve else PlanStatus.RETURNED
        plan.reviewed_by, plan.reviewed_at = actor, timezone.now()
        plan.review_comment = comment[:TEXT_MAX]
        plan.save()
        audit.record(actor, "plan.approve" if approve else "plan.return", plan, comment=comment)
    return plan


def _editable(plan: WorkPlan) -> None:
    if plan.status not in EDITABLE:
        raise UserError("计划已提交或已批准，不能修改")


# --- KPI assessment (§7.4) ----------------------------------------------------------------

MAX_ADJUSTMENT = 20.0
NEXT_STATUS = {
    PeriodStatus.COMPUTED: PeriodStatus.REVIEWED,
    PeriodStatus.REVIEWED: PeriodStatus.APPROVED,
    PeriodStatus.APPROVED: PeriodStatus.LOCKED,
}
RECOMPUTABLE = (PeriodStatus.COMPUTED, PeriodStatus.REVIEWED)


def compute_period(actor, *, name: str, start, end, progress=None) -> AssessmentPeriod:
    """Compute (or recompute, until approved) every manager's assessment of the period;
    adjustments already recorded are kept. ``progress(text)`` reports each formula."""
    if end < start:
        raise UserError("考核期结束日期早于开始日期")
    assessment.ensure_default_indicators()
    by_role = assessment.indicators_by_role()
    codes = {i.code for rows in by_role.values() for i in rows}
    results = {}
    for code in sorted(codes):
        if code not in assessment.FORMULAS:
            raise UserError(f"指标 {code} 没有对应的计算公式")
        if progress:
            progress(f"计算指标 {code} ...")
        results[code] = assessment.FORMULAS[code](start, end)
    with transaction.atomic():
        period, _created = AssessmentPeriod.objects.select_for_update().get_or_create(
            name=name, defaults={"start": start, "end": end}
        )
        if period.status not in RECOMPUTABLE:
            raise UserError(f"考核期 {name} 已审批或锁定，不能重新计算")
        if (period.start, period.end) != (start, end):
            raise UserError(f"考核期 {name} 已存在，起止为 {period.start} 至 {period.end}")
        _store(period, by_role, results)
        period.status, period.computed_at = PeriodStatus.COMPUTED, timezone.now()
        period.status_by = actor if getattr(actor, "is_authenticated", False) else None
        period.status_at = period.computed_at
        period.save()
        audit.record(actor, "assessment.compute", period, managers=period.assessments.count())
    return period


def _store(period, by_role, results) -> None:
    kept = {
        a.manager_id: a
        for a in Assessment.objects.filter(period=period).exclude(adjustment_reason="")
    }
    Assessment.objects.filter(period=period).delete()
    managers = Manager.objects.filter(
        Q(active=True) | Q(pk__in=[m for r in results.values() for m in r])
    ).select_related("profile")
    rows = []
    for manager in managers:
        values = {}
        for indicator in by_role.get(manager.role, []):
            value, num, den = results[indicator.code].get(manager.pk, (None, 0, 0))
            values[indicator.code] = {
                "value": value,
                "num": num,
                "den": den,
                "weight": indicator.weight,
                "target": indicator.target,
                "score": assessment.score(value, indicator.target),
            }
        before = kept.get(manager.pk)
        row = Assessment(
            period=period,
            manager=manager,
            city_id=manager.city_id,
            role=manager.role,
            team=profile_of(manager).team,
            values=values,
            score=assessment.total(values),
        )
        if before is not None:
            row.adjustment, row.adjustment_reason = before.adjustment, before.adjustment_reason
            row.adjusted_by_id = before.adjusted_by_id
        row.final_score = round(row.score + row.adjustment, 2)
        rows.append(row)
    _rank(rows)
    Assessment.objects.bulk_create(rows, batch_size=1000)


def _rank(rows) -> None:
    """Rank within comparable managers: same city and role, best final score first."""
    groups: dict = {}
    for row in rows:
        groups.setdefault((row.city_id, row.role), []).append(row)
    for group in groups.values():
        group.sort(key=lambda r: (-r.final_score, r.manager.manager_id))
        for rank, row in enumerate(group, start=1):
            row.rank, row.group_size = rank, len(group)


def adjust_assessment(actor, row: Assessment, *, adjustment: float, reason: str) -> Assessment:
    """Adjust a score with a recorded reason, before the period is approved; re-ranks the
    manager's comparison group."""
    reason = (reason or "").strip()
    if not reason:
        raise UserError("调整得分须填写原因")
    if abs(adjustment) > MAX_ADJUSTMENT:
        raise UserError(f"调整分须在 ±{MAX_ADJUSTMENT:g} 以内")
    with transaction.atomic():
        period = AssessmentPeriod.objects.select_for_update().get(pk=row.period_id)
        if period.status not in RECOMPUTABLE:
            raise UserError("考核期已审批或锁定，不能调整")
        before = row.adjustment
        row.adjustment, row.adjustment_reason = adjustment, reason[:200]
        row.adjusted_by = actor
        row.final_score = round(row.score + adjustment, 2)
        row.save()
        group = list(
            Assessment.objects.filter(
                period=period, city_id=row.city_id, role=row.role
            ).select_related("manager")
        )
        _rank(group)
        Assessment.objects.bulk_update(group, ["rank", "group_size"])
        audit.record(
            actor,
            "assessment.adjust",
            row,
            manager=row.manager.manager_id,
            changes={"adjustment": [before, adjustment]},
            reason=reason,
        )
    return row


def advance_period(actor, period: AssessmentPeriod, status: str) -> AssessmentPeriod:
    """已计算 → 已复核 → 已审批 → 已锁定, one step at a time; a locked period never changes."""
    if NEXT_STATUS.get(period.status) != status:
        raise UserError("考核期状态只能逐级推进：已计算 → 已复核 → 已审批 → 已锁定")
    with transaction.atomic():
        updated = AssessmentPeriod.objects.filter(pk=period.pk, status=period.status).update(
            status=status, status_by=actor, status_at=timezone.now()
        )
        if not updated:
            raise UserError("考核期状态已被他人修改，请刷新后重试")
        old, period.status = period.status, status
        audit.record(actor, "assessment.status", period, changes={"status": [old, status]})
    return period


@transaction.atomic
def set_digest(actor, manager: Manager, *, sms: bool, email: bool) -> ManagerProfile:
    """Opt a manager in or out of the daily digest by SMS and by e-mail."""
    profile = profile_of(manager)
    before = {"sms": profile.digest_sms, "email": profile.digest_email}
    profile.digest_sms, profile.digest_email = bool(sms), bool(email)
    profile.save()
    audit.record(actor, "reminders.digest_settings", profile, before=before, sms=sms, email=email)
    return profile
