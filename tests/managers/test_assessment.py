"""业绩考核: indicators as data computed per period from recorded work; churn and revenue judged
against the control group; satisfaction from the survey answers; adjustments with a reason re-rank within comparable managers; periods move
computed → reviewed → approved → locked; managers see their own results once approved; the
Excel export and ``keycare assess``."""

from datetime import date, datetime, timedelta
from io import BytesIO, StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from openpyxl import load_workbook

from factories import (
    make_customer,
    make_manager,
    make_org,
    make_survey_task,
    make_task,
    make_user,
)
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.customers.models import CustomerHistory
from keycare.errors import UserError
from keycare.managers import actions
from keycare.managers.models import Assessment, AssessmentPeriod, Indicator
from keycare.runs.models import Run
from keycare.surveys.actions import record_answer
from keycare.surveys.models import SurveyResponse
from keycare.tasks.models import AllocationDecision, Outcome

pytestmark = pytest.mark.django_db
START, END = date(2026, 11, 1), date(2026, 11, 30)
DAY = date(2026, 11, 10)


def aware(day, hour=10):
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour))


@pytest.fixture
def world(db):
    places = make_org()
    nj, sz = places["C025"], places["C0512"]
    m1, m2, m3 = make_manager(nj, "M1"), make_manager(nj, "M2"), make_manager(sz, "M3")
    run = Run.objects.create(run_id="run-20261110", business_date=DAY)
    n = 0

    def customer(manager, place=nj, **extra):
        nonlocal n
        n += 1
        return make_customer(place, f"S{n:03d}", manager, **extra)

    # M1: four call tasks, three handled the next day; outcomes 2 reached of 3; 1 of 2 accepted.
    for i in range(4):
        task = make_task(customer(m1), DAY)
        if i < 3:
            task.state, task.handled_at = "handled_no_change", aware(DAY + timedelta(days=1))
            task.save()
            Outcome.objects.create(
                task=task,
                contact_result="reached" if i < 2 else "not_reached",
                recommendation=("accepted", "declined", "none")[i],
            )
    # M2: two call tasks, none handled.
    for _ in range(2):
        make_task(customer(m2), DAY)
    # The control group of 南京: 2 of 4 churned. M1's treated customers: none churned; M2's: all.
    churned = {"status": "churned", "status_date": DAY + timedelta(days=5)}
    decisions = [(customer(None, **(churned if i < 2 else {})), None, "control") for i in range(4)]
    decisions += [(customer(m1), m1, "call") for _ in range(2)]
    decisions += [(customer(m2, **churned), m2, "call") for _ in range(2)]
    AllocationDecision.objects.bulk_create(
        AllocationDecision(run=run, customer=c, manager=m, business_date=DAY, decision=d)
        for c, m, d in decisions
    )
    return {
        "nj": nj,
        "sz": sz,
        "m1": m1,
        "m2": m2,
        "m3": m3,
        "province": make_user("prov", roles.ROLE_PROVINCE_ADMIN),
        "city": make_user("city", roles.ROLE_CITY_ADMIN, city=nj.city),
    }


def compute(world):
    return actions.compute_period(world["province"], name="2026-11", start=START, end=END)


