"""Load a published run's tasks and allocation decisions (steps of ``keycare.runs.loaders``).

Tasks are created, updated while nobody has started them, withdrawn when a re-run no longer
allocates them, and never touched once worked; the date's decisions are replaced.
"""

from __future__ import annotations

from collections import defaultdict

from keycare.customers.consent import opted_out_of_marketing
from keycare.errors import UserError
from keycare.runs import columns as spec
from keycare.runs.loaders import (
    BATCH,
    RunLoader,
    as_codes,
    as_float,
    as_int,
    as_reasons,
    as_text,
    json_value,
)
from keycare.tasks.actions import flag_new_alerts
from keycare.tasks.models import (
    AllocationDecision,
    Decision,
    ServiceTask,
    TaskMoment,
    TaskState,
    fill_task_cities,
)


def load_tasks(loader: RunLoader) -> None:
    """Create the run's tasks, update those nobody has started, withdraw the unstarted rest."""
    if loader.tables["tasks"] is None:
        return
    risk = _risk_by_customer(loader)
    # PIPL Art. 24: a customer who refused personalised marketing gets no task from a run.
    opted_out = opted_out_of_marketing()
    incoming, incoming_moments = {}, {}
    for row in loader.tables["tasks"]:
        if str(row.get("channel") or "call") not in spec.TASK_DECISIONS:
            loader.summary["tasks_deferred"] = loader.summary.get("tasks_deferred", 0) + 1
            continue
        customer = loader.customer(row["subscriber_id"])
        if customer is None:
            continue
        if customer in opted_out:
            loader.summary["tasks_opted_out"] = loader.summary.get("tasks_opted_out", 0) + 1
            continue
        values, moments = _task_values(loader, row, customer, risk.get(customer, {}))
        incoming[(customer, values["cycle"])] = values
        incoming_moments[(customer, values["cycle"])] = moments
    existing = {
        (t.customer_id, t.cycle): t for t in ServiceTask.objects.filter(business_date=loader.date)
    }
    current_moments = _current_task_moments(loader, existing.values())
    counts = dict.fromkeys(("created", "updated", "unchanged", "kept_worked", "withdrawn"), 0)
    to_create, to_update, moments_for = [], [], {}
    for key, values in incoming.items():
        task = existing.get(key)
        if task is None:
            to_create.append(ServiceTask(business_date=loader.date, **values))
            counts["created"] += 1
        elif task.state != TaskState.UNHANDLED:
            counts["kept_worked"] += 1
            continue
        elif _task_changed(task, values, current_moments.get(task.pk), incoming_moments[key]):
            for field, value in values.items():
                setattr(task, field, value)
            task.version += 1
            to_update.append(task)
            counts["updated"] += 1
        else:
            if task.run_id != loader.run.pk:
                ServiceTask.objects.filter(pk=task.pk).update(run=loader.run)
            counts["unchanged"] += 1
            continue
        moments_for[key] = incoming_moments[key]
    withdrawn = [
        t.pk
        for key, t in existing.items()
        if key not in incoming and t.state == TaskState.UNHANDLED
    ]
    ServiceTask.objects.filter(pk__in=withdrawn).delete()
    counts["withdrawn"] = len(withdrawn)
    ServiceTask.objects.bulk_create(to_create, batch_size=BATCH)
    fill_task_cities(ServiceTask.objects.filter(business_date=loader.date))
    ServiceTask.objects.bulk_update(to_update, [*_TASK_FIELDS, "version"], batch_size=BATCH)
    _replace_task_moments(loader, moments_for, to_update)
    loader.summary["tasks"] = counts


def _task_values(loader, row: dict, customer: int, risk: dict) -> tuple[dict, list[dict]]:
    codes = as_codes(row.get("moment_codes"))
    detections = loader.detections_by_customer.get(customer, {})
    if not codes:
        codes = list(detections)
    moments = []
    for code in codes:
        moment = loader.moment(code)
        if moment is None:
            continue
        detection = detections.get(code)
        moments.append(
            {
                "moment_id": moment.pk,
                "rule_version": loader.rule_versions.get(code),
                "priority": detection.priority if detection else moment.priority,
                "params": detection.params if detection else {},
                "explanation": detection.explanation if detection else "",
            }
        )
    channel = str(row.get("channel") or "call")
    probability = row.get("risk_probability", risk.get("risk_probability"))
    values = {
        "customer_id": customer,
        "manager_id": loader.manager(row.get("manager_id")),
        "run_id": loader.run.pk,
        "cycle": str(row.get("cycle") or "daily"),
        "priority_score": as_float(row.get("priority_score"), 0.0),
        "risk_probability": None if probability is None else float(probability),
        "risk_reasons": as_reasons(row.get("reasons", risk.get("reasons"))),
        "health_scores": json_value(row.get("health_scores", risk.get("health_scores")), {}),
        "channel": "sms" if channel == "sms" else "call",
    }
    return values, moments


