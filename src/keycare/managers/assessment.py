"""KPI assessment, read side: the formulas the indicators name, computed for every manager of
a period from what KeyCare records, and the scoring.

An indicator (``Indicator``, data) names a formula here; a formula returns, per manager pk,
``(value, numerator, denominator)``. Each formula is one grouped query (or one per day), never
one per manager, so a month for every manager of the province stays a few dozen queries.

Churn is judged against the control group (``churn_vs_control``): the churn of the customers
the manager was given to serve, compared with the churn of the control group (customers
detected the same way but held out, ``AllocationDecision.decision == "control"``) of the same
city in the same period. A manager given riskier customers is not punished, because the
control group carries the same risk. Revenue is judged the same way (``revenue_vs_control``):
the change of the monthly fee of the manager's treated customers from the day they were
decided to the end of the period, minus the same change in the city's control group.

Satisfaction (``satisfaction``) is the mean satisfaction index (0-100) of the survey answers
given in the period by the manager's customers (the surveys app's ``SurveyResponse``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Count, F, FloatField, Min, Q, Sum
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from keycare.customers.models import Customer, CustomerHistory, Status
from keycare.keyaccounts.models import KeyAccount
from keycare.keyaccounts.standards import planned_visits
from keycare.managers import plans
from keycare.managers.models import (
    Indicator,
    IndicatorCategory,
    IndicatorUnit,
    PlanItem,
    PlanStatus,
    TaskAssignment,
    WorkKind,
    WorkPlan,
    WorkRecord,
)
from keycare.org.models import ManagerRole
from keycare.surveys.models import SurveyResponse
from keycare.tasks.models import (
    AllocationDecision,
    Appointment,
    ContactResult,
    Outcome,
    Recommendation,
    ServiceTask,
    TaskChannel,
    TaskState,
)
from keycare.workorders.models import WorkOrder, WorkOrderStatus

HANDLED = (TaskState.HANDLED_NO_CHANGE, TaskState.HANDLED_NEW_ALERT)
ON_TIME_DAYS = 2  # a task handled by the end of the day after its business date is on time
TREATED = ("call", "sms")
MAX_SCORE = 100.0

Result = dict[int, tuple[float | None, float, float]]


def _ratio(rows) -> Result:
    """{manager: (num/den, num, den)} from (manager, num, den) rows."""
    return {m: ((n / d) if d else None, n, d) for m, n, d in rows if m is not None}


def _day_bounds(start: date, end: date):
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(start, time.min, tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz),
    )


def tasks_handled(start, end) -> Result:
    rows = (
        ServiceTask.objects.filter(
            business_date__range=(start, end), channel=TaskChannel.CALL, manager__isnull=False
        )
        .values("manager")
        .annotate(den=Count("id"), num=Count("id", filter=Q(state__in=HANDLED)))
        .values_list("manager", "num", "den")
        .order_by()
    )
    return _ratio(rows)


def tasks_on_time(start, end) -> Result:
    """Tasks handled within ON_TIME_DAYS of their business date, of all call tasks."""
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    tz = timezone.get_current_timezone()
    day = start
    while day <= end:
        deadline = datetime.combine(day + timedelta(days=ON_TIME_DAYS), time.min, tzinfo=tz)
        rows = (
            ServiceTask.objects.filter(
                business_date=day, channel=TaskChannel.CALL, manager__isnull=False
            )
            .values("manager")
            .annotate(
                den=Count("id"),
                num=Count("id", filter=Q(state__in=HANDLED, handled_at__lt=deadline)),
            )
            .values_list("manager", "num", "den")
            .order_by()
        )
        for manager, num, den in rows:
            counts[manager][0] += num
            counts[manager][1] += den
        day += timedelta(days=1)
    return _ratio((m, n, d) for m, (n, d) in counts.items())


def _outcomes(start, end):
    return Outcome.objects.filter(
        task__business_date__range=(start, end), task__manager__isnull=False
    ).values("task__manager")


def contact_rate(start, end) -> Result:
    rows = (
        _outcomes(start, end)
        .annotate(den=Count("id"), num=Count("id", filter=Q(contact_result=ContactResult.REACHED)))
        .values_list("task__manager", "num", "den")
        .order_by()
    )
    return _ratio(rows)


def recommendation_acceptance(start, end) -> Result:
    offered = (Recommendation.ACCEPTED, Recommendation.DECLINED)
    rows = (
        _outcomes(start, end)
        .filter(recommendation__in=offered)
        .annotate(
            den=Count("id"), num=Count("id", filter=Q(recommendation=Recommendation.ACCEPTED))
        )
        .values_list("task__manager", "num", "den")
        .order_by()
    )
    return _ratio(rows)


def visits_vs_standard(start, end) -> Result:
    """Key accounts visited of the visits the tier standards require in the period."""
    due: dict[int, set] = defaultdict(set)
    for visit in planned_visits(start, end, KeyAccount.objects.filter(manager__isnull=False)):
        if visit.role == plans.MANAGER_VISIT_ROLE and visit.manager_pk:
            due[visit.manager_pk].add(visit.key_account_pk)
    low, high = _day_bounds(start, end)
    visited: dict[int, set] = defaultdict(set)
    rows = WorkRecord.objects.filter(
        kind=WorkKind.VISIT, at__gte=low, at__lt=high, key_account__isnull=False
    ).values_list("manager", "key_account")
    for manager, account in rows.distinct():
        visited[manager].add(account)
    return _ratio((m, len(accounts & visited[m]), len(accounts)) for m, accounts in due.items())


def plan_completion(start, end) -> Result:
    """Items done of the items of the plans submitted or approved for the period (what
    ``plans.plan_actual`` says of each plan, read for all plans in a few queries)."""
    chosen = dict(
        WorkPlan.objects.filter(
            start__gte=start, end__lte=end, status__in=(PlanStatus.SUBMITTED, PlanStatus.APPROVED)
        ).values_list("pk", "manager_id")
    )
    items = PlanItem.objects.filter(plan__in=list(chosen)).values_list(
        "plan_id", "plan__start", "plan__end", "key_account_id", "customer_id", "appointment_id"
    )
    items = list(items.order_by())
    low, high = _day_bounds(start, end)
    records = WorkRecord.objects.filter(
        manager_id__in=set(chosen.values()), at__gte=low, at__lt=high
    )
    seen: dict[tuple, set] = defaultdict(set)  # (manager, "ka"/"c", pk) -> local days
    for manager, at, account in records.exclude(key_account=None).values_list(
        "manager_id", "at", "key_account_id"
    ):
        seen[(manager, "ka", account)].add(timezone.localtime(at).date())
    for manager, at, person in WorkRecord.persons.through.objects.filter(
        workrecord__in=records
    ).values_list("workrecord__manager_id", "workrecord__at", "customer_id"):
        seen[(manager, "c", person)].add(timezone.localtime(at).date())
    done_appointments = set(
        Appointment.objects.filter(
            pk__in=[i[5] for i in items if i[5]], done_at__isnull=False
        ).values_list("pk", flat=True)
    )
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for plan, first, last, account, customer, appointment in items:
        manager = chosen[plan]
        days = seen.get((manager, "ka", account), set()) | seen.get((manager, "c", customer), set())
        done = appointment in done_appointments or any(first <= d <= last for d in days)
        counts[manager][0] += done
        counts[manager][1] += 1
    return _ratio((m, n, d) for m, (n, d) in counts.items())


def assigned_tasks(start, end) -> Result:
    """The assigners' evaluations (1-5) of shares due in the period, as a share of 5."""
    low, high = _day_bounds(start, end)
    rows = (
        TaskAssignment.objects.filter(
            task__deadline__gte=low, task__deadline__lt=high, rating__isnull=False
        )
        .values("manager")
        .annotate(num=Sum("rating"), den=Count("id") * 5)
        .values_list("manager", "num", "den")
        .order_by()
    )
    return _ratio(rows)