def test_values_scores_and_ranking(world):
    period = compute(world)
    assert Indicator.objects.count() == 11
    a1 = Assessment.objects.get(period=period, manager=world["m1"])
    a2 = Assessment.objects.get(period=period, manager=world["m2"])
    v = a1.values
    assert v["tasks_handled"]["value"] == pytest.approx(3 / 4)
    assert v["tasks_on_time"]["value"] == pytest.approx(3 / 4)
    assert v["contact_rate"]["value"] == pytest.approx(2 / 3)
    assert v["recommendation_acceptance"]["value"] == pytest.approx(1 / 2)
    # Control churn 0.5: M1 kept everyone (+0.5), M2 lost everyone (−0.5, scored 0).
    assert v["churn_vs_control"]["value"] == pytest.approx(0.5)
    assert a2.values["churn_vs_control"]["value"] == pytest.approx(-0.5)
    assert a2.values["churn_vs_control"]["score"] == 0
    # Revenue (fee 188): the control group lost 2 × 188 over 4 customers (−94 each); M1 kept
    # both fees (+94 against control), M2 lost both (−94).
    assert v["revenue_vs_control"]["value"] == pytest.approx(94)
    assert (v["revenue_vs_control"]["num"], v["revenue_vs_control"]["den"]) == (0, 2)
    assert a2.values["revenue_vs_control"]["value"] == pytest.approx(-94)
    assert v["revenue_vs_control"]["score"] == 100 and a2.values["revenue_vs_control"]["score"] == 0
    # No work orders and no survey answers: no data, left out of the score, not zero.
    assert v["satisfaction"]["score"] is None
    assert v["sla_met"]["score"] is None
    assert (a1.rank, a1.group_size, a2.rank) == (1, 2, 2)
    a3 = Assessment.objects.get(period=period, manager=world["m3"])
    assert (a3.rank, a3.group_size, a3.score) == (1, 1, 0.0)


def test_adjust_then_approve_and_lock(client, world):
    period = compute(world)
    a2 = Assessment.objects.get(period=period, manager=world["m2"])
    with pytest.raises(UserError, match="原因"):
        actions.adjust_assessment(world["city"], a2, adjustment=5, reason=" ")
    with pytest.raises(UserError, match="±20"):
        actions.adjust_assessment(world["city"], a2, adjustment=50, reason="x")
    gap = Assessment.objects.get(period=period, manager=world["m1"]).score - a2.score
    actions.adjust_assessment(world["city"], a2, adjustment=min(20, gap + 1), reason="支援抗灾保障")
    assert Assessment.objects.get(pk=a2.pk).rank == (1 if gap + 1 <= 20 else 2)
    assert AuditEvent.objects.get(action="assessment.adjust").detail["reason"] == "支援抗灾保障"
    # A recomputation keeps the recorded adjustment.
    compute(world)
    again = Assessment.objects.get(period=period, manager=world["m2"])
    assert again.adjustment_reason == "支援抗灾保障"
    with pytest.raises(UserError, match="逐级"):
        actions.advance_period(world["province"], period, "approved")
    for status in ("reviewed", "approved", "locked"):
        actions.advance_period(world["province"], period, status)
    with pytest.raises(UserError, match="不能重新计算"):
        compute(world)
    with pytest.raises(UserError, match="不能调整"):
        actions.adjust_assessment(world["city"], again, adjustment=1, reason="x")


def test_pages_scope_export_and_visibility(client, world):
    period = compute(world)
    client.force_login(world["city"])
    page = client.get(f"/assessments/{period.pk}/")
    assert {r["a"].manager.manager_id for r in page.context["rows"]} == {"M1", "M2"}
    export = client.get(f"/assessments/{period.pk}/?format=xlsx")
    sheet = load_workbook(BytesIO(export.content)).active
    assert sheet.cell(1, 2).value == "工号" and sheet.max_row == 3
    assert (
        client.post(f"/assessments/{period.pk}/status/", {"status": "reviewed"}).status_code == 403
    )
    response = client.post(
        f"/assessments/rows/{page.context['rows'][0]['a'].pk}/adjust/",
        {"adjustment": "abc", "reason": "x"},
        follow=True,
    )
    assert "调整分须为数字" in response.content.decode()
    # The manager sees nothing until the period is approved, then only their own row.
    manager = make_user("m1", roles.ROLE_MANAGER, manager=world["m1"])
    client.force_login(manager)
    assert client.get(f"/assessments/{period.pk}/").status_code == 404
    actions.advance_period(world["province"], period, "reviewed")
    actions.advance_period(world["province"], period, "approved")
    rows = client.get(f"/assessments/{period.pk}/").context["rows"]
    assert [r["a"].manager.manager_id for r in rows] == ["M1"]
    assert len(client.get("/assessments/").context["own"]) == 1
    client.force_login(world["province"])
    response = client.post("/assessments/compute/", {"month": "2026-13"}, follow=True)
    assert "考核月份须为 YYYY-MM" in response.content.decode()


