"""The knowledge graph: aggregate edges, a customer's need graph and its "why" path, the
tactic that worked for similar customers, and rising causes by area."""

from datetime import timedelta

import pytest

from factories import BUSINESS_DATE, make_complaint, make_tactics, make_task
from keycare.complaints.models import Complaint
from keycare.knowledge import actions, services
from keycare.knowledge.models import Edge, Relation
from keycare.tasks.models import Outcome

pytestmark = pytest.mark.django_db


def _outcome(customer, tactic, accepted: bool):
    task = make_task(customer, BUSINESS_DATE + timedelta(days=1))
    return Outcome.objects.create(
        task=task, contact_result="reached", tactic=tactic,
        recommendation="accepted" if accepted else "declined",
    )  # fmt: skip


@pytest.fixture
def history(customers):
    tactics = make_tactics()
    # Four customers needed a repair of their broadband; K04 worked twice of two, K05 once of two.
    for c in customers[:4]:
        make_complaint(c, "broadband_fault", "repair", resolved=c.pk % 2 == 0)
    _outcome(customers[0], tactics["K04"], True)
    _outcome(customers[1], tactics["K04"], True)
    _outcome(customers[2], tactics["K05"], True)
    _outcome(customers[3], tactics["K05"], False)
    make_complaint(customers[4], "roaming_charge", "refund")
    return tactics


def test_build_edges_aggregates_complaints_and_outcomes(history, customers):
    summary = actions.build_edges()
    city = customers[0].city_id
    need = Edge.objects.get(relation=Relation.CAUSE_NEED, source="broadband_fault", target="repair")
    assert (need.count, need.city_id) == (4, city)
    k04 = Edge.objects.get(relation=Relation.NEED_TACTIC, source="repair", target="K04")
    k05 = Edge.objects.get(relation=Relation.NEED_TACTIC, source="repair", target="K05")
    assert (k04.count, k04.positive, k05.count, k05.positive) == (2, 2, 2, 1)
    assert summary["rows"] == Edge.objects.count()
    actions.build_edges()  # rebuilding replaces, never doubles
    assert Edge.objects.count() == summary["rows"]


def test_similar_tactics_rank_by_acceptance_then_fall_back_to_the_library(history, customers):
    actions.build_edges()
    found = services.similar_tactics("repair", customers[0].city_id)
    assert [(t.code, t.rate, t.source) for t in found[:2]] == [
        ("K04", 1.0, "outcomes"),
        ("K05", 0.5, "outcomes"),
    ]
    assert {t.source for t in found[2:]} <= {"library"}
    refund = services.similar_tactics("refund", customers[0].city_id)
    assert refund and all(t.source == "library" for t in refund)  # no outcomes for it yet


def test_customer_graph_explains_the_need_and_names_what_worked(history, customers):
    actions.build_edges()
    g = services.customer_graph(customers[0], BUSINESS_DATE)
    kinds = {d["kind"] for _, d in g.nodes(data=True)}
    assert kinds >= {"customer", "signal", "cause", "need", "product", "area", "tactic", "outcome"}
    assert services.predicted_need(g) == "repair"
    path = services.need_path(g)
    assert [step["kind"] for step in path] == ["customer", "signal", "cause", "need", "tactic"]
    assert path[-1]["label"].startswith("K04")
    assert "张" in path[0]["label"] and "张三丰" not in path[0]["label"]  # masked name


def test_a_customer_without_complaints_has_no_need_path(customers, history):
    Complaint.objects.filter(customer=customers[0]).delete()
    g = services.customer_graph(customers[0], BUSINESS_DATE)
    assert services.predicted_need(g) is None and services.need_path(g) == []


def test_rising_causes_compare_two_windows_per_area(customers):
    day = BUSINESS_DATE
    for n in range(4):
        make_complaint(customers[n % 3], "slow_data", "repair", day - timedelta(days=n))
    make_complaint(customers[0], "slow_data", "repair", day - timedelta(days=40))
    for n in range(3):  # steady: 3 now, 3 before -> not rising
        make_complaint(customers[1], "tariff_dispute", "plan_adjust", day - timedelta(days=n))
        make_complaint(customers[1], "tariff_dispute", "plan_adjust", day - timedelta(days=35 + n))
    rows = services.rising_causes(Complaint.objects.all(), day, days=30, min_count=3)
    assert [(r["cause"], r["recent"], r["before"], r["growth_pct"]) for r in rows] == [
        ("slow_data", 4, 1, 300)
    ]
    assert rows[0]["area"] == customers[0].county.name
    assert services.rising_causes(Complaint.objects.all(), day, min_count=5) == []