def sla_met(start, end) -> Result:
    low, high = _day_bounds(start, end)
    rows = (
        WorkOrder.objects.filter(
            status=WorkOrderStatus.CLOSED,
            closed_at__gte=low,
            closed_at__lt=high,
            task__manager__isnull=False,
        )
        .values("task__manager")
        .annotate(den=Count("id"), num=Count("id", filter=Q(closed_at__lte=F("due_at"))))
        .values_list("task__manager", "num", "den")
        .order_by()
    )
    return _ratio(rows)


def churn_vs_control(start, end) -> Result:
    """Control-group churn of the manager's city minus the churn of the manager's treated
    customers (positive: the manager kept more than the hold-out would have)."""
    churned = Q(customer__status=Status.CHURNED, customer__status_date__gte=F("business_date"))
    decisions = AllocationDecision.objects.filter(business_date__range=(start, end))
    control = {
        city: (n / d if d else None)
        for city, n, d in decisions.filter(decision="control")
        .values("customer__city")
        .annotate(
            d=Count("customer", distinct=True), n=Count("customer", filter=churned, distinct=True)
        )
        .values_list("customer__city", "n", "d")
        .order_by()
    }
    treated = (
        decisions.filter(decision__in=TREATED, manager__isnull=False)
        .values("manager", "customer__city")
        .annotate(
            d=Count("customer", distinct=True), n=Count("customer", filter=churned, distinct=True)
        )
        .values_list("manager", "customer__city", "n", "d")
        .order_by()
    )
    sums: dict[int, list] = defaultdict(lambda: [0.0, 0, 0])
    for manager, city, n, d in treated:
        if d and control.get(city) is not None:
            # Expected churn had these customers been held out, minus what happened.
            sums[manager][0] += control[city] * d - n
            sums[manager][1] += n
            sums[manager][2] += d
    return {m: (lift / d, n, d) for m, (lift, n, d) in sums.items() if d}


