"""A complaint moment's task carries the predicted cause and need; script and tactics follow."""

import json

import pytest

from factories import BUSINESS_DATE, make_complaint, make_moment, make_tactics, make_task
from keycare.complaints import taxonomy
from keycare.complaints.models import Complaint
from keycare.tasks.models import TaskMoment
from keycare.tasks.payload import task_payload

pytestmark = pytest.mark.django_db


def _complaint(customer, cause, need, day=BUSINESS_DATE):
    return make_complaint(customer, cause, need, day)


@pytest.fixture
def a01_task(customers):
    make_tactics()
    moment = make_moment("A01", script="您好，我是您的专属客户经理。", thresholds={"days": 1})
    task = make_task(customers[0], BUSINESS_DATE, risk_probability=0.2)
    TaskMoment.objects.create(task=task, moment=moment, priority=90, params={"days": 1})
    return task


def test_a01_task_carries_the_cause_and_its_script_and_tactics(a01_task):
    _complaint(a01_task.customer, "broadband_fault", "repair")
    payload = task_payload(a01_task)
    cause = taxonomy.load().causes["broadband_fault"]
    assert payload["complaint"]["cause"] == "broadband_fault"
    assert payload["complaint"]["cause_label"] == "家庭宽带 / 宽带故障"
    assert payload["complaint"]["need_label"] == "故障修复"
    assert payload["script"] == cause.script
    codes = [t["code"] for t in payload["suggested_tactics"]]
    assert codes[: len(cause.tactics)] == list(cause.tactics)
    assert len(codes) == len(set(codes))


def test_the_latest_complaint_wins_and_old_ones_are_ignored(a01_task):
    _complaint(a01_task.customer, "roaming_charge", "refund")
    later = _complaint(a01_task.customer, "staff_attitude", "apology")
    later.occurred_at = later.occurred_at.replace(hour=15)
    later.save()
    assert task_payload(a01_task)["complaint"]["cause"] == "staff_attitude"
    Complaint.objects.all().delete()
    _complaint(a01_task.customer, "roaming_charge", "refund", day=BUSINESS_DATE.replace(month=9))
    payload = task_payload(a01_task)
    assert payload["complaint"] is None
    assert payload["script"] == "您好，我是您的专属客户经理。"


def test_other_moments_are_untouched(customers, moments):
    task = make_task(customers[1], BUSINESS_DATE)
    TaskMoment.objects.create(task=task, moment=moments["A03"], priority=80, params={})
    _complaint(customers[1], "broadband_fault", "repair")
    assert task_payload(task)["complaint"] is None


def test_export_reads_the_complaints_of_many_tasks_in_one_query(customers, a01_task):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from keycare.tasks.models import ServiceTask
    from keycare.tasks.payload import export_payloads

    moment = a01_task.moments.get().moment
    for customer in customers[1:4]:
        task = make_task(customer, BUSINESS_DATE)
        TaskMoment.objects.create(task=task, moment=moment, priority=90, params={"days": 1})
        _complaint(customer, "slow_data", "repair")
    _complaint(a01_task.customer, "broadband_fault", "repair")
    with CaptureQueriesContext(connection) as one:
        export_payloads(ServiceTask.objects.filter(pk=a01_task.pk), "json")
    with CaptureQueriesContext(connection) as many:
        data = json.loads(export_payloads(ServiceTask.objects.all(), "json"))
    assert len(many) == len(one)
    causes = {p["task_id"]: p["complaint"]["cause"] for p in data}
    assert causes[a01_task.pk] == "broadband_fault"
    assert sorted(causes.values()).count("slow_data") == 3
