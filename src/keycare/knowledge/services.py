"""Queries that answer "why": a customer's need graph (a networkx view built from the
relations that hold their data), the tactic that worked for similar customers, and the causes
rising in an area."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import networkx as nx
from django.db.models import Count, Max, Q, Sum

from keycare.access import roles
from keycare.access.presenter import masked_customer
from keycare.complaints import taxonomy
from keycare.complaints.models import Complaint
from keycare.complaints.services import COMPLAINT_MOMENTS
from keycare.knowledge.models import Edge, Relation
from keycare.runs.models import Detection
from keycare.tasks.models import Outcome
from keycare.workorders.models import WorkOrder

KINDS = ("customer", "signal", "cause", "need", "product", "area", "tactic", "outcome")
KIND_LABELS = {
    "customer": "客户",
    "signal": "信号",
    "cause": "原因",
    "need": "需求",
    "product": "产品",
    "area": "区域",
    "tactic": "战术",
    "outcome": "结果",
}
# Who reads the causes rising by area (pages and API): administrators and analysts.
TREND_ROLES = {roles.ROLE_PROVINCE_ADMIN, roles.ROLE_CITY_ADMIN, roles.ROLE_ANALYST}
WINDOWS = (7, 30, 90)
SIGNAL_DAYS = 90
MIN_TRIES = 2  # a tactic "worked" only with at least this many recorded tries


@dataclass(frozen=True)
class TacticEvidence:
    code: str
    name: str
    tries: int
    accepted: int
    source: str  # "outcomes" (similar customers' results) or "library" (taxonomy default)

    @property
    def rate(self) -> float | None:
        return round(self.accepted / self.tries, 2) if self.tries else None


def as_of(customer) -> date:
    """The customer's business date: their latest detection or complaint (today otherwise)."""
    latest = Detection.objects.filter(customer=customer).aggregate(d=Max("business_date"))["d"]
    complained = customer.complaints.aggregate(d=Max("occurred_at"))["d"]
    days = [d for d in (latest, complained.date() if complained else None) if d]
    return max(days) if days else date.today()


def customer_graph(customer, day: date | None = None) -> nx.DiGraph:
    """The customer's need graph: signals -> causes -> needs -> tactics -> outcomes, plus
    their product and area. Node ids are "kind:key"; attributes kind, label, weight."""
    day = day or as_of(customer)
    since = day - timedelta(days=SIGNAL_DAYS - 1)
    tax = taxonomy.load()
    g = nx.DiGraph()
    me = _node(g, "customer", customer.subscriber_id, masked_customer(customer)["name"])
    g.add_edge(me, _node(g, "product", customer.plan_code, customer.plan_code), relation="uses")
    area = customer.county.name if customer.county_id else customer.city.name
    g.add_edge(me, _node(g, "area", str(customer.county_id), area), relation="lives_in")
    _complaints(g, me, customer, since, day, tax)
    _signals(g, me, customer, since, day)
    _tactics_used(g, me, customer)
    _work_orders(g, me, customer, since)
    need = predicted_need(g)
    if need:
        for t in similar_tactics(need, customer.city_id, top_cause(g))[:3]:
            tactic = _node(g, "tactic", t.code, t.name)
            g.add_edge(f"need:{need}", tactic, relation="worked_for_similar", rate=t.rate,
                       tries=t.tries, source=t.source)  # fmt: skip
    return g


def _node(g: nx.DiGraph, kind: str, key: str, label: str, weight: float = 1.0) -> str:
    node = f"{kind}:{key}"
    if node in g:
        g.nodes[node]["weight"] += weight
    else:
        g.add_node(node, kind=kind, label=label, weight=weight)
    return node


def _signals(g, me, customer, since, day) -> None:
    rows = (
        Detection.objects.filter(customer=customer, business_date__range=(since, day))
        .values("moment__code", "moment__name_zh")
        .annotate(n=Count("id"))
    )
    for r in rows:
        node = _node(
            g, "signal", r["moment__code"], f"{r['moment__code']} {r['moment__name_zh']}", r["n"]
        )
        g.add_edge(me, node, relation="raised", count=r["n"])
        if r["moment__code"] in COMPLAINT_MOMENTS and "signal:complaint" in g:
            g.add_edge(node, "signal:complaint", relation="from")


def _complaints(g, me, customer, since, day, tax) -> None:
    rows = Complaint.objects.filter(
        customer=customer, occurred_at__date__range=(since, day)
    ).exclude(cause="")
    for c in rows.order_by("occurred_at"):
        signal = _node(g, "signal", c.kind, str(c.get_kind_display()))
        g.add_edge(me, signal, relation="raised")
        cause = _node(g, "cause", c.cause, tax.cause_label(c.cause), c.confidence or 1)
        need = _node(g, "need", c.need, tax.need_label(c.need), c.confidence or 1)
        _count_edge(g, signal, cause, "says")
        _count_edge(g, cause, need, "means")
        if c.resolved is not None:
            key = "resolved" if c.resolved else "unresolved"
            _count_edge(
                g, cause, _node(g, "outcome", key, "已解决" if c.resolved else "未解决"), "ended"
            )


