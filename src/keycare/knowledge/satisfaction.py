"""Explainable low-satisfaction prediction (tariff, home broadband, wireless) from a
customer's need graph. Each prediction is explained as the graph path that carries it.

The score of a domain adds up the graph's evidence for the domain's causes: each classified
complaint counts half its confidence, each unresolved one one more, a customer threatening to
leave half more; ``1 - exp(-RATE * evidence)`` turns it into a probability. The weights are
set by hand until survey results exist to fit them (the analytics issue); until then the
prediction is checked against the synthetic operator's truth (``evaluate``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
from django.utils.translation import gettext_lazy as _

from keycare.complaints import taxonomy

DOMAINS = {
    "tariff": (_("资费"), ("billing", "roaming", "vas")),
    "broadband": (_("家庭宽带"), ("broadband",)),
    "wireless": (_("无线网络"), ("network",)),
}
RATE = 0.8
RESOLVED_SHARE = 0.5  # a complaint counts half its confidence; unresolved, one more
UNRESOLVED = 1.0
PORT_OUT = 0.5
THRESHOLD = 0.5


@dataclass(frozen=True)
class Prediction:
    domain: str
    label: str
    probability: float
    path: list  # node labels, customer first

    @property
    def low(self) -> bool:
        return self.probability >= THRESHOLD


def predict(g: nx.DiGraph) -> list[Prediction]:
    """One prediction per domain, highest probability first."""
    tax = taxonomy.load()
    out = []
    for domain, (label, groups) in DOMAINS.items():
        causes = [n for n, d in g.nodes(data=True)
                  if d["kind"] == "cause" and tax.group_of(n.split(":", 1)[1]) in groups]  # fmt: skip
        evidence = {c: _evidence(g, c) for c in causes}
        total = sum(evidence.values())
        probability = round(1 - math.exp(-RATE * total), 3)
        best = max(evidence, key=evidence.get) if evidence else None
        out.append(Prediction(domain, label, probability, _path(g, best) if best else []))
    return sorted(out, key=lambda p: -p.probability)


def _evidence(g: nx.DiGraph, cause: str) -> float:
    score = RESOLVED_SHARE * g.nodes[cause]["weight"]
    for _source, target, data in g.out_edges(cause, data=True):
        if target == "outcome:unresolved":
            score += UNRESOLVED * data.get("count", 1)
        if target == "need:port_out":
            score += PORT_OUT
    return score


def _path(g: nx.DiGraph, cause: str) -> list[str]:
    me = next(n for n, d in g.nodes(data=True) if d["kind"] == "customer")
    route = nx.shortest_path(g, me, cause)
    ends = [
        t for _, t, d in g.out_edges(cause, data=True) if g.nodes[t]["kind"] in ("need", "outcome")
    ]
    return [g.nodes[n]["label"] for n in route + sorted(ends)]


def truth_label(true_causes: list[tuple[str, bool | None]], domain: str) -> bool:
    """Synthetic truth: the customer had a complaint whose true cause is in the domain and it
    was not resolved."""
    groups = DOMAINS[domain][1]
    tax = taxonomy.load()
    return any(tax.group_of(c) in groups and resolved is False for c, resolved in true_causes)


def evaluate(pairs: list[tuple[bool, bool]]) -> dict:
    """Precision and recall of (predicted low, truly low) pairs."""
    tp = sum(p and t for p, t in pairs)
    predicted, actual = sum(p for p, _ in pairs), sum(t for _, t in pairs)
    return {
        "customers": len(pairs),
        "truly_low": actual,
        "precision": round(tp / predicted, 3) if predicted else None,
        "recall": round(tp / actual, 3) if actual else None,
    }
