"""The standard task payload (seed slide 11) and its export."""

import csv
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from factories import BUSINESS_DATE, make_task
from keycare.tasks.models import ServiceTask, TaskMoment
from keycare.tasks.payload import export_payloads, fill_template, task_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def tasks(customers, manager, moments):
    made = []
    for customer in customers[:3]:
        task = make_task(
            customer,
            BUSINESS_DATE,
            priority_score=80.0,
            risk_probability=0.61,
            risk_reasons=["近3月消费持续下降", "异网通话占比上升"],
            health_scores={"tariff_brand": 55, "call_circle": 70},
        )
        TaskMoment.objects.create(
            task=task,
            moment=moments["A03"],
            priority=80,
            params={"bill_m1": 86.0, "drop_pct": 30},
            explanation="本月消费 86 元，较上月下降 43%（阈值 30%）",
        )
        TaskMoment.objects.create(
            task=task, moment=moments["A04"], priority=60, params={"balance": 3.5}
        )
        made.append(task)
    return made


def test_payload_has_the_standard_fields_masked(tasks):
    payload = task_payload(tasks[0])
    for key in (
        "customer",
        "attributes",
        "moment_types",
        "moments",
        "description",
        "generated_at",
        "risk",
        "script",
    ):
        assert key in payload
    customer = payload["customer"]
    assert customer["name"] == "张**" and customer["msisdn"] == "138****0001"
    assert customer["subscriber_id"] == "S001" and customer["city"] == "南京市"
    assert customer["birth_date"] == "1980-**-**"
    assert payload["attributes"]["handset_brand"] == "华为"
    assert payload["moment_types"] == ["A03", "A04"]
    assert payload["moments"][0]["parameters"] == {"bill_m1": 86.0, "drop_pct": 30}
    assert payload["description"].startswith("本月消费 86 元")
    assert payload["risk"] == {
        "probability": 0.61,
        "reasons": ["近3月消费持续下降", "异网通话占比上升"],
        "health_scores": {"tariff_brand": 55, "call_circle": 70},
    }
    assert payload["script"] == "张先生您好，您本月消费86元，较上月下降30%。"
    json.dumps(payload, ensure_ascii=False)  # JSON-ready


def test_unmasked_payload_for_the_outbound_system(tasks):
    payload = task_payload(tasks[0], masked=False)
    assert (
        payload["customer"]["name"] == "张三丰" and payload["customer"]["msisdn"] == "13812340001"
    )


def test_fill_template_formats_and_keeps_unknown_placeholders():
    assert fill_template("下降{drop:.1f}%，{missing}", {"drop": 43.25}) == "下降43.3%，{missing}"


def test_exports_in_three_formats_with_bounded_queries(tasks):
    with CaptureQueriesContext(connection) as queries:
        data = export_payloads(ServiceTask.objects.all(), "csv")
    assert len(queries) <= 4  # tasks (+customer, city, county, manager) and their moments
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows) == 4 and rows[0][0] == "任务编号 task_id"
    assert "138****0001" in rows[1] and "张**" in rows[1]
    as_json = json.loads(export_payloads(tasks, "json"))
    assert [p["task_id"] for p in as_json] == [t.pk for t in tasks]
    sheet = load_workbook(io.BytesIO(export_payloads(tasks, "xlsx"))).active
    assert sheet.max_row == 4  # one header row (中文 + code, as in the CSV), three tasks
    assert sheet.cell(row=1, column=1).value == "任务编号 task_id"
    with pytest.raises(ValueError):
        export_payloads(tasks, "pdf")
