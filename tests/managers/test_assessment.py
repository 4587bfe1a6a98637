"""业绩考核: indicators as data computed per period from recorded work; churn judged against
the control group; adjustments with a reason re-rank within comparable managers; periods move
computed → reviewed → approved → locked; managers see their own results once approved; the
Excel export and ``keycare assess``."""

from datetime import date, datetime, timedelta
from io import BytesIO, StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from openpyxl import load_workbook

from factories import make_customer, make_manager, make_org, make_task, make_user
from keycare.access import roles
from keycare.core.models import AuditEvent
from keycare.errors import UserError
from keycare.managers import actions
from keycare.managers.models import Assessment, AssessmentPeriod, Indicator
from keycare.runs.models import Run
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
    assert Indicator.objects.count() == 9
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
    # No work orders: no data, left out of the score rather than counted as zero.
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