# A plan-fee value the archive's history can be read as (what ``float()`` reads in the
# loader's ``str(Decimal)`` form); anything else (null, empty, text) is skipped.
_READABLE_FEE = r"^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"


def _old_fees(start):
    """The archive's readable plan-fee changes loaded on or after ``start``, each with the fee
    the customer paid before it (``old``) and its local day (``day``)."""
    return (
        CustomerHistory.objects.filter(
            at__gte=_day_bounds(start, start)[0], changes__has_key="plan_fee"
        )
        .alias(text=KT("changes__plan_fee__0"))
        .filter(text__regex=_READABLE_FEE)
        .annotate(old=Cast("text", FloatField()), day=TruncDate("at"))
        .order_by()
    )


def _sql(queryset) -> tuple[str, tuple]:
    sql, params = queryset.query.sql_with_params()
    return sql, tuple(params)


def _fee_deltas(decisions, start, end, by_manager: bool) -> dict:
    """city or (manager, city) -> [sum of fee changes, customers] over the customers decided
    in the period (one per customer, or per customer and manager, from the first day decided): each customer's monthly fee at the end
    of the period minus the fee they paid that first day. The fee on a day is the old fee of
    the first readable plan-fee change loaded after that (local) day, else today's fee, and
    nothing once churned by then. One SQL statement: the database reads the customers, Python
    gets one row per key."""
    first = (
        decisions.values(cid=F("customer_id"), **({"mid": F("manager_id")} if by_manager else {}))
        .annotate(first_day=Min("business_date"))
        .order_by()
    )
    first_sql, first_params = _sql(first)
    changed_sql, changed_params = _sql(_old_fees(start).values("customer_id").distinct())
    # The first readable change after a day, for one customer of ``first`` (RawSQL: the
    # correlated column of the enclosing statement).
    after_end = _sql(
        _old_fees(start)
        .filter(customer_id=RawSQL("d.cid", ()), day__gt=end)
        .order_by("at", "id")
        .values("old")[:1]
    )
    after_first = _sql(
        _old_fees(start)
        .filter(customer_id=RawSQL("d.cid", ()), day__gt=RawSQL("d.first_day", ()))
        .order_by("at", "id")
        .values("old")[:1]
    )
    customer = Customer._meta.db_table
    # The customer's city is read once, with its fee and status (the decisions are grouped
    # without joining the customers).
    cols = "d.mid, c.city_id" if by_manager else "c.city_id"
    outer = "mid, city_id" if by_manager else "city_id"

    def fee_on(day_sql, lookup_sql):
        # The subquery only runs for customers with a change (PostgreSQL evaluates CASE
        # branches lazily): the others pay today's fee.
        return (
            f"CASE WHEN c.status = %s AND c.status_date <= {day_sql} THEN 0.0 "
            f"WHEN ch.customer_id IS NULL THEN c.plan_fee "
            f"ELSE COALESCE(({lookup_sql}), c.plan_fee) END"
        )

    sql = (
        f"SELECT {outer}, SUM(fee_end - fee_first), COUNT(*) FROM ("
        f" SELECT {cols}, {fee_on('%s', after_end[0])} AS fee_end,"
        f" {fee_on('d.first_day', after_first[0])} AS fee_first"
        f" FROM ({first_sql}) d JOIN {customer} c ON c.id = d.cid"
        f" LEFT JOIN ({changed_sql}) ch ON ch.customer_id = d.cid"
        f") x GROUP BY {outer}"
    )
    params = (
        Status.CHURNED, end, *after_end[1],
        Status.CHURNED, *after_first[1],
        *first_params, *changed_params,
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    found: dict = {}
    for *key, change, n in rows:
        found[tuple(key) if len(key) > 1 else key[0]] = [float(change or 0), n]
    return found


def revenue_vs_control(start, end) -> Result:
    """Monthly-fee change of the manager's treated customers (from the day decided to the end
    of the period; churn counts as losing the whole fee) minus the mean change in the control
    group of the same city, RMB per customer per month (positive: the manager kept or grew
    more revenue than the hold-out)."""
    decisions = AllocationDecision.objects.filter(business_date__range=(start, end))
    control = _fee_deltas(decisions.filter(decision="control"), start, end, by_manager=False)
    treated = _fee_deltas(
        decisions.filter(decision__in=TREATED, manager__isnull=False),
        start, end, by_manager=True,
    )  # fmt: skip
    sums: dict[int, list] = defaultdict(lambda: [0.0, 0.0, 0])
    for (manager, city), (change, n) in treated.items():
        total_c, n_c = control.get(city, (0.0, 0))
        if n_c:
            sums[manager][0] += change - total_c / n_c * n
            sums[manager][1] += change
            sums[manager][2] += n
    return {m: (lift / n, round(change, 2), n) for m, (lift, change, n) in sums.items()}


def satisfaction(start, end) -> Result:
    """Mean satisfaction index (0-100) of the answers given in the period by the customers
    of the manager's surveys."""
    low, high = _day_bounds(start, end)
    rows = (
        SurveyResponse.objects.filter(
            answered_at__gte=low, answered_at__lt=high, task__manager__isnull=False
        )
        .values("task__manager")
        .annotate(num=Sum("index"), den=Count("id"))
        .values_list("task__manager", "num", "den")
        .order_by()
    )
    return _ratio(rows)


FORMULAS: dict[str, Callable[[date, date], Result]] = {
    "tasks_handled": tasks_handled,
    "tasks_on_time": tasks_on_time,
    "contact_rate": contact_rate,
    "recommendation_acceptance": recommendation_acceptance,
    "visits_vs_standard": visits_vs_standard,
    "plan_completion": plan_completion,
    "assigned_tasks": assigned_tasks,
    "sla_met": sla_met,
    "churn_vs_control": churn_vs_control,
    "revenue_vs_control": revenue_vs_control,
    "satisfaction": satisfaction,
}

# (code, category, name, formula, source, weight, target[, unit]): the first version of the
# indicators, loaded when there are none (migration 0009 adds the later ones to an existing
# set); administrators change weights and targets after.
DEFAULT_INDICATORS = (
    ("recommendation_acceptance", IndicatorCategory.ABILITY, "推荐接受率",
     "接受建议数 / 提出建议数", "处理结果", 15, 0.3),
    ("contact_rate", IndicatorCategory.ABILITY, "接触成功率",
     "已接通 / 处理结果数", "处理结果", 15, 0.7),
    ("tasks_handled", IndicatorCategory.WORK, "任务处理率",
     "已处理外呼任务 / 外呼任务", "预警任务", 15, 0.95),
    ("tasks_on_time", IndicatorCategory.WORK, "任务及时率",
     "次日内处理的外呼任务 / 外呼任务", "预警任务", 10, 0.9),
    ("visits_vs_standard", IndicatorCategory.WORK, "走访达标率",
     "已走访集团 / 服务标准应走访集团", "工作记录、服务标准", 10, 1.0),
    ("plan_completion", IndicatorCategory.WORK, "计划完成率",
     "已完成计划事项 / 计划事项", "工作计划", 10, 0.9),
    ("assigned_tasks", IndicatorCategory.WORK, "下达任务评价",
     "执行评价得分 / 满分", "下达任务", 5, 0.8),
    ("sla_met", IndicatorCategory.RESULTS, "工单SLA达标率",
     "时限内关闭工单 / 关闭工单", "工单", 10, 0.95),
    ("churn_vs_control", IndicatorCategory.RESULTS, "保有提升（对照组）",
     "对照组离网率 − 所服务客户离网率", "派送决策、客户状态", 10, 0.02),
    ("revenue_vs_control", IndicatorCategory.RESULTS, "收入提升（对照组）",
     "所服务客户月费变化 − 对照组月费变化（元/户/月）", "派送决策、客户档案历史", 10, 1.0,
     IndicatorUnit.RMB),
    ("satisfaction", IndicatorCategory.RESULTS, "客户满意度",
     "考核期内所服务客户满意度指数均值", "满意度调查", 10, 85.0, IndicatorUnit.POINTS),
)  # fmt: skip


def ensure_default_indicators() -> int:
    if Indicator.objects.exists():
        return 0
    Indicator.objects.bulk_create(indicator_rows(Indicator, DEFAULT_INDICATORS))
    return len(DEFAULT_INDICATORS)


def indicator_rows(model, rows) -> list:
    """Unsaved ``model`` rows from DEFAULT_INDICATORS-shaped tuples (the migration passes its
    historical model)."""
    return [
        model(code=c, category=cat, name=n, formula=f, source=s, weight=w, target=t,
              unit=rest[0] if rest else IndicatorUnit.RATIO)
        for c, cat, n, f, s, w, t, *rest in rows
    ]  # fmt: skip


def indicators_by_role() -> dict[str, list[Indicator]]:
    """Role -> its active indicators (a role-specific row replaces the all-roles row)."""
    rows = list(Indicator.objects.filter(active=True))
    general = {i.code: i for i in rows if not i.role}
    specific = defaultdict(dict)
    for i in rows:
        if i.role:
            specific[i.role][i.code] = i
    return {role: list({**general, **specific[role]}.values()) for role in ManagerRole.values}


def score(value: float | None, target: float) -> float | None:
    if value is None:
        return None
    if target <= 0:
        return MAX_SCORE if value >= target else 0.0
    return max(0.0, min(value / target, 1.0)) * MAX_SCORE


def total(values: dict) -> float:
    """Weighted mean of the indicator scores that have data (no data: left out, not zero)."""
    scored = [(v["weight"], v["score"]) for v in values.values() if v["score"] is not None]
    weight = sum(w for w, _s in scored)
    return round(sum(w * s for w, s in scored) / weight, 2) if weight else 0.0


def export_table(assessments) -> tuple[list[str], list[list]]:
    """Headers and rows of an assessment export: one row per manager, every indicator's value
    and score, the total, the adjustment with its reason, the final score and the rank."""
    codes = list(Indicator.objects.filter(active=True).values_list("code", flat=True).distinct())
    names = dict(Indicator.objects.values_list("code", "name"))
    headers = ["考核期", "工号", "姓名", "地市", "岗位", "班组"]
    for code in codes:
        headers += [f"{names.get(code, code)}（值）", f"{names.get(code, code)}（得分）"]
    headers += ["计算得分", "调整分", "调整原因", "最终得分", "组内排名", "同组人数"]
    rows = []
    for a in assessments.select_related("period", "manager", "city").order_by(
        "city__code", "role", "rank"
    ):
        row = [a.period.name, a.manager.manager_id, a.manager.name, a.city.name,
               a.manager.get_role_display(), a.team]  # fmt: skip
        for code in codes:
            v = a.values.get(code) or {}
            row += [_round(v.get("value")), _round(v.get("score"))]
        row += [a.score, a.adjustment, a.adjustment_reason, a.final_score, a.rank, a.group_size]
        rows.append(row)
    return headers, rows


def _round(value):
    return round(value, 4) if isinstance(value, float) else value