def _count_edge(g, a, b, relation) -> None:
    if g.has_edge(a, b):
        g.edges[a, b]["count"] += 1
    else:
        g.add_edge(a, b, relation=relation, count=1)


def _tactics_used(g, me, customer) -> None:
    rows = Outcome.objects.filter(task__customer=customer, tactic__isnull=False).values_list(
        "tactic__code", "tactic__name_zh", "recommendation"
    )
    for code, name, recommendation in rows:
        tactic = _node(g, "tactic", code, f"{code} {name}")
        g.add_edge(me, tactic, relation="served_with")
        label = {"accepted": "接受建议", "declined": "拒绝建议"}.get(recommendation, "未推荐")
        _count_edge(g, tactic, _node(g, "outcome", recommendation, label), "ended")


def _work_orders(g, me, customer, since) -> None:
    for order in WorkOrder.objects.filter(customer=customer, created_at__date__gte=since):
        status = str(order.get_status_display())
        g.add_edge(
            me, _node(g, "outcome", f"wo-{order.status}", f"工单{status}"), relation="work_order"
        )


def predicted_need(g: nx.DiGraph) -> str | None:
    """The need with the most evidence (confidence-weighted complaints) in the graph."""
    needs = [(d["weight"], n) for n, d in g.nodes(data=True) if d["kind"] == "need"]
    return max(needs)[1].split(":", 1)[1] if needs else None


def top_cause(g: nx.DiGraph) -> str | None:
    """The cause with the most evidence in the graph."""
    causes = [(d["weight"], n) for n, d in g.nodes(data=True) if d["kind"] == "cause"]
    return max(causes)[1].split(":", 1)[1] if causes else None


def need_path(g: nx.DiGraph) -> list[dict]:
    """The "why" path: customer -> signal -> cause -> need -> tactic (best evidence each step)."""
    need = predicted_need(g)
    if need is None:
        return []
    target = f"need:{need}"
    me = next(n for n, d in g.nodes(data=True) if d["kind"] == "customer")
    paths = list(nx.all_simple_paths(g, me, target, cutoff=4))
    best = max(paths, key=lambda p: sum(g.nodes[n]["weight"] for n in p), default=[me, target])
    tactics = [
        b for _, b, d in g.out_edges(target, data=True) if d["relation"] == "worked_for_similar"
    ]
    path = best + tactics[:1]
    return [{"node": n, "kind": g.nodes[n]["kind"], "kind_label": KIND_LABELS[g.nodes[n]["kind"]],
             "label": g.nodes[n]["label"]} for n in path]  # fmt: skip


def similar_tactics(
    need: str, city_id: int | None = None, cause: str | None = None
) -> list[TacticEvidence]:
    """Tactics tried with customers of the same need (in the same city when given), by
    acceptance rate; the taxonomy's tactics for the cause follow when evidence is thin."""
    from keycare.moments.models import Tactic

    edges = Edge.objects.filter(relation=Relation.NEED_TACTIC, source=need)
    if city_id is not None:
        edges = edges.filter(city_id=city_id)
    rows = edges.values("target").annotate(n=Sum("count"), ok=Sum("positive"))
    names = dict(Tactic.objects.values_list("code", "name_zh"))
    found = [
        TacticEvidence(
            r["target"], names.get(r["target"], r["target"]), r["n"], r["ok"], "outcomes"
        )
        for r in rows
        if r["n"] >= MIN_TRIES
    ]
    found.sort(key=lambda t: (-(t.rate or 0), -t.tries, t.code))
    known = {t.code for t in found}
    for code in _library_tactics(need, cause):
        if code not in known:
            found.append(TacticEvidence(code, names.get(code, code), 0, 0, "library"))
    return found


def _library_tactics(need: str, cause: str | None) -> list[str]:
    """Tactics the taxonomy names for the cause (or for the causes most often behind the need)."""
    tax = taxonomy.load()
    if cause is None:
        top = (
            Edge.objects.filter(relation=Relation.CAUSE_NEED, target=need)
            .values("source").annotate(n=Sum("count")).order_by("-n").first()
        )  # fmt: skip
        cause = top["source"] if top else None
    return list(tax.causes[cause].tactics) if cause in tax.causes else []


def rising_causes(complaints, day: date, days: int = 30, min_count: int = 3) -> list[dict]:
    """Per area (county) and cause: complaints in the last ``days`` against the ``days``
    before; rising when the count grew and reached ``min_count``. Sorted by growth."""
    recent_from = day - timedelta(days=days - 1)
    before_from = recent_from - timedelta(days=days)
    rows = (
        complaints.filter(occurred_at__date__gte=before_from, occurred_at__date__lte=day)
        .exclude(cause="")
        .values("customer__county_id", "customer__county__name", "customer__city__name", "cause")
        .annotate(
            recent=Count("id", filter=Q(occurred_at__date__gte=recent_from)),
            before=Count("id", filter=Q(occurred_at__date__lt=recent_from)),
        )
        .order_by()
    )
    tax = taxonomy.load()
    out = []
    for r in rows:
        if r["recent"] < min_count or r["recent"] <= r["before"]:
            continue
        growth = (r["recent"] - r["before"]) / max(r["before"], 1)
        out.append({
            "county_id": r["customer__county_id"],
            "area": r["customer__county__name"],
            "city": r["customer__city__name"],
            "cause": r["cause"],
            "cause_label": tax.cause_label(r["cause"]),
            "recent": r["recent"],
            "before": r["before"],
            "growth_pct": round(100 * growth),
        })  # fmt: skip
    out.sort(key=lambda r: (-(r["recent"] - r["before"]), -r["recent"], r["area"], r["cause"]))
    return out