def _risk_by_customer(loader) -> dict:
    rows = loader.tables["risk"] or []
    by_customer = {}
    for row in rows:
        customer = loader.customers.get(row["subscriber_id"])
        if customer is not None:
            by_customer[customer] = row
    return by_customer


def _current_task_moments(loader, tasks) -> dict:
    unhandled = [t.pk for t in tasks if t.state == TaskState.UNHANDLED]
    current = defaultdict(list)
    rows = TaskMoment.objects.filter(task_id__in=unhandled).values(
        "task_id", "moment_id", "rule_version", "priority", "params", "explanation"
    )
    for row in rows.iterator():
        current[row.pop("task_id")].append(row)
    return current


def _replace_task_moments(loader, moments_for: dict, updated: list) -> None:
    TaskMoment.objects.filter(task__in=[t.pk for t in updated]).delete()
    ids = {
        (t.customer_id, t.cycle): t.pk
        for t in ServiceTask.objects.filter(business_date=loader.date).only(
            "id", "customer_id", "cycle"
        )
    }
    TaskMoment.objects.bulk_create(
        (
            TaskMoment(task_id=ids[key], **moment)
            for key, moments in moments_for.items()
            for moment in moments
        ),
        batch_size=BATCH,
    )


def load_new_alerts(loader: RunLoader) -> None:
    """The run's detections are new alerts for customers whose earlier task was handled:
    those tasks become 处理后有新预警 (a system action, audited per task)."""
    moments = {
        customer: list(by_code)
        for customer, by_code in loader.detections_by_customer.items()
        if by_code
    }
    loader.summary["new_alerts"] = (
        flag_new_alerts(None, loader.date, moments, run=loader.run) if moments else 0
    )


def load_decisions(loader: RunLoader) -> None:
    """Replace the date's allocation decisions with the run's."""
    if loader.tables["decisions"] is None:
        return
    AllocationDecision.objects.filter(business_date=loader.date).delete()
    objects, by_decision = [], defaultdict(int)
    for row in loader.tables["decisions"]:
        customer = loader.customer(row["subscriber_id"])
        if customer is None:
            continue
        decision = str(row.get("decision") or "")
        if decision not in Decision.values:
            raise UserError(
                f"decisions: 未知的派送决策 {decision!r} (subscriber {row['subscriber_id']})"
            )
        code = row.get("moment_code")
        moment = loader.moment(code) if code else None
        objects.append(
            AllocationDecision(
                run=loader.run,
                customer_id=customer,
                moment_id=moment.pk if moment else None,
                manager_id=loader.manager(row.get("manager_id")),
                business_date=loader.date,
                cycle=str(row.get("cycle") or "daily"),
                decision=decision,
                reason=as_text(row.get("reason")),
                age_days=max(as_int(row.get("age_days"), 0), 0),
                priority_score=as_float(row.get("priority_score"), None),
                source=as_text(row.get("source"))[:16],
            )
        )
        by_decision[decision] += 1
    AllocationDecision.objects.bulk_create(objects, batch_size=BATCH)
    loader.summary["decisions"] = dict(by_decision)


_TASK_FIELDS = (
    "manager_id",
    "run_id",
    "cycle",
    "priority_score",
    "risk_probability",
    "risk_reasons",
    "health_scores",
    "channel",
)


def _task_changed(task: ServiceTask, values: dict, current: list | None, new: list) -> bool:
    for field in _TASK_FIELDS:
        if field != "run_id" and getattr(task, field) != values[field]:
            return True

    def by_moment(m):
        return m["moment_id"]

    return sorted(current or [], key=by_moment) != sorted(new, key=by_moment)


# --- value helpers ----------------------------------------------------------------------
