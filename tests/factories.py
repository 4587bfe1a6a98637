"""The one place tests build application data: the organisation, managers, users with their
role, customers, moment definitions, tasks, departments and work orders.

Every builder takes keyword overrides for any model field, so a test states only what it is
about. Fixtures in the conftest files are thin wrappers over these functions.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.utils import timezone

from keycare.customers.models import Customer
from keycare.moments.models import MomentDefinition
from keycare.org.models import City, County, Department, Grid, Manager, Province, StaffProfile
from keycare.tasks.models import Appointment, ServiceTask
from keycare.workorders.models import WorkOrder

DAY = date(2026, 11, 22)
# The domain tests (runs, tasks, campaigns, work orders) work on this date.
BUSINESS_DATE = date(2026, 11, 20)


class Place(NamedTuple):
    """A city with one county and one grid: where managers and customers live."""

    city: City
    county: County
    grid: Grid


def make_province(code: str = "JS", name: str = "江苏省") -> Province:
    """The province (one row per code: asking twice gives the same row)."""
    return Province.objects.get_or_create(code=code, defaults={"name": name})[0]


def make_city(code: str, name: str, province: Province | None = None) -> City:
    """A bare city, without county or grid (in the default province unless told)."""
    return City.objects.create(code=code, name=name, province=province or make_province())


def make_place(
    code: str,
    name: str,
    province: Province | None = None,
    *,
    county: tuple[str, str] | None = None,
    grid: tuple[str, str] | None = None,
) -> Place:
    """A city with one county and one grid. ``county`` and ``grid`` are ``(code, name)`` when
    the defaults (``X<code>`` "<name>一区", ``G<code>`` "一网格") will not do."""
    city = make_city(code, name, province)
    county_code, county_name = county or (f"X{code}", f"{name}一区")
    grid_code, grid_name = grid or (f"G{code}", "一网格")
    county_row = County.objects.create(code=county_code, name=county_name, city=city)
    grid_row = Grid.objects.create(code=grid_code, name=grid_name, county=county_row, city=city)
    return Place(city, county_row, grid_row)


def make_org(
    cities=(("C025", "南京市"), ("C0512", "苏州市")), province=("JS", "江苏省")
) -> dict[str, Place]:
    """One province and its cities, each with a county and a grid, keyed by city code."""
    province_row = make_province(*province)
    return {code: make_place(code, name, province_row) for code, name in cities}


def make_manager(place: Place | City, manager_id: str = "M001", **overrides) -> Manager:
    """A phone manager in ``place``'s grid; given a bare City, a manager without a grid."""
    city, grid = (place.city, place.grid) if isinstance(place, Place) else (place, None)
    values = {
        "manager_id": manager_id,
        "name": f"经理{manager_id}",
        "mobile": "13900000000",
        "city": city,
        "grid": grid,
        "role": "phone_manager",
        "daily_capacity": 40,
    }
    return Manager.objects.create(**{**values, **overrides})


def customer_fields(place: Place, subscriber_id: str, manager=None, **overrides) -> dict:
    """The field values of ``make_customer``'s customer, unsaved (for ``bulk_create``)."""
    values = {
        "subscriber_id": subscriber_id,
        "msisdn": "13812340000",
        "name": "张三丰",
        "join_date": date(2015, 3, 1),
        "city": place.city,
        "county": place.county,
        "grid": place.grid,
        "brand": "gotone",
        "plan_code": "P188",
        "plan_fee": Decimal("188.00"),
        "payment_type": "postpaid",
        "status": "active",
        "status_date": date(2015, 3, 1),
        "value_tier": "mid_high",
        "manager": manager,
        "attributes": {},
        "row_hash": subscriber_id,
    }
    return {**values, **overrides}


def make_customer(place: Place, subscriber_id: str, manager=None, **overrides) -> Customer:
    """An active mid/high-value postpaid customer of ``manager`` in ``place``."""
    return Customer.objects.create(**customer_fields(place, subscriber_id, manager, **overrides))


def numbered_customer(org: dict, n: int, manager=None, city: str = "C025", **extra) -> Customer:
    """Customer number ``n`` (S001, S002...) with its own number, name and balance."""
    values = {
        "msisdn": f"1381234{n:04d}",
        "name": "张三丰" if n % 2 else "李四",
        "gender": "M" if n % 2 else "F",
        "birth_date": date(1980, 5, 17),
        "attributes": {"balance": 12.5, "handset_brand": "华为"},
        "row_hash": f"h{n}",
    }
    return make_customer(org[city], f"S{n:03d}", manager, **{**values, **extra})


