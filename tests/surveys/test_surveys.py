"""Satisfaction surveys: tasks drawn by rule, answered by the manager, scored with the
versioned weights; a low score raises a follow-up; results by dimension and city."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from factories import (
    DAY,
    make_customer,
    make_department,
    make_key_account,
    make_manager,
    make_org,
    make_survey_task,
    make_task,
    make_user,
    make_work_order,
)
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.errors import UserError
from keycare.keyaccounts.models import KeyAccountMember
from keycare.surveys import actions
from keycare.surveys.models import SatisfactionModel, SurveyResponse, SurveyState, SurveyTask
from keycare.tasks.models import Appointment

pytestmark = pytest.mark.django_db
NOON = timezone.make_aware(datetime.combine(DAY, time(12)))


@pytest.fixture
def world():
    org = make_org()
    nanjing = org["C025"]
    m1, m2 = make_manager(nanjing, "M1"), make_manager(nanjing, "M2")
    customers = [make_customer(nanjing, f"S{i}", m1 if i < 3 else m2) for i in range(5)]
    return {"org": org, "managers": (m1, m2), "customers": customers}


def test_the_index_uses_the_weights_of_the_dimensions_asked(world):
    model = actions.current_model()
    template = make_survey_task(world["customers"][0], "periodic").template
    answers = {"q1": 10, "q2": 5, "q3": 10, "q4": 10, "q5": 10}
    dims, index = actions.score(template, model, answers)
    assert dims["manager"] == 50.0 and dims["product"] == 100.0
    assert index == pytest.approx(100 - 0.25 * 50)
    short = make_survey_task(world["customers"][1]).template  # manager, relationship, product
    dims, index = actions.score(short, model, {"q1": 0, "q2": 10, "q3": 10})
    assert index == pytest.approx((0 * 0.25 + 100 * 0.15 + 100 * 0.25) / 0.65, abs=0.01)


def test_drawing_by_rule(world):
    c = world["customers"]
    make_task(c[0], state="handled_no_change", handled_at=NOON)
    make_task(c[1], state="unhandled")  # not served: no survey
    work_order = make_work_order(make_task(c[2]), make_department(), closed_at=NOON)
    ka = make_key_account(world["org"]["C025"], manager=world["managers"][1])
    KeyAccountMember.objects.create(
        key_account=ka, customer=c[3], role="key_person", joined_date=DAY
    )
    KeyAccountMember.objects.create(key_account=ka, customer=c[4], role="member", joined_date=DAY)
    counts = actions.draw_survey_tasks(None, DAY)
    assert counts == {"moment_served": 1, "workorder_closed": 1, "periodic": 2}
    sources = dict(SurveyTask.objects.values_list("customer__subscriber_id", "source"))
    assert sources["S0"].startswith("task:") and sources["S2"] == f"workorder:{work_order.pk}"
    assert SurveyTask.objects.get(customer=c[3]).respondent == "key_person"
    assert actions.draw_survey_tasks(None, DAY + timedelta(days=1))["periodic"] == 0  # quiet
    assert AuditEvent.objects.filter(action="surveys.draw").count() == 1


def test_the_manager_answers_and_a_low_score_raises_a_follow_up(client, world):
    m1 = world["managers"][0]
    user = make_user("m1", roles.ROLE_MANAGER, manager=m1)
    task = make_survey_task(world["customers"][0])
    client.force_login(user)
    page = client.get(f"/surveys/{task.pk}/").content.decode()
    assert "关键时刻服务回访" in page and "张三丰" not in page  # the name is masked
    response = client.post(f"/surveys/{task.pk}/", {"q1": "2", "q2": "3", "q3": "1"})
    assert response.status_code == 302
    answer = SurveyResponse.objects.get(task=task)
    assert answer.index < 60 and answer.model.version == 1
    follow_up = Appointment.objects.get(pk=answer.follow_up_id)
    assert follow_up.manager == m1 and "满意度" in follow_up.notes
    task.refresh_from_db()
    assert task.state == SurveyState.ANSWERED
    assert client.post(f"/surveys/{task.pk}/", {"q1": "9", "q2": "9", "q3": "9"}).status_code == 400
    assert SurveyResponse.objects.count() == 1


def test_a_high_score_raises_nothing(world):
    user = make_user("m1", roles.ROLE_MANAGER, manager=world["managers"][0])
    task = make_survey_task(world["customers"][0])
    answer = actions.answer_survey(user, task.pk, {"q1": 9, "q2": 10, "q3": 8})
    assert answer.follow_up_id is None and answer.index > 80


@pytest.mark.parametrize(
    "data",
    [{"q1": "9", "q2": "9"}, {"q1": "11", "q2": "9", "q3": "9"}, {"q1": "x", "q2": "1", "q3": "1"}],
)
def test_a_bad_answer_is_refused_and_nothing_is_saved(client, world, data):
    client.force_login(make_user("m1", roles.ROLE_MANAGER, manager=world["managers"][0]))
    task = make_survey_task(world["customers"][0])
    response = client.post(f"/surveys/{task.pk}/", data)
    assert response.status_code == 400
    assert not SurveyResponse.objects.exists()
    task.refresh_from_db()
    assert task.state == SurveyState.OPEN


def test_another_managers_survey_is_404_and_an_analyst_cannot_answer(client, world):
    task = make_survey_task(world["customers"][0])  # manager M1's customer
    client.force_login(make_user("m2", roles.ROLE_MANAGER, manager=world["managers"][1]))
    assert client.get(f"/surveys/{task.pk}/").status_code == 404
    assert client.post(f"/surveys/{task.pk}/", {"q1": 1, "q2": 1, "q3": 1}).status_code == 404
    analyst = make_user("analyst", roles.ROLE_ANALYST)
    with pytest.raises(SurveyTask.DoesNotExist):
        actions.answer_survey(analyst, task.pk, {"q1": 1, "q2": 1, "q3": 1})


def test_results_and_a_new_model_version(client, world):
    user = make_user("m1", roles.ROLE_MANAGER, manager=world["managers"][0])
    actions.answer_survey(
        user, make_survey_task(world["customers"][0]).pk, {"q1": 2, "q2": 2, "q3": 2}
    )
    client.force_login(make_user("analyst", roles.ROLE_ANALYST))
    page = client.get("/surveys/results/").content.decode()
    assert "20.0" in page and "南京市" in page and "客户经理" in page
    assert client.post("/surveys/model/", {"low_threshold": "50"}).status_code == 403
    admin = make_user("province", roles.ROLE_PROVINCE_ADMIN)
    client.force_login(admin)
    weights = {
        "w_product": "0.2",
        "w_manager": "0.4",
        "w_channel": "0.2",
        "w_communication": "0.1",
        "w_relationship": "0.1",
    }
    client.post("/surveys/model/", {**weights, "low_threshold": "70"})
    assert SatisfactionModel.objects.first().version == 2
    client.post("/surveys/model/", {**weights, "w_manager": "0.9", "low_threshold": "70"})
    assert SatisfactionModel.objects.count() == 2  # weights not summing to 1: refused
    with pytest.raises(UserError, match="sum to 1"):
        actions.new_model_version(admin, {"product": 0.5}, 60)


def test_the_customer_answers_through_the_sms_link_once(client, world):
    actions.ensure_builtins()
    task = make_survey_task(
        world["customers"][0], token="tok-" + "x" * 30, due_on=timezone.localdate()
    )
    page = client.get(f"/s/{task.token}/")
    assert page.status_code == 200 and "关键时刻服务回访" in page.content.decode()
    assert "张三丰" not in page.content.decode()
    assert client.post(f"/s/{task.token}/", {"q1": "9"}).status_code == 400
    assert not SurveyResponse.objects.exists()
    response = client.post(f"/s/{task.token}/", {"q1": "9", "q2": "8", "q3": "10"})
    assert "感谢您的评价" in response.content.decode()
    answer = SurveyResponse.objects.get()
    assert answer.channel == "sms" and answer.answered_by is None
    assert client.get(f"/s/{task.token}/").status_code == 404  # single use
    assert client.get("/s/guess/").status_code == 404


def test_drawn_surveys_carry_their_own_link_token(world):
    make_task(world["customers"][0], state="handled_no_change", handled_at=NOON)
    actions.draw_survey_tasks(None, DAY)
    token = SurveyTask.objects.get().token
    assert token and len(token) >= 32
