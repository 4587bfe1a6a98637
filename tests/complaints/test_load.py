"""keycare complaints load: a delivery's texts classified and stored, idempotently, audited."""

import io
import json

import duckdb
import pytest
from django.core.management import call_command

from keycare.complaints.models import Complaint
from keycare.core.models import AuditEvent
from keycare.synth.generator import generate

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def delivery(tmp_path_factory):
    out = tmp_path_factory.mktemp("complaints") / "d"
    generate(out, subscribers=400, months=3, seed=8)
    return out


def _load(delivery):
    out = io.StringIO()
    call_command("complaints", "load", str(delivery), stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue().strip().splitlines()[-1])


def test_texts_are_classified_stored_and_reloaded_without_duplicates(home, delivery):
    call_command("load", str(delivery), stdout=io.StringIO(), stderr=io.StringIO())
    summary = _load(delivery)
    expected = (
        duckdb.connect()
        .sql(f"SELECT count(*) FROM '{delivery / 'events.parquet'}' WHERE text IS NOT NULL")
        .fetchall()[0][0]
    )
    assert summary["rows"] + summary["unknown_subscribers"] == expected
    assert Complaint.objects.count() == summary["rows"] > 20
    truth = dict(
        duckdb.connect()
        .sql(f"SELECT event_id, cause FROM '{delivery / 'truth_complaints.parquet'}'")
        .fetchall()
    )
    stored = list(Complaint.objects.values_list("event_id", "cause", "need", "cause_group"))
    right = sum(truth[event_id] == cause for event_id, cause, _, _ in stored)
    assert right / len(stored) > 0.9
    assert all(need and group for _, _, need, group in stored)
    assert AuditEvent.objects.filter(action="load", object_type="complaints").count() == 1
    again = _load(delivery)
    assert again["rows"] == summary["rows"] and Complaint.objects.count() == summary["rows"]