MOMENT_DEFAULTS = {
    "A03": {
        "name_zh": "账单下降",
        "name_en": "Bill drop",
        "category": "anomaly",
        "cycle": "monthly",
        "priority": 80,
        "channel": "call",
        "script": "{salutation}您好，您本月消费{bill_m1}元，较上月下降{drop_pct}%。",
        "thresholds": {"drop_pct": 30},
    },
    "A04": {
        "name_zh": "余额不足",
        "name_en": "Low balance",
        "category": "anomaly",
        "cycle": "daily",
        "priority": 60,
        "channel": "sms",
        "script": "{name}您好，您的余额为{balance}元。",
        "thresholds": {"balance_below": 10},
    },
    "N01": {
        "name_zh": "免打扰",
        "name_en": "Do not disturb",
        "category": "no_service",
        "cycle": "daily",
        "priority": 0,
        "channel": "call",
        "sms_allowed": False,
        "script": "",
        "thresholds": {},
    },
}


def make_moment(code: str = "A03", **overrides) -> MomentDefinition:
    """A moment definition row (no engine needed); known codes get realistic defaults."""
    values = {
        "code": code,
        "name_zh": code,
        "name_en": code,
        "category": "anomaly",
        "cycle": "daily",
        "priority": 50,
        "channel": "call",
        "sms_allowed": True,
        "strategy": "预防措施",
        "script": "",
        "thresholds": {},
        "condition": {},
        "current_version": 1,
        **MOMENT_DEFAULTS.get(code, {}),
    }
    values.setdefault("sms_template", values["script"])
    return MomentDefinition.objects.create(**{**values, **overrides})


def make_user(username: str, role: str | None = None, *, city=None, manager=None, **extra):
    """A user; with ``role``, also their staff profile (the role's data scope)."""
    user = get_user_model().objects.create_user(username, **extra)
    if role is not None:
        StaffProfile.objects.create(user=user, role=role, city=city, manager=manager)
    return user


def make_task(customer: Customer, business_date: date = DAY, **overrides) -> ServiceTask:
    values = {
        "customer": customer,
        "manager": customer.manager,
        "business_date": business_date,
        "channel": "call",
        "priority_score": 80.0,
    }
    return ServiceTask.objects.create(**{**values, **overrides})


def make_tactics(actor=None) -> dict:
    """The shipped tactics library (``moments/tactics.yaml``) imported as version 1: code ->
    Tactic. Its matrix names built-in moment codes, which need no rows to be valid."""
    from keycare.moments.actions import sync_builtin_tactics
    from keycare.moments.models import Tactic

    sync_builtin_tactics(actor)
    return {t.code: t for t in Tactic.objects.all()}


def make_department(code: str = "NET", name: str = "网络部", city=None, **overrides) -> Department:
    """A department work orders go to."""
    return Department.objects.create(**{"code": code, "name": name, "city": city, **overrides})


def make_work_order(
    task: ServiceTask, department: Department, due_at: datetime | None = None, **overrides
) -> WorkOrder:
    """A work order for ``task``'s customer, stored as is (no SLA clock, no audit: for those,
    use keycare.workorders.actions.create_work_order); due in a day unless told."""
    values = {
        "task": task,
        "customer": task.customer,
        "department": department,
        "title": "宽带故障",
        "due_at": due_at or timezone.now() + timedelta(days=1),
    }
    return WorkOrder.objects.create(**{**values, **overrides})


def make_appointment(customer: Customer, due_at, **overrides) -> Appointment:
    """An open alert follow-up of ``customer``'s manager (``done_at`` makes it handled)."""
    values = {
        "customer": customer,
        "manager": customer.manager,
        "kind": "alert",
        "due_at": due_at,
    }
    return Appointment.objects.create(**{**values, **overrides})


def make_cti_user(username: str = "cti", *, city=None, clear: bool = True):
    """The outbound-call system's account (CTI role); ``clear``: it may receive numbers in
    clear (``access.cti_clear_numbers``)."""
    from django.contrib.auth.models import Permission

    from keycare.access import roles

    user = make_user(username, roles.ROLE_CTI, city=city)
    if clear:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="access", codename="cti_clear_numbers")
        )
    return get_user_model().objects.get(pk=user.pk)  # a fresh permission cache


# --- effects (效果评估) ----------------------------------------------------------------------


