"""Satisfaction surveys as indicator rows: the ``surveys`` indicators of engine/indicators.yaml
computed from the answered surveys, shown by the satisfaction analysis (6.2.9) and the API."""

from __future__ import annotations

from datetime import datetime, time

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from factories import DAY, make_customer, make_manager, make_org, make_survey_task, make_user
from keycare.access import roles
from keycare.analytics.loaders import load_survey_indicators
from keycare.analytics.models import IndicatorValue
from keycare.surveys import actions

pytestmark = pytest.mark.django_db
NOON = timezone.make_aware(datetime.combine(DAY, time(12)))


@pytest.fixture
def answered():
    """Three answers in Nanjing (M1: 9/10/8 and 2/3/1; M2: 5/5/5), one in Suzhou (10/10/10)."""
    org = make_org()
    m1, m2 = make_manager(org["C025"], "M1"), make_manager(org["C025"], "M2")
    m3 = make_manager(org["C0512"], "M3")
    answers = [(m1, "S1", {"q1": 9, "q2": 10, "q3": 8}), (m1, "S2", {"q1": 2, "q2": 3, "q3": 1})]
    answers += [(m2, "S3", {"q1": 5, "q2": 5, "q3": 5}), (m3, "S4", {"q1": 10, "q2": 10, "q3": 10})]
    indexes = []
    for manager, sid, scores in answers:
        customer = make_customer(org["C025" if manager != m3 else "C0512"], sid, manager)
        task = make_survey_task(customer)
        user = make_user(f"u{sid}", roles.ROLE_MANAGER, manager=manager)
        indexes.append(actions.answer_survey(user, task.pk, scores).index)
    return org, indexes


def test_the_index_and_responses_become_monthly_indicator_rows(answered):
    org, indexes = answered
    rows = load_survey_indicators()
    assert rows > 0
    month = timezone.localdate().replace(day=1)
    values = IndicatorValue.objects.filter(indicator="survey_index", dimension="city", period=month)
    by_city = {v.city.code: v.num / v.den for v in values}
    assert by_city["C025"] == pytest.approx(sum(indexes[:3]) / 3)
    assert by_city["C0512"] == pytest.approx(indexes[3])
    responses = IndicatorValue.objects.get(
        indicator="survey_responses", dimension="manager", member="M1", period=month
    )
    assert responses.num == 2
    low = IndicatorValue.objects.get(
        indicator="survey_low_rate", dimension="province", city__code="C025", period=month
    )
    assert low.num == 2 and low.den == 3  # 2/3/1 and 5/5/5 are below the threshold (60)
    stored = IndicatorValue.objects.filter(indicator__startswith="survey_").count()
    assert stored == rows
    assert load_survey_indicators() == rows  # idempotent: replaced, not added
    assert IndicatorValue.objects.filter(indicator__startswith="survey_").count() == stored


def test_the_api_and_the_satisfaction_analysis_show_them(answered, client):
    org, indexes = answered
    load_survey_indicators()
    period = timezone.localdate().strftime("%Y-%m")
    api = APIClient()
    api.force_authenticate(make_user("analyst", roles.ROLE_ANALYST))
    listed = {i["code"]: i for i in api.get("/api/indicators/").json()["results"]}
    assert listed["survey_index"]["source"] == "surveys"
    assert "manager" in listed["survey_index"]["dimensions"]
    body = api.get(
        "/api/indicators/survey_index/values/", {"dimension": "city", "period": period}
    ).json()
    assert {r["member"]: round(r["value"], 2) for r in body["results"]}["C0512"] == indexes[3]
    client.force_login(make_user("analyst2", roles.ROLE_ANALYST))
    page = client.get("/analytics/analyses/satisfaction/", {"period": period})
    assert page.status_code == 200
    html = page.content.decode()
    assert "满意度指数(调查)" in html and "客户经理满意度" in html


def test_a_city_administrator_sees_only_their_citys_survey_figures(answered):
    org, _ = answered
    load_survey_indicators()
    period = timezone.localdate().strftime("%Y-%m")
    api = APIClient()
    api.force_authenticate(make_user("ca", roles.ROLE_CITY_ADMIN, city=org["C0512"].city))
    body = api.get(
        "/api/indicators/survey_responses/values/", {"dimension": "city", "period": period}
    ).json()
    assert [r["member"] for r in body["results"]] == ["C0512"]