def test_assess_command_writes_the_excel(world, tmp_path):
    out = StringIO()
    target = tmp_path / "kpi.xlsx"
    call_command("assess", "--month", "2026-11", "--xlsx", str(target), stdout=out)
    assert "3 位经理" in out.getvalue() and "计算指标 churn_vs_control" in out.getvalue()
    assert load_workbook(target).active.max_row == 4
    assert AssessmentPeriod.objects.get().name == "2026-11"
    with pytest.raises(Exception, match="YYYY-MM"):
        call_command("assess", "--month", "11/2026", stdout=StringIO())


def _fee_change(customer, old, new, day):
    row = CustomerHistory.objects.create(customer=customer, changes={"plan_fee": [old, new]})
    CustomerHistory.objects.filter(pk=row.pk).update(at=aware(day))


def test_revenue_follows_the_archive_history_of_plan_fees(world):
    treated = [d.customer for d in AllocationDecision.objects.filter(manager=world["m1"])]
    # One downgrade after the decision (188 -> 128: −60), one change loaded before it (counts
    # as the fee the customer already paid when decided: no change), and a control customer
    # who upgraded after (+12 in the control group: mean −91).
    treated[0].plan_fee = 128
    treated[0].save()
    _fee_change(treated[0], "188.00", "128.00", DAY + timedelta(days=3))
    treated[1].plan_fee = 88
    treated[1].save()
    _fee_change(treated[1], "188.00", "88.00", DAY - timedelta(days=1))
    control = AllocationDecision.objects.filter(decision="control", customer__status="active")
    upgraded = control.first().customer
    upgraded.plan_fee = 200
    upgraded.save()
    _fee_change(upgraded, "188.00", "200.00", DAY + timedelta(days=2))
    v = Assessment.objects.get(period=compute(world), manager=world["m1"]).values
    assert v["revenue_vs_control"]["value"] == pytest.approx((-60 - 0) / 2 + 91)
    assert v["revenue_vs_control"]["num"] == pytest.approx(-60)


def test_satisfaction_is_the_mean_index_of_the_period_answers(world):
    customers = [d.customer for d in AllocationDecision.objects.filter(manager=world["m1"])]
    answered = zip(customers[:1] * 3, (9, 7, 2), (DAY, DAY, END + timedelta(1)), strict=True)
    for customer, mood, day in answered:
        task = make_survey_task(customer, source=f"test:{customer.pk}:{mood}")
        answers = {q["code"]: mood for q in task.template.questions}
        response = record_answer(None, task, answers, "sms")
        SurveyResponse.objects.filter(pk=response.pk).update(answered_at=aware(day))
    indexes = list(
        SurveyResponse.objects.filter(answered_at__lt=aware(END + timedelta(1), 0))
        .values_list("index", flat=True)
    )  # fmt: skip
    period = compute(world)
    v = Assessment.objects.get(period=period, manager=world["m1"]).values["satisfaction"]
    assert len(indexes) == 2 and v["den"] == 2  # the answer after the period is left out
    assert v["value"] == pytest.approx(sum(indexes) / 2)
    assert v["score"] == pytest.approx(min(v["value"] / 85.0, 1) * 100)
    assert (
        Assessment.objects.get(period=period, manager=world["m2"]).values["satisfaction"]["value"]
        is None
    )


