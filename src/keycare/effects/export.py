"""The application's own data as an effect source (the files keycare.engine.effect reads).

* exposures: each customer's first allocation decision per moment that placed them in an arm
  (call, SMS, deferred, capped: treated; control), with the manager, the city and, from the
  outcomes recorded on the customer's task of that day, whether the customer was reached,
  the tactic used and whether they accepted the recommendation;
* outcomes: churn from the archive's status (``churned`` since ``status_date``), downgrades
  from the archive's history (a lower ``plan_fee``, dated by the load that brought it);
* complaints: none yet (the complaint archive is not linked here): the repeat-complaint rows
  then read zero in both arms.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from keycare.customers.models import Customer, CustomerHistory
from keycare.tasks.models import AllocationDecision, Outcome

EXPOSED = ("call", "sms", "deferred", "capped", "control")
CAMPAIGN = "daily_moments"


def export_source(out: Path) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(_exposures(), out / "exposures.parquet")
    pq.write_table(_outcomes(), out / "outcomes.parquet")
    empty = {
        "subscriber_id": pa.array([], pa.string()),
        "complaint_date": pa.array([], pa.date32()),
    }
    pq.write_table(pa.table(empty), out / "complaints.parquet")
    return out


def _contacts() -> dict:
    """(subscriber, business date) -> (reached, tactic, accepted) of the day's task."""
    found: dict = {}
    rows = Outcome.objects.values_list(
        "task__customer__subscriber_id", "task__business_date", "contact_result",
        "recommendation", "tactic__code",
    ).order_by("recorded_at", "id")  # fmt: skip
    for sub, day, result, recommendation, tactic in rows.iterator():
        reached = result == "reached"
        before = found.get((sub, day))
        if before is None or (reached and not before[0]):
            accepted = None if recommendation == "none" else recommendation == "accepted"
            found[(sub, day)] = (reached, tactic, accepted)
    return found


def _exposures() -> pa.Table:
    contacts = _contacts()
    seen: set = set()
    cols: dict = {name: [] for name in (
        "subscriber_id", "moment_code", "exposure_date", "arm", "decision", "manager_id",
        "city_id", "campaign", "tactic", "contacted", "recommended", "accepted", "risk")}  # fmt: skip
    rows = (
        AllocationDecision.objects.filter(decision__in=EXPOSED, moment__isnull=False)
        .order_by("business_date", "id")
        .values_list(
            "customer__subscriber_id",
            "moment__code",
            "business_date",
            "decision",
            "manager__manager_id",
            "customer__city__code",
        )  # fmt: skip
    )
    for sub, code, day, decision, manager, city in rows.iterator():
        if (sub, code) in seen:
            continue
        seen.add((sub, code))
        arm = "control" if decision == "control" else "treated"
        reached, tactic, accepted = contacts.get((sub, day), (False, None, None))
        if arm == "control":
            reached, tactic, accepted = False, None, None
        for name, value in zip(cols, (sub, code, day, arm, decision, manager, city, CAMPAIGN,
                                      tactic, reached, tactic is not None, accepted, None),
                               strict=True):  # fmt: skip
            cols[name].append(value)
    types = {"exposure_date": pa.date32(), "contacted": pa.bool_(), "recommended": pa.bool_(),
             "accepted": pa.bool_(), "risk": pa.float64()}  # fmt: skip
    return pa.table({k: pa.array(v, types.get(k, pa.string())) for k, v in cols.items()})


def _outcomes() -> pa.Table:
    downgrades = _downgrades()
    cols: dict = {k: [] for k in ("subscriber_id", "plan_fee", "churn_date", "downgrade_date",
                                  "downgrade_factor")}  # fmt: skip
    rows = Customer.objects.values_list("pk", "subscriber_id", "plan_fee", "status", "status_date")
    for pk, sub, fee, status, since in rows.iterator():
        down = downgrades.get(pk)
        old_fee = float(down[1]) if down else float(fee)
        cols["subscriber_id"].append(sub)
        cols["plan_fee"].append(old_fee)
        cols["churn_date"].append(since if status == "churned" else None)
        cols["downgrade_date"].append(down[0] if down else None)
        cols["downgrade_factor"].append(float(fee) / old_fee if down and old_fee else 1.0)
    types = {"plan_fee": pa.float64(), "churn_date": pa.date32(), "downgrade_date": pa.date32(),
             "downgrade_factor": pa.float64()}  # fmt: skip
    return pa.table({k: pa.array(v, types.get(k, pa.string())) for k, v in cols.items()})


def _downgrades() -> dict:
    """customer pk -> (date, previous fee) of the first plan-fee decrease in the history."""
    found: dict = {}
    rows = CustomerHistory.objects.filter(changes__has_key="plan_fee").order_by("at", "id")
    for customer_id, at, changes in rows.values_list("customer_id", "at", "changes").iterator():
        old, new = changes["plan_fee"]
        try:
            lower = float(new) < float(old)
        except (TypeError, ValueError):
            continue
        if lower and customer_id not in found:
            found[customer_id] = (at.date(), float(old))
    return found
