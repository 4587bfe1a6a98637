"""Explainable low-satisfaction prediction from the need graph, and its check against truth."""

import pytest

from factories import BUSINESS_DATE, make_complaint
from keycare.knowledge import satisfaction, services

pytestmark = pytest.mark.django_db


def _predictions(customer):
    graph = services.customer_graph(customer, BUSINESS_DATE)
    return {p.domain: p for p in satisfaction.predict(graph)}


def test_an_unresolved_broadband_complaint_is_low_satisfaction_explained_by_its_path(customers):
    make_complaint(customers[0], "broadband_fault", "repair", resolved=False)
    found = _predictions(customers[0])
    broadband = found["broadband"]
    assert broadband.low and broadband.probability > 0.6
    assert broadband.path[0].startswith("张") and "家庭宽带 / 宽带故障" in broadband.path
    assert "未解决" in broadband.path and "故障修复" in broadband.path
    assert not found["tariff"].low and found["tariff"].path == []
    assert not found["wireless"].low


def test_one_resolved_complaint_is_not_enough_but_a_threat_to_leave_adds_up(customers):
    make_complaint(customers[1], "roaming_charge", "refund", resolved=True)
    assert not _predictions(customers[1])["tariff"].low
    make_complaint(customers[1], "tariff_dispute", "port_out", resolved=True)
    tariff = _predictions(customers[1])["tariff"]
    assert tariff.low and "转网倾向" in tariff.path


def test_truth_and_evaluation():
    assert satisfaction.truth_label([("slow_data", False)], "wireless")
    assert not satisfaction.truth_label([("slow_data", True)], "wireless")
    assert not satisfaction.truth_label([("slow_data", False)], "tariff")
    pairs = [(True, True), (True, False), (False, True), (False, False)]
    assert satisfaction.evaluate(pairs) == {
        "customers": 4, "truly_low": 2, "precision": 0.5, "recall": 0.5,
    }  # fmt: skip


def _answer(customer, score):
    from factories import make_survey_task
    from keycare.surveys.actions import record_answer

    task = make_survey_task(customer)
    top = task.template.scale_max
    record_answer(None, task, {q["code"]: min(score, top) for q in task.template.questions}, "sms")


def test_predictions_checked_against_the_answered_surveys(customers):
    make_complaint(customers[0], "broadband_fault", "repair", resolved=False)
    _answer(customers[0], 1)  # predicted low, answered low
    make_complaint(customers[1], "roaming_charge", "refund", resolved=True)
    _answer(customers[1], 10)  # not predicted, answered high
    make_complaint(customers[2], "broadband_fault", "repair", resolved=False)
    _answer(customers[2], 10)  # predicted low, answered high
    _answer(customers[3], 1)  # no complaint: not a prediction to check
    assert services.satisfaction_against_surveys() == {
        "customers": 3, "truly_low": 1, "precision": 0.5, "recall": 1.0,
    }  # fmt: skip