def test_plan_completion_reads_every_plan_as_plan_actual_does(world):
    from factories import make_appointment, make_manager_key_account
    from keycare.managers import assessment, plans
    from keycare.managers.models import PlanItem, WorkPlan, WorkRecord

    m1, nj = world["m1"], world["nj"]
    groups = [make_manager_key_account(nj.city, f"K{i}", m1) for i in range(3)]
    person = make_customer(nj, "S900", m1)
    week = WorkPlan.objects.create(
        manager=m1, city=nj.city, period="week", start=date(2026, 11, 9),
        end=date(2026, 11, 15), status="approved",
    )  # fmt: skip
    month = WorkPlan.objects.create(
        manager=m1, city=nj.city, period="month", start=START, end=END, status="submitted"
    )
    done = make_appointment(person, aware(DAY), done_at=aware(DAY))
    for plan in (week, month):
        for group in groups:
            PlanItem.objects.create(plan=plan, kind="visit", due_date=DAY, source="standard",
                                    key_account=group)  # fmt: skip
        PlanItem.objects.create(plan=plan, kind="call", due_date=DAY, source="manual",
                                customer=person)  # fmt: skip
        PlanItem.objects.create(plan=plan, kind="call", due_date=DAY, source="appointment",
                                appointment=done)  # fmt: skip
    # K0 visited inside the week, K1 after it (counts for the month only), the call note
    # names the person (both plans).
    for group, day in ((groups[0], DAY), (groups[1], DAY + timedelta(days=10))):
        WorkRecord.objects.create(manager=m1, city=nj.city, kind="visit", at=aware(day),
                                  key_account=group, content="走访")  # fmt: skip
    call = WorkRecord.objects.create(manager=m1, city=nj.city, kind="call", at=aware(DAY),
                                     content="电话")  # fmt: skip
    call.persons.add(person)
    expected = [plans.plan_actual(p) for p in (week, month)]
    value, num, den = assessment.plan_completion(START, END)[m1.pk]
    assert (num, den) == (3 + 4, 10)
    assert num == sum(sum(a.achieved.values()) for a in expected)
    assert value == pytest.approx(0.7)


def _history(customer, changes, at):
    row = CustomerHistory.objects.create(customer=customer, changes=changes)
    CustomerHistory.objects.filter(pk=row.pk).update(at=at)


