"""The contact log: reached calls and registered sources (delivered SMS) become the contacts
the daily run's cool-down counts; a decision or an unreached call does not."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command

from factories import BUSINESS_DATE, make_task
from keycare.engine import publish as pub
from keycare.engine.history import contact_log_info, contact_log_path, previous_contacts
from keycare.synth.generator import generate
from keycare.tasks import contacts
from keycare.tasks.models import Outcome

pytestmark = pytest.mark.django_db
DAY = BUSINESS_DATE


@pytest.fixture
def sms_source():
    """A stand-in for the messaging app's delivery receipts, registered like it will be."""
    delivered = []

    def source(since, until, subscribers=None):
        return [
            row
            for row in delivered
            if since <= row[1] < until and (subscribers is None or row[0] in subscribers)
        ]

    contacts.register_contact_source(source)
    yield delivered
    contacts.SOURCES.remove(source)


def _outcome(customer, day, result):
    task = make_task(customer, day)
    return Outcome.objects.create(task=task, contact_result=result)


def test_reached_calls_and_delivered_sms_are_contacts(customers, sms_source, tmp_path):
    yesterday = DAY - timedelta(days=1)
    _outcome(customers[0], yesterday, "reached")
    _outcome(customers[1], yesterday, "not_reached")  # a call that never connected
    make_task(customers[2], yesterday)  # allocated, never worked
    _outcome(customers[3], DAY, "reached")  # the run's own date: not history yet
    sms_source.append((customers[4].subscriber_id, DAY - timedelta(days=3), "sms"))
    sms_source.append((customers[4].subscriber_id, DAY - timedelta(days=3), "sms"))  # receipt x2
    contacts.export_contact_log(DAY, tmp_path)
    assert contact_log_path(tmp_path).is_file()
    found = {
        r["subscriber_id"]: r["last_contact_date"]
        for r in previous_contacts(tmp_path, DAY, 7).to_pylist()
    }
    assert found == {
        customers[0].subscriber_id: yesterday,
        customers[4].subscriber_id: DAY - timedelta(days=3),
    }
    table = contacts.contacts_between(DAY - timedelta(days=7), DAY)
    assert table.num_rows == 2  # duplicates of one contact count once
    assert sorted(table["channel"].to_pylist()) == ["call", "sms"]


def test_the_run_writes_and_records_the_contact_log(tmp_path, customers):
    _outcome(customers[0], DAY - timedelta(days=2), "reached")
    data = tmp_path / "delivery"
    generate(data, subscribers=60, months=3, seed=3, as_of=DAY)
    runs = tmp_path / "runs"
    out = io.StringIO()
    options = {"date": DAY.isoformat(), "data": str(data), "runs_dir": str(runs), "json": True}
    call_command("run", stdout=out, stderr=io.StringIO(), **options)
    assert json.loads(out.getvalue().strip().splitlines()[-1])["status"] == "published"
    history = pub.read_published(runs, DAY).record["allocation"]["history"]
    assert history["contact_log"] == contact_log_info(runs)
    assert history["contact_log"]["rows"] == 1