def make_effect_report(cities, *, manager=None, horizons=(30,), as_of: date = DAY):
    """A stored evaluation: a province row and one row per city for moment A03, a row per city,
    and a manager row when ``manager`` is given (churn at each horizon; uplift -0.05 +- 0.02)."""
    from keycare.effects.models import EffectReport, EffectRow

    report = EffectReport.objects.create(
        as_of=as_of, source_kind="simulation", source="/tmp/sim", horizons=list(horizons),
        totals={"manager_hours": 12.5, "churn_avoided": 3, "churn_avoided_per_100_hours": 24.0},
        qini={"*": {"horizon": horizons[0], "qini_auc": 0.01, "uplift_at_30": 0.02}},
    )  # fmt: skip
    specs = [("moment", "A03", "A03 测试时刻", None)]
    specs += [("moment", "A03", "A03 测试时刻", city) for city in cities]
    specs += [("city", city.code, city.name, city) for city in cities]
    if manager is not None:
        specs.append(("manager", manager.manager_id, manager.name, manager.city))
    for dimension, key, label, city in specs:
        for horizon in horizons:
            EffectRow.objects.create(
                report=report, dimension=dimension, key=key, label=label, city=city,
                horizon=horizon, metric="churn", treated=100, control=50, treated_mean=0.10,
                control_mean=0.15, uplift=-0.05, ci_low=-0.07, ci_high=-0.03,
                contact_rate=0.6 if city is None else None, accept_rate=0.3 if city is None else None,
            )  # fmt: skip
    return report


# --- messaging (SMS outbox) -------------------------------------------------------------


def make_sms_task(
    customer: Customer, moment: MomentDefinition, business_date: date = DAY, **params
):
    """An SMS task of ``customer`` carrying ``moment`` with ``params`` (its template's values)."""
    from keycare.tasks.models import TaskMoment

    task = make_task(customer, business_date, channel="sms")
    TaskMoment.objects.create(task=task, moment=moment, priority=moment.priority, params=params)
    return task


def make_sms_message(customer: Customer, n: int = 1, **overrides):
    """An outbox message for ``customer`` (queued unless ``state`` says otherwise)."""
    from keycare.messaging.models import SmsMessage

    values = {
        "customer": customer,
        "city": customer.city,
        "manager": customer.manager,
        "business_date": DAY,
        "moment_codes": ["A04"],
        "recipient": customer.msisdn,
        "text": f"您好，测试短信 {n}",
        "idempotency_key": f"test:{customer.pk}:{n}",
    }
    return SmsMessage.objects.create(**{**values, **overrides})


def set_service_window(start: str, end: str) -> MomentDefinition:
    """N01's service window (send-time quiet hours); equal start and end: all day."""
    moment = MomentDefinition.objects.filter(code="N01").first() or make_moment("N01")
    moment.thresholds = {"service_start": start, "service_end": end}
    moment.save(update_fields=["thresholds"])
    return moment


# --- key accounts (h-keyacct) --------------------------------------------------------------


def make_key_account(place: Place | City, key_account_id: str = "K001", manager=None, **overrides):
    """An active group in ``place``'s city (tier B1 unless told)."""
    from keycare.keyaccounts.models import KeyAccount

    city = place.city if isinstance(place, Place) else place
    values = {
        "key_account_id": key_account_id,
        "name": f"集团{key_account_id}",
        "industry": "制造业",
        "tier": "B1",
        "delivered_tier": "B1",
        "city": city,
        "manager": manager,
        "status": "active",
        "created_date": date(2018, 5, 1),
    }
    return KeyAccount.objects.create(**{**values, **overrides})


def make_key_account_archive(ka, months=("2026-08", "2026-09", "2026-10"), revenue=100_000):
    """Revenue for ``months``, a data line with its SLA, a V网, a decision maker with a finance
    contact reporting to them, and a contract due for renewal: what a group's 360 page shows."""
    from keycare.keyaccounts.models import (
        KeyAccountContract,
        KeyAccountProduct,
        KeyAccountRevenue,
        KeyPerson,
    )

    code = ka.key_account_id
    for month in months:
        KeyAccountRevenue.objects.create(
            key_account=ka, month=month, total_revenue=revenue, info_revenue=revenue * 0.3
        )
    line = dict(key_account=ka, start_date=date(2024, 1, 1), status="active")
    KeyAccountProduct.objects.create(
        product_id=f"{code}-P1",
        product_type="data_line",
        name="数据专线（100M）",
        informatization=True,
        bandwidth_mbps=100,
        sla_availability=99.95,
        sla_response_minutes=30,
        sla_restore_hours=4,
        **line,
    )
    KeyAccountProduct.objects.create(
        product_id=f"{code}-P2", product_type="vpmn", name="V网", quantity=120, **line
    )
    boss = KeyPerson.objects.create(
        person_id=f"{code}-KP1",
        key_account=ka,
        role="decision_maker",
        name="张建国",
        title="总经理",
        mobile="13912345678",
        birth_date=date(1970, 5, 6),
        influence=5,
        attitude="supporter",
    )
    KeyPerson.objects.create(
        person_id=f"{code}-KP2",
        key_account=ka,
        role="finance",
        name="李秀英",
        title="财务总监",
        mobile="13912345679",
        birth_date=date(1980, 2, 3),
        reports_to=boss,
        attitude="neutral",
    )
    KeyAccountContract.objects.create(
        contract_id=f"{code}-HT1",
        key_account=ka,
        title="全业务合作框架协议",
        contract_type="framework",
        signed_date=date(2025, 1, 1),
        start_date=date(2025, 1, 10),
        end_date=date(2027, 1, 9),
        renewal_date=date(2026, 11, 10),
        amount=500_000,
        status="active",
    )
    return boss