def test_revenue_vs_control_pinned_on_a_hand_computed_month(db):
    """Every rule of the revenue indicator on one small month, figures computed by hand:
    first decision of the period per customer and manager, the old fee of the first readable
    plan-fee change loaded after that (local) day, churn as losing the whole fee, a customer
    decided by two managers counted for both, each city against its own control group, a city
    without a control group left out."""
    from keycare.managers.assessment import revenue_vs_control

    places = make_org(cities=(("C025", "南京市"), ("C0512", "苏州市"), ("C0513", "南通市")))
    nj, sz, nt = places["C025"], places["C0512"], places["C0513"]
    ma, mb, mc = make_manager(nj, "MA"), make_manager(nj, "MB"), make_manager(nt, "MC")
    run = Run.objects.create(run_id="run-rev", business_date=DAY)
    made = {}

    def cust(code, place, manager=None, fee=100, churned_on=None):
        extra = {"plan_fee": fee}
        if churned_on:
            extra |= {"status": "churned", "status_date": churned_on}
        made[code] = make_customer(place, code, manager, **extra)
        return made[code]

    def day(d):
        return date(2026, 11, d)

    decisions = []

    def decide(customer, d, decision="call", manager=None):
        decisions.append(
            AllocationDecision(run=run, customer=customer, manager=manager,
                               business_date=d, decision=decision)
        )  # fmt: skip

    def fee(old, new):
        return {"plan_fee": [old, new]}

    # 南京 control, mean (0 − 100 + 50 + 0) / 4 = −12.5:
    decide(cust("K1", nj), day(10), "control")  # no change: 0
    decide(cust("K2", nj, churned_on=day(20)), day(10), "control")  # churned after: −100
    k3 = cust("K3", nj, fee=150)  # first decided 11-05, upgraded 11-08 (100 → 150): +50
    decide(k3, day(5), "control")
    decide(k3, day(12), "control")
    _history(k3, fee("100.00", "150.00"), aware(day(8)))
    k4 = cust("K4", nj)  # changed the day it was decided: the fee it already paid, 0
    decide(k4, day(10), "control")
    _history(k4, fee("80.00", "100.00"), aware(day(10)))
    # 苏州 control, mean (0 − 40) / 2 = −20:
    decide(cust("S1", sz), day(3), "control")
    s2 = cust("S2", sz, fee=60)  # two changes after 11-03: the first one's old fee (100)
    decide(s2, day(3), "control")
    _history(s2, fee("100.00", "80.00"), aware(day(6)))
    _history(s2, fee("80.00", "60.00"), aware(day(15)))

    # MA's customers in 南京: −20 + 30 + 10 + 0 + 0 + 0 = 20 over 6.
    a1 = cust("A1", nj, ma)  # decided 11-02 (and again 11-20): fee 120 then, 100 now: −20
    decide(a1, day(2), "call", ma)
    decide(a1, day(20), "sms", ma)
    _history(a1, fee("120.00", "100.00"), aware(day(10)))
    a2 = cust("A2", nj, ma)  # changed 07:00 local on 11-13 (11-12 in UTC): after 11-12, +30
    decide(a2, day(12), "call", ma)
    _history(a2, fee("70.00", "100.00"), aware(day(13), 7))
    a3 = cust("A3", nj, ma)  # an unreadable old fee is skipped; the next change says 90: +10
    decide(a3, day(12), "call", ma)
    _history(a3, {"name": ["甲", "乙"]}, aware(day(13)))
    _history(a3, fee(None, "100.00"), aware(day(14)))
    _history(a3, fee("90.00", "100.00"), aware(day(16)))
    decide(cust("A4", nj, ma, churned_on=day(12)), day(12), "call", ma)  # churned that day: 0
    decide(cust("A5", nj, ma, churned_on=date(2026, 12, 5)), day(12), "call", ma)  # later: 0
    a7 = cust("A7", nj, ma)  # decided before the period and on 11-08; a change on 11-01: 0
    decide(a7, date(2026, 10, 31), "call", ma)
    decide(a7, day(8), "call", ma)
    _history(a7, fee("50.00", "100.00"), aware(day(1)))
    _history(a7, fee("40.00", "50.00"), aware(date(2026, 10, 20)))
    # MA's customer in 苏州: churned 11-25, −100, against 苏州's control.
    decide(cust("A6", sz, ma, churned_on=day(25)), day(4), "call", ma)
    # MB: also decided A1 (first on 11-15, after its change: 0) and B2 (churned, −200).
    decide(a1, day(15), "call", mb)
    decide(cust("B2", nj, mb, fee=200, churned_on=day(11)), day(10), "sms", mb)
    decide(cust("B3", nj, mb, churned_on=day(11)), day(10), "deferred", mb)  # not treated
    decide(cust("B4", nj, churned_on=day(11)), day(10), "call")  # no manager
    # MC: 南通 has no control group, so nothing to compare with.
    decide(cust("C1", nt, mc, churned_on=day(11)), day(10), "call", mc)
    AllocationDecision.objects.bulk_create(decisions)

    result = revenue_vs_control(START, END)
    assert set(result) == {ma.pk, mb.pk}
    # MA: 南京 20 − (−12.5 × 6) = 95; 苏州 −100 − (−20 × 1) = −80; (95 − 80) / 7.
    value, num, den = result[ma.pk]
    assert value == pytest.approx(15 / 7) and num == pytest.approx(-80) and den == 7
    # MB: −200 − (−12.5 × 2) = −175 over 2.
    value, num, den = result[mb.pk]
    assert value == pytest.approx(-87.5) and num == pytest.approx(-200) and den == 2
