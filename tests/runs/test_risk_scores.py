"""Loading the whole base's risk scores of a published run into the application."""

from datetime import date, timedelta

import pytest

from keycare.runs import loaders
from keycare.runs.loaders import load_run
from keycare.runs.models import RiskScore

from .published import detection, publish_run, risk_score

pytestmark = pytest.mark.django_db
DAY = date(2026, 11, 20)


def test_scores_with_and_without_a_moment_are_loaded(tmp_path, customers, moments):
    publish_run(
        tmp_path,
        "v1",
        detections=[detection("S001", "A03")],
        risk=[risk_score("S001", 0.61), risk_score("S002", 0.83), risk_score("S999", 0.9)],
    )
    summary = load_run(tmp_path, DAY)
    assert summary["risk_scores"] == 2 and summary["unknown_subscribers"] == 1  # S999
    rows = {r.customer.subscriber_id: r for r in RiskScore.objects.select_related("customer")}
    assert rows["S001"].has_moment and not rows["S002"].has_moment
    s002 = rows["S002"]
    assert s002.risk_probability == 0.83 and s002.seed_score == 31.5
    assert s002.health_call_circle == 55.5 and s002.health_service == 100.0
    assert s002.reasons == ["异网通话占比上升", "近3月话费持续下降", "近期咨询携号转网"]
    assert s002.model_version == "abc123" and s002.business_date == DAY


def test_a_rerun_replaces_the_date_and_old_dates_are_dropped(tmp_path, customers, moments):
    for offset in range(loaders.RISK_SCORE_DAYS + 1):
        day = (DAY + timedelta(days=offset)).isoformat()
        publish_run(
            tmp_path,
            f"d{offset}",
            business_date=day,
            risk=[{**risk_score("S001", 0.1 + offset / 100), "business_date": day}],
        )
        load_run(tmp_path, DAY + timedelta(days=offset))
    kept = sorted(RiskScore.objects.values_list("business_date", flat=True))
    assert len(kept) == loaders.RISK_SCORE_DAYS
    assert kept[0] == DAY + timedelta(days=1) and kept[-1] == DAY + timedelta(days=7)
    last = (DAY + timedelta(days=7)).isoformat()
    publish_run(tmp_path, "again", business_date=last, risk=[])
    load_run(tmp_path, DAY + timedelta(days=7), force=True)
    assert not RiskScore.objects.filter(business_date=DAY + timedelta(days=7)).exists()