# --- managers (account-manager archive, plans, visits, assessment) -------------------------


def make_manager_key_account(city, key_account_id: str = "K1", manager=None, **overrides):
    """An active tier-A1 key account (集团客户) of ``manager`` in ``city``."""
    values = {"tier": "A1", "delivered_tier": "A1", "created_date": date(2020, 1, 1)}
    return make_key_account(city, key_account_id, manager, **{**values, **overrides})


# ----------------------------------------------------------------------------- analytics


def indicator_row(indicator, period, member, city_id, num, den=None, dimension="city"):
    """One published indicator row (engine/indicators.py's columns)."""
    grain = "month" if len(period) == 7 else "day"
    return {
        "indicator": indicator,
        "grain": grain,
        "period": period,
        "dimension": dimension,
        "member": member,
        "city_id": city_id,
        "num": num,
        "den": den,
    }


def load_indicator_rows(
    business_date: date, rows: list[dict], run_id: str = "R-test", bill_months=None
) -> dict:
    """Load indicator rows through the run loader's step, as ``keycare loadrun`` does;
    ``bill_months``: the months the run's record says it publishes (run.json indicators)."""
    from keycare.analytics.loaders import load_indicator_values
    from keycare.runs.loaders import RunLoader

    record = {} if bill_months is None else {"indicators": {"bill_months": list(bill_months)}}
    loader = RunLoader(business_date, {"run_id": run_id}, record, {"indicators": rows})
    load_indicator_values(loader)
    return loader.summary


# --- complaints and knowledge (issue 21) ----------------------------------------------------


def make_complaint(
    customer: Customer, cause: str, need: str, day: date = BUSINESS_DATE, **overrides
):
    """A classified complaint text of ``customer`` on ``day`` (10:00 local time)."""
    from keycare.complaints import taxonomy
    from keycare.complaints.models import Complaint

    values = {
        "event_id": f"E{Complaint.objects.count() + 1:06d}",
        "customer": customer,
        "kind": "complaint",
        "occurred_at": timezone.make_aware(datetime(day.year, day.month, day.day, 10)),
        "text": "家里宽带断网三天了，请尽快派人来修",
        "cause": cause,
        "cause_group": taxonomy.load().group_of(cause),
        "need": need,
        "confidence": 0.93,
    }
    return Complaint.objects.create(**{**values, **overrides})


# --------------------------------------------------------------------------- risk (h-risk)


def make_risk_score(customer: Customer, probability: float, *, run=None, **overrides):
    """A customer's risk score of ``DAY`` (and the run it came from)."""
    from keycare.runs.models import RiskScore, Run

    run = run or Run.objects.get_or_create(run_id=f"{DAY:%Y%m%d}-risk", business_date=DAY)[0]
    values = {
        "run": run,
        "customer": customer,
        "business_date": DAY,
        "risk_probability": probability,
        "seed_score": 42.0,
        "health_tariff_brand": 70.0,
        "health_call_circle": 40.0,
        "health_service": 100.0,
        "health_business": 85.0,
        "reasons": ["异网通话占比上升", "近3月话费持续下降", "近期咨询携号转网"],
        "model_version": "abc123",
    }
    return RiskScore.objects.create(**{**values, **overrides})


# ----------------------------------------------------------------------------- surveys


def make_survey_task(customer: Customer, trigger: str = "moment_served", **overrides):
    """An open survey of ``customer`` (built-in template of the trigger), due in a week."""
    from keycare.surveys.actions import ensure_builtins
    from keycare.surveys.models import SurveyTask, SurveyTemplate

    ensure_builtins()
    values = {
        "template": SurveyTemplate.objects.get(trigger=trigger),
        "customer": customer,
        "respondent": "individual",
        "trigger": trigger,
        "source": f"test:{customer.pk}",
        "manager": customer.manager,
        "city": customer.city,
        "drawn_on": DAY,
        "due_on": DAY + timedelta(days=7),
    }
    return SurveyTask.objects.create(**{**values, **overrides})


