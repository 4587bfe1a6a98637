"""PIPL: only what the moments need, kept for the retention period, purged by a command."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from factories import make_customer
from keycare.core.models import AuditEvent
from keycare.errors import UserError
from keycare.signalling.actions import purge, retention_days
from keycare.signalling.detect import Detector, Subscriber
from keycare.signalling.models import Outcome, RealtimeDetection, SignalState, StreamMinute


def _detection(customer, when, **facts):
    return RealtimeDetection.objects.create(
        customer=customer, city=customer.city, moment="RT04", window=when.date().isoformat(),
        signal_time=when, detected_at=when, outcome=Outcome.TASK, facts=facts,
    )  # fmt: skip


def test_first_roaming_keeps_the_country_not_the_visited_city():
    sub = Subscriber("S1", value_tier="mid_high")
    event = {"event_id": "e", "type": "roaming_start", "subscriber_id": "S1", "event_time": 1000}
    hits = Detector().process({**event, "mcc": "440", "country": "JP", "city": "Tokyo"}, sub, 1000)
    assert hits[0].facts == {"country": "JP"}


def test_purge_drops_old_state_and_strips_old_location_facts(org, manager, capsys):
    now = timezone.now()
    old, fresh = (
        make_customer(org["C025"], "S1", manager),
        make_customer(org["C025"], "S2", manager),
    )
    for c in (old, fresh):
        SignalState.objects.create(customer=c, country="JP", abroad_since=now)
    SignalState.objects.filter(customer=old).update(updated_at=now - timedelta(days=40))
    aged = _detection(old, now - timedelta(days=40), country="JP", hours_abroad=30.0, off_hours=0)
    recent = _detection(fresh, now, country="US")
    StreamMinute.objects.create(stream="s", consumer="c", minute=now - timedelta(days=40))
    StreamMinute.objects.create(stream="s", consumer="c", minute=now)
    call_command("signalling", "purge")
    assert "1 states deleted, 1 detections minimised" in capsys.readouterr().out
    assert list(SignalState.objects.values_list("customer", flat=True)) == [fresh.pk]
    aged.refresh_from_db()
    recent.refresh_from_db()
    assert aged.facts == {"off_hours": 0} and recent.facts == {"country": "US"}
    assert AuditEvent.objects.get(action="signalling.purge").detail["states"] == 1
    assert StreamMinute.objects.count() == 1
    assert purge(None, 1, now=now + timedelta(days=2)) == {
        "days": 1, "states": 1, "detections": 1, "stats": 1,
    }  # fmt: skip


def test_retention_setting_is_checked(monkeypatch):
    monkeypatch.setenv("KEYCARE_SIGNALLING_RETENTION_DAYS", "7")
    assert retention_days() == 7
    monkeypatch.setenv("KEYCARE_SIGNALLING_RETENTION_DAYS", "soon")
    with pytest.raises(UserError, match="not a whole number"):
        retention_days()
