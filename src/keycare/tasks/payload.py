"""The standard task payload (seed slide 11: 标准化派送) and its export for outbound systems.

Seed: 客户基本信息, 客户扩展属性, 关键时刻类型, 关键时刻描述, 关键时刻参数, 产生时间 — plus risk,
reasons and the script with the customer's values filled in, and the suggested retention tactics
(``suggested_tactics``: the tactics matrix for the task's moments, the customer's value tier and
the task's risk band, ``keycare.moments.tactics.suggest``). Personal data is masked unless
the caller is allowed to see it in clear (``masked=False``, e.g. the outbound-call system
that must dial the number).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from keycare.access.presenter import masked_customer, masked_value
from keycare.complaints.services import (
    COMPLAINT_MOMENTS,
    cause_first,
    reading_for_task,
    readings_for_tasks,
)
from keycare.core.exports import write_csv, write_xlsx
from keycare.engine.explain import PLACEHOLDER, format_value
from keycare.moments.tactic_services import Suggester, tactic_row
from keycare.tasks.models import ServiceTask, TaskMoment

BASIC_FIELDS = (
    "subscriber_id",
    "name",
    "msisdn",
    "gender",
    "birth_date",
    "join_date",
    "brand",
    "plan_code",
    "plan_fee",
    "payment_type",
    "status",
    "value_tier",
    "star_level",
    "credit_score",
    "points",
)

EXPORT_COLUMNS = (
    ("task_id", "任务编号"),
    ("business_date", "业务日期"),
    ("generated_at", "产生时间"),
    ("subscriber_id", "用户标识"),
    ("name", "客户姓名"),
    ("msisdn", "手机号码"),
    ("city", "地市"),
    ("brand", "品牌"),
    ("plan_code", "套餐"),
    ("value_tier", "客户层级"),
    ("manager_id", "客户经理"),
    ("channel", "处理渠道"),
    ("priority_score", "优先级得分"),
    ("moment_codes", "关键时刻类型"),
    ("moment_names", "关键时刻名称"),
    ("description", "关键时刻描述"),
    ("parameters", "关键时刻参数"),
    ("risk_probability", "离网风险"),
    ("risk_reasons", "风险原因"),
    ("script", "服务话术"),
    ("sms", "短信内容"),
)


def task_payload(
    task: ServiceTask,
    masked: bool = True,
    suggester: Suggester | None = None,
    readings: dict | None = None,
) -> dict:
    """One task as the standard structured payload (JSON-ready values only).

    ``suggester``: the tactics lookup to use (pass one for many tasks: it reads the library once).
    ``readings``: task pk -> complaint reading, read once for many tasks
    (``keycare.complaints.services.readings_for_tasks``).
    """
    customer = task.customer
    suggester = suggester or Suggester()
    moments = list(task.moments.all())
    context = _script_context(task, moments, masked)
    first = moments[0].moment if moments else None
    # A complaint moment: the script and tactics follow the complaint's predicted cause.
    complaint = readings.get(task.pk) if readings is not None else reading_for_task(task, moments)
    script = first.script if first else ""
    if complaint and complaint["script"] and first.code in COMPLAINT_MOMENTS:
        script = complaint["script"]
    return {
        "task_id": task.pk,
        "business_date": task.business_date.isoformat(),
        "cycle": task.cycle,
        "generated_at": _iso(task.created_at),
        "state": task.state,
        "state_label": str(task.get_state_display()),
        "channel": task.channel,
        "priority_score": task.priority_score,
        "manager_id": task.manager.manager_id if task.manager_id else None,
        "customer": _basic_info(customer, masked),
        "attributes": _attributes(customer, masked),
        "moment_types": [m.moment.code for m in moments],
        "moments": [
            {
                "code": m.moment.code,
                "name": m.moment.name_zh,
                "name_en": m.moment.name_en,
                "category": m.moment.category,
                "priority": m.priority,
                "rule_version": m.rule_version,
                "description": m.explanation,
                "parameters": m.params,
                "strategy": m.moment.strategy,
            }
            for m in moments
        ],
        "description": "；".join(m.explanation for m in moments if m.explanation),
        "risk": {
            "probability": task.risk_probability,
            "reasons": task.risk_reasons,
            "health_scores": task.health_scores,
        },
        "script": fill_template(script, context),
        "sms": fill_template(first.sms_template, context) if first else "",
        "complaint": complaint,
        "suggested_tactics": cause_first(
            complaint,
            suggester.for_task(task),
            {code: tactic_row(t) for code, t in suggester.tactics.items()},
        ),
    }


def fill_template(template: str, values: dict) -> str:
    """Fill ``{name}`` / ``{name:spec}`` placeholders the way the engine renders explanations;
    a placeholder with no value is left as written so a reader sees what is missing."""

    def replace(match):
        name, spec = match.group(1), match.group(2) or ""
        if values.get(name) is None:
            return match.group(0)
        return format_value(_plain_number(values[name]), spec)

    return PLACEHOLDER.sub(replace, template or "")


def payload_queryset(tasks) -> QuerySet:
    """Tasks with everything the payload reads, in a fixed number of queries."""
    if not isinstance(tasks, QuerySet):
        tasks = ServiceTask.objects.filter(pk__in=[t.pk for t in tasks])
    moments = TaskMoment.objects.select_related("moment").order_by("-priority", "moment__code")
    return tasks.select_related("customer__city", "customer__county", "manager").prefetch_related(
        Prefetch("moments", queryset=moments)
    )


def export_payloads(tasks, fmt: str = "csv", masked: bool = True) -> bytes:
    """Payloads of ``tasks`` as CSV (UTF-8 with BOM, opens in Excel), JSON or XLSX bytes."""
    suggester = Suggester()
    tasks = list(payload_queryset(tasks).order_by("pk"))
    readings = readings_for_tasks(tasks)
    payloads = [task_payload(t, masked, suggester, readings) for t in tasks]
    if fmt == "json":
        return json.dumps(payloads, ensure_ascii=False, indent=1).encode("utf-8")
    rows = [_flat_row(p) for p in payloads]
    if fmt == "csv":
        return _csv(rows)
    if fmt == "xlsx":
        return _xlsx(rows)
    raise ValueError(f"unknown export format {fmt!r} (csv, json or xlsx)")


# --- internals -------------------------------------------------------------------------


def _basic_info(customer, masked: bool) -> dict:
    info = {field: _plain(getattr(customer, field, None)) for field in BASIC_FIELDS}
    info["city"] = customer.city.name if customer.city_id else ""
    info["county"] = customer.county.name if getattr(customer, "county_id", None) else ""
    info["age"] = _age(customer.birth_date) if getattr(customer, "birth_date", None) else None
    if masked:
        info = {field: masked_value(field, value) for field, value in info.items()}
    return info


def _attributes(customer, masked: bool) -> dict:
    attributes = {k: _plain(v) for k, v in (getattr(customer, "attributes", None) or {}).items()}
    if masked:
        attributes = {k: masked_value(k, v) for k, v in attributes.items()}
    return attributes


def _script_context(task, moments, masked: bool) -> dict:
    customer = task.customer
    context = {}
    for m in reversed(moments):  # the highest-priority moment's values win
        context.update(m.moment.threshold_defaults())
        context.update(_flat_params(m.params))
    context.update(
        business_date=task.business_date,
        city_id=customer.city.code if customer.city_id else "",
    )
    name = customer.name or ""
    shown = masked_customer(customer) if masked else {"name": name, "msisdn": customer.msisdn}
    honorific = {"M": "先生", "F": "女士"}.get(getattr(customer, "gender", ""), "")
    context.update(
        name=shown["name"],
        surname=name[:1],
        salutation=f"{name[:1]}{honorific}" if honorific else shown["name"],
        msisdn=shown["msisdn"],
        plan_code=customer.plan_code,
        plan_fee=customer.plan_fee,
        manager_name=task.manager.name if task.manager_id else "",
    )
    return context


def _flat_params(params) -> dict:
    """Params may nest values and thresholds; both levels become placeholders."""
    flat = {}
    for key, value in (params or {}).items():
        if isinstance(value, dict):
            flat.update({k: v for k, v in value.items() if not isinstance(v, dict)})
        else:
            flat[key] = value
    return flat


def _flat_row(payload: dict) -> dict:
    customer = payload["customer"]
    return {
        "task_id": payload["task_id"],
        "business_date": payload["business_date"],
        "generated_at": payload["generated_at"],
        "subscriber_id": customer["subscriber_id"],
        "name": customer["name"],
        "msisdn": customer["msisdn"],
        "city": customer["city"],
        "brand": customer["brand"],
        "plan_code": customer["plan_code"],
        "value_tier": customer["value_tier"],
        "manager_id": payload["manager_id"] or "",
        "channel": payload["channel"],
        "priority_score": payload["priority_score"],
        "moment_codes": ",".join(payload["moment_types"]),
        "moment_names": ",".join(m["name"] for m in payload["moments"]),
        "description": payload["description"],
        "parameters": json.dumps(
            {m["code"]: m["parameters"] for m in payload["moments"]}, ensure_ascii=False
        ),
        "risk_probability": payload["risk"]["probability"],
        "risk_reasons": "；".join(map(str, payload["risk"]["reasons"] or [])),
        "script": payload["script"],
        "sms": payload["sms"],
    }


def _export_table(rows: list[dict]) -> tuple[list[str], list[list]]:
    headers = [f"{zh} {key}" for key, zh in EXPORT_COLUMNS]
    return headers, [[row[key] for key, _ in EXPORT_COLUMNS] for row in rows]


def _csv(rows: list[dict]) -> bytes:
    # The shared writer neutralises formula injection (=, +, -, @) in every cell.
    return write_csv(*_export_table(rows))[0]


def _xlsx(rows: list[dict]) -> bytes:
    return write_xlsx(*_export_table(rows))[0]


def _plain(value):
    """A JSON-ready value."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (date, datetime)):
        return _iso(value)
    return value


def _iso(value):
    if isinstance(value, datetime):
        return (
            timezone.localtime(value).isoformat(timespec="seconds")
            if timezone.is_aware(value)
            else value.isoformat()
        )
    return value.isoformat() if isinstance(value, date) else value


def _plain_number(value):
    return float(value) if isinstance(value, Decimal) else value


def _age(birth: date) -> int:
    today = timezone.localdate()
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