def latest_complaint_day(complaints) -> date | None:
    latest = complaints.aggregate(d=Max("occurred_at"))["d"]
    return latest.date() if latest else None


RELATION_LABELS = {
    "uses": "使用",
    "lives_in": "所在区域",
    "raised": "产生",
    "from": "来自",
    "says": "反映",
    "means": "需求",
    "ended": "结果",
    "served_with": "使用战术",
    "work_order": "工单",
    "worked_for_similar": "相似客户有效",
}


def graph_rows(g: nx.DiGraph) -> dict:
    """The graph as plain rows for the API: nodes (id "kind:key", kind, labels, weight) and
    edges (relation and its label, count)."""
    nodes = [
        {"id": n, "kind": d["kind"], "kind_label": KIND_LABELS[d["kind"]], "label": d["label"],
         "weight": round(float(d["weight"]), 4)}
        for n, d in g.nodes(data=True)
    ]  # fmt: skip
    edges = [
        {"source": a, "target": b, "relation": d.get("relation", ""),
         "relation_label": RELATION_LABELS.get(d.get("relation"), ""), "count": d.get("count", 1)}
        for a, b, d in g.edges(data=True)
    ]  # fmt: skip
    return {"nodes": nodes, "edges": edges}


def echarts_graph(g: nx.DiGraph) -> dict:
    """The graph as ECharts series data: nodes with categories (kinds), links with Chinese
    labels. Node ids are positions, so no internal code reaches the page."""
    index = {kind: i for i, kind in enumerate(KINDS)}
    ids = {n: str(i) for i, n in enumerate(g.nodes)}
    nodes = [
        {
            "id": ids[n],
            "name": d["label"],
            "category": index[d["kind"]],
            "symbolSize": 44 if d["kind"] == "customer" else 18 + min(24, 6 * d["weight"]),
        }  # fmt: skip
        for n, d in g.nodes(data=True)
    ]
    links = [
        {"source": ids[a], "target": ids[b], "value": RELATION_LABELS.get(d.get("relation"), "")}
        for a, b, d in g.edges(data=True)
    ]
    return {
        "categories": [{"name": KIND_LABELS[k]} for k in KINDS],
        "nodes": nodes,
        "links": links,
    }


def satisfaction_check(truth_path, limit: int | None = None) -> dict:
    """Low-satisfaction predictions of the customers with classified complaints, against the
    synthetic truth file (event_id, cause): per domain, precision and recall."""
    import pyarrow.parquet as pq

    from keycare.knowledge import satisfaction

    truth = dict(
        zip(
            *pq.read_table(truth_path, columns=["event_id", "cause"]).to_pydict().values(),
            strict=True,
        )
    )
    complaints = Complaint.objects.exclude(cause="").select_related(
        "customer__city", "customer__county"
    )
    by_customer: dict = {}
    for c in complaints.order_by("customer_id"):
        by_customer.setdefault(c.customer, []).append((truth.get(c.event_id, ""), c.resolved))
    pairs: dict = {d: [] for d in satisfaction.DOMAINS}
    for customer, true_causes in list(by_customer.items())[:limit]:
        predictions = satisfaction.predict(customer_graph(customer))
        for p in predictions:
            pairs[p.domain].append((p.low, satisfaction.truth_label(true_causes, p.domain)))
    return {domain: satisfaction.evaluate(rows) for domain, rows in pairs.items()}


def satisfaction_against_surveys() -> dict:
    """Low-satisfaction predictions against what customers answered: every customer with a
    classified complaint and an answered satisfaction survey, predicted low in any domain vs
    their latest survey index below the index model's low threshold. Precision and recall
    (``satisfaction.evaluate``); the surveys ask about the service overall, not per domain."""
    from keycare.customers.models import Customer
    from keycare.knowledge import satisfaction
    from keycare.surveys.models import SurveyResponse

    latest: dict = {}
    responses = SurveyResponse.objects.select_related("model", "task").order_by("answered_at")
    for r in responses:
        latest[r.task.customer_id] = r.index < r.model.low_threshold
    customers = (
        Complaint.objects.exclude(cause="")
        .filter(customer_id__in=list(latest))
        .values_list("customer_id", flat=True)
        .distinct()
    )
    pairs = []
    for customer in Customer.objects.filter(pk__in=list(customers)).select_related(
        "city", "county"
    ):
        predicted = any(p.low for p in satisfaction.predict(customer_graph(customer)))
        pairs.append((predicted, latest[customer.pk]))
    return satisfaction.evaluate(pairs)
