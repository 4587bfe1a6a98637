"""Build the knowledge graph's aggregate edges from the data KeyCare holds (one transaction)."""

from __future__ import annotations

from collections import Counter

from django.db import transaction
from django.db.models import Count, Q

from keycare.complaints.models import Complaint
from keycare.core.audit import record
from keycare.knowledge.models import Edge, Relation
from keycare.tasks.models import Outcome, Recommendation

BATCH = 2000


def build_edges(actor=None) -> dict:
    """Replace every aggregate edge: complaints give cause→need, cause→outcome (resolved or
    not) and product→cause; recorded outcomes with a tactic give need→tactic and cause→tactic
    (positive when the customer accepted)."""
    edges = [*_complaint_edges(), *_tactic_edges()]
    with transaction.atomic():
        Edge.objects.all().delete()
        Edge.objects.bulk_create(edges, batch_size=BATCH)
        counts = Counter(e.relation for e in edges)
        summary = {"rows": len(edges), **{k: counts[k] for k in Relation.values}}
        record(actor, "load", object_type="knowledge", object_id="edges", rows=len(edges))
    return summary


def _complaint_edges() -> list[Edge]:
    classified = Complaint.objects.exclude(cause="")
    resolved = Count("id", filter=Q(resolved=True))
    specs = [
        (Relation.CAUSE_NEED, "cause", "need"),
        (Relation.PRODUCT_CAUSE, "customer__plan_code", "cause"),
    ]
    edges = []
    for relation, source, target in specs:
        rows = classified.values("customer__city_id", source, target).annotate(
            n=Count("id"), ok=resolved
        )
        edges += [
            Edge(
                relation=relation,
                source=r[source],
                target=r[target],
                city_id=r["customer__city_id"],
                count=r["n"],
                positive=r["ok"],
            )  # fmt: skip
            for r in rows.order_by()
        ]
    rows = (
        classified.exclude(resolved=None)
        .values("customer__city_id", "cause", "resolved")
        .annotate(n=Count("id"))
        .order_by()
    )
    edges += [
        Edge(
            relation=Relation.CAUSE_OUTCOME,
            source=r["cause"],
            target="resolved" if r["resolved"] else "unresolved",
            city_id=r["customer__city_id"],
            count=r["n"],
            positive=r["n"] if r["resolved"] else 0,
        )  # fmt: skip
        for r in rows
    ]
    return edges


def _tactic_edges() -> list[Edge]:
    """Outcomes with a tactic, read against the customer's latest complaint reading before
    the task's date (what the customer needed when the tactic was tried)."""
    outcomes = list(
        Outcome.objects.filter(tactic__isnull=False).values_list(
            "task__customer_id",
            "task__customer__city_id",
            "task__business_date",
            "tactic__code",
            "recommendation",
        )  # fmt: skip
    )
    readings = _readings({o[0] for o in outcomes})
    tally: Counter = Counter()
    wins: Counter = Counter()
    for customer, city, day, tactic, recommendation in outcomes:
        reading = next((r for r in readings.get(customer, []) if r[0] <= day), None)
        if reading is None:
            continue
        for relation, source in (
            (Relation.NEED_TACTIC, reading[2]),
            (Relation.CAUSE_TACTIC, reading[1]),
        ):
            key = (relation, source, tactic, city)
            tally[key] += 1
            wins[key] += recommendation == Recommendation.ACCEPTED
    return [
        Edge(relation=r, source=s, target=t, city_id=c, count=n, positive=wins[(r, s, t, c)])
        for (r, s, t, c), n in tally.items()
    ]


def _readings(customer_ids: set) -> dict:
    """customer id -> [(date, cause, need)] newest first."""
    found: dict = {}
    rows = (
        Complaint.objects.filter(customer_id__in=customer_ids)
        .exclude(cause="")
        .order_by("customer_id", "-occurred_at")
        .values_list("customer_id", "occurred_at", "cause", "need")
    )
    for customer, when, cause, need in rows:
        found.setdefault(customer, []).append((when.date(), cause, need))
    return found