# --- the published unified view (issue 19 item 3) -------------------------------------------


def publish_unified_view(runs_dir, rows: list[dict], business_date: date = DAY, run_id=None):
    """Publish a run holding ``unified_view.parquet`` under ``runs_dir`` and mark it loaded,
    as the application then reads it: every catalog column, null where ``rows`` say nothing."""
    import json
    import os
    from pathlib import Path

    import pyarrow as pa

    from keycare.catalog.fields import load_catalog
    from keycare.engine.publish import write_table
    from keycare.runs.models import Run

    types = {"string": pa.string(), "int": pa.int64(), "float": pa.float64()}
    types |= {"bool": pa.bool_(), "date": pa.date32()}
    fields = load_catalog().fields
    schema = pa.schema([(f.code, types[f.type]) for f in fields])
    table = pa.Table.from_pylist([{f.code: r.get(f.code) for f in fields} for r in rows], schema)
    run_id = run_id or f"{business_date:%Y%m%d}-view"
    runs_dir = Path(runs_dir)
    version = runs_dir / f"{business_date.isoformat()}.{run_id}.v1"
    version.mkdir(parents=True)
    write_table(table, version / "unified_view.parquet")
    (version / "run.json").write_text(json.dumps({"run_id": run_id}), "utf-8")
    link = runs_dir / business_date.isoformat()
    if link.is_symlink():
        link.unlink()
    os.symlink(version.name, link)
    run, _ = Run.objects.update_or_create(
        run_id=run_id, defaults={"business_date": business_date, "loaded_at": timezone.now()}
    )
    return run


# ----------------------------------------------------------------------------- group moments


def make_group_task(group, code: str = "G06", business_date: date = DAY, **overrides):
    """A group task (集团预警任务) of ``group`` for its manager; the moment row is made when
    missing (G06 contract near expiry unless told)."""
    from keycare.tasks.models import GroupTask

    moment = MomentDefinition.objects.filter(code=code).first() or make_moment(
        code,
        name_zh="集团合同即将到期",
        name_en="Group contract near expiry",
        category="group",
        priority=88,
        script="您好，我是贵单位的集团客户经理。贵单位的合同即将到期，想约时间沟通续签事宜。",
        thresholds={"days": {"default": 60, "zh": "提前天数"}},
    )
    values = {
        "key_account": group,
        "moment": moment,
        "manager": group.manager,
        "city": group.city,
        "business_date": business_date,
        "priority": moment.priority,
        "params": {"days_to_contract_end": 28, "days": 60},
        "explanation": "集团合同将于 28 天后到期（提前 60 天提醒续签）",
    }
    return GroupTask.objects.create(**{**values, **overrides})


def make_consent(customer: Customer, purpose: str = "marketing", **overrides):
    """The customer's basis for ``purpose``; by default an opt-out of personalised marketing."""
    from keycare.customers.models import ConsentRecord

    values = {"basis": "consent", "opted_out": True, "source": "test"}
    return ConsentRecord.objects.create(
        customer=customer, purpose=purpose, **{**values, **overrides}
    )


def make_realtime_detection(customer: Customer, moment: str = "RT01", **overrides):
    """A real-time detection of ``customer`` (roaming in Japan, an SMS), detected 2 s after
    its signal."""
    from keycare.signalling.models import Outcome, RealtimeDetection

    at = overrides.pop("signal_time", timezone.now() - timedelta(minutes=5))
    values = {
        "customer": customer,
        "city": customer.city,
        "moment": moment,
        "window": str(at.year),
        "signal_time": at,
        "detected_at": at + timedelta(seconds=2),
        "acted_at": at + timedelta(seconds=2, milliseconds=40),
        "outcome": Outcome.SMS,
        "facts": {"country": "JP"},
    }
    return RealtimeDetection.objects.create(**{**values, **overrides})


def make_stream_minute(stream: str, minute: datetime, **figures):
    """One consumer-minute of the operations page (``signalling.StreamMinute``)."""
    from keycare.signalling.models import StreamMinute

    values = {"consumer": "c1", "batches": 1, "entries": 1200, "admitted": 1170}
    return StreamMinute.objects.create(
        stream=stream, minute=minute, **{**values, "duplicate": 24, "late": 6, **figures}
    )
