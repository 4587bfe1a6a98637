"""The Redis Streams path end to end on the machine's Redis (own stream keys, deleted after)."""

import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from factories import make_consent, make_customer, make_sms_message
from keycare.messaging.models import SmsMessage, SmsState
from keycare.signalling.consumer import GROUP, Consumer, client, produce
from keycare.signalling.models import Outcome, RealtimeDetection, SignalState, StreamCheckpoint
from keycare.tasks.models import ServiceTask

HOUR = 3_600_000
US = {"mcc": "310", "country": "US", "city": "Los Angeles"}


@pytest.fixture
def stream():
    r = client()
    key = f"test:signalling:{uuid.uuid4().hex}"
    yield r, key
    r.delete(key)


@pytest.fixture
def vips(org, manager):
    return [make_customer(org["C025"], f"S{i}", manager) for i in range(3)]


def events(now):
    jp = {"mcc": "440", "country": "JP", "city": "Tokyo"}
    return [
        {
            "event_id": "b0",
            "type": "roaming_start",
            "subscriber_id": "S1",
            "event_time": now - 30 * HOUR,
            **jp,
        },
        {"event_id": "a1", "type": "roaming_start", "subscriber_id": "S0", "event_time": now, **US},
        {"event_id": "a1", "type": "roaming_start", "subscriber_id": "S0", "event_time": now, **US},
        {"event_id": "a2", "type": "detach", "subscriber_id": "S1", "event_time": now - 50 * HOUR},
        {
            "event_id": "b1",
            "type": "roaming_end",
            "subscriber_id": "S1",
            "event_time": now - 60_000,
            "mcc": "440",
            "country": "JP",
        },
        {"event_id": "a3", "type": "attach", "subscriber_id": "S2", "event_time": now},
        {"event_id": "a4", "type": "attach", "subscriber_id": "S2", "event_time": now - HOUR},
        {"event_id": "a5", "type": "attach", "subscriber_id": "NOT-OURS", "event_time": now},
    ]


def consume_all(r, key, name="c1"):
    consumer = Consumer(r, key, name)
    consumer.setup()
    while consumer.step(block_ms=50):
        pass
    return consumer


def test_detections_become_sms_and_urgent_tasks_once(stream, vips):
    r, key = stream
    now = int(time.time() * 1000)
    produce(r, key, events(now))
    consumer = consume_all(r, key)
    got = {(d.customer.subscriber_id, d.moment, d.outcome) for d in RealtimeDetection.objects.all()}
    # b0 landed 30 h ago (stale for RT01); a2 is 50 h old: late, so no phone-off detection.
    assert got == {
        ("S0", "RT01", Outcome.SMS),
        ("S0", "RT02", Outcome.SMS),
        ("S1", "RT04", Outcome.TASK),
    }
    assert consumer.gate.counts == {"admitted": 4, "duplicate": 1, "late": 2, "invalid": 0}
    task = ServiceTask.objects.get(customer=vips[1], cycle="realtime")
    assert task.priority_score > 100 and task.manager == vips[1].manager
    assert ServiceTask.objects.order_by("-business_date", "-priority_score").first() == task
    sms = SmsMessage.objects.order_by("id")
    assert [m.moment_codes for m in sms] == [["RT01"], ["RT02"]]
    assert all(m.state == SmsState.QUEUED and m.customer == vips[0] and m.task is None for m in sms)
    assert "美国" in sms[1].text and sms[1].recipient == vips[0].msisdn
    det = RealtimeDetection.objects.filter(moment="RT01").get()
    assert det.sms == sms[0] and det.latency_ms["detect"] >= 0 and det.latency_ms["sent"] is None
    assert r.xpending(key, GROUP)["pending"] == 0
    cp = StreamCheckpoint.objects.get(stream=key)
    assert cp.counts["duplicate"] == 1 and cp.max_event_time == now


def test_replaying_the_stream_adds_no_detection_task_or_sms(stream, vips):
    r, key = stream
    now = int(time.time() * 1000)
    produce(r, key, events(now))
    consume_all(r, key)
    produce(r, key, events(now))  # a replay of the same hour, new stream entries
    r.xgroup_destroy(key, GROUP)  # and a consumer that lost its memory
    consume_all(r, key, name="c2")
    assert RealtimeDetection.objects.count() == 3
    assert ServiceTask.objects.filter(cycle="realtime").count() == 1
    assert SmsMessage.objects.count() == 2


def test_the_daily_paths_rules_apply_unchanged(stream, org, manager):
    """Scope, suspension, marketing opt-out and the contact cap come from messaging.rules and
    AllocationConfig.is_capped; the urgent RT02 passes the cap as an urgent daily moment."""
    r, key = stream
    make_customer(org["C025"], "MASS", manager, value_tier="mass")
    make_customer(org["C025"], "SUSP", manager, status="suspended")
    make_consent(make_customer(org["C025"], "OPT", manager))
    capped = make_customer(org["C025"], "CAP", manager)
    two_days_ago = timezone.now() - timedelta(days=2)
    make_sms_message(
        capped,
        state=SmsState.DELIVERED,
        submitted_at=two_days_ago,
        business_date=timezone.localdate(two_days_ago),  # contacts count on the run calendar
    )
    make_customer(org["C025"], "FREE", manager)
    now = int(time.time() * 1000)
    subs = ["MASS", "SUSP", "OPT", "CAP", "FREE"]
    produce(
        r,
        key,
        [
            {"event_id": s, "type": "roaming_start", "subscriber_id": s, "event_time": now, **US}
            for s in subs
        ],
    )
    consume_all(r, key)
    got = dict(
        (f"{d.customer.subscriber_id}:{d.moment}", d.outcome)
        for d in RealtimeDetection.objects.all()
    )
    assert got == {
        "MASS:RT01": Outcome.OUT_OF_SCOPE, "MASS:RT02": Outcome.OUT_OF_SCOPE,
        "SUSP:RT01": Outcome.OUT_OF_SCOPE, "SUSP:RT02": Outcome.OUT_OF_SCOPE,
        "OPT:RT01": Outcome.OPTED_OUT, "OPT:RT02": Outcome.OPTED_OUT,
        "CAP:RT01": Outcome.CAPPED, "CAP:RT02": Outcome.SMS,
        "FREE:RT01": Outcome.SMS, "FREE:RT02": Outcome.SMS,
    }  # fmt: skip


def test_dnd_suppresses_and_phone_off_state_survives_a_restart(stream, org, manager):
    r, key = stream
    make_customer(org["C025"], "S9", manager, attributes={"dnd": True})
    make_customer(org["C025"], "S8", manager)
    now = int(time.time() * 1000)
    produce(
        r,
        key,
        [
            {
                "event_id": "b1",
                "type": "roaming_start",
                "subscriber_id": "S9",
                "event_time": now,
                **US,
            }
        ],
    )
    produce(
        r, key, [{"event_id": "b2", "type": "detach", "subscriber_id": "S8", "event_time": now}]
    )
    consume_all(r, key)
    assert RealtimeDetection.objects.filter(outcome=Outcome.SUPPRESSED).count() == 2
    assert SignalState.objects.get(customer__subscriber_id="S8").off_since is not None
    # A new consumer process: the open power-off comes back from the state, not the stream.
    later = now + 49 * HOUR
    produce(
        r, key, [{"event_id": "b3", "type": "attach", "subscriber_id": "S9", "event_time": later}]
    )
    consume_all(r, key, name="c1")
    rt03 = RealtimeDetection.objects.get(moment="RT03")
    assert rt03.customer.subscriber_id == "S8" and rt03.outcome == Outcome.TASK


def test_a_withdrawn_location_purpose_drops_the_customers_events(stream, org, manager):
    r, key = stream
    make_consent(make_customer(org["C025"], "LOC", manager), purpose="location", basis="consent")
    now = int(time.time() * 1000)
    event = {"event_id": "l1", "type": "roaming_start", "subscriber_id": "LOC", "event_time": now}
    produce(r, key, [{**event, **US}])
    consumer = consume_all(r, key)
    assert not RealtimeDetection.objects.exists() and not SignalState.objects.exists()
    assert consumer.gate.counts["admitted"] == 0


def test_batch_figures_are_committed_with_the_detections(stream, vips):
    from django.db.models import Sum

    from keycare.signalling.models import StreamMinute

    r, key = stream
    now = int(time.time() * 1000)
    produce(r, key, events(now))
    consume_all(r, key)
    sums = StreamMinute.objects.filter(stream=key).aggregate(
        *(Sum(f) for f in ("entries", "admitted", "duplicate", "late", "detections"))
    )
    assert list(sums.values()) == [8, 4, 1, 2, 3]  # NOT-OURS is read, never gated
    row = StreamMinute.objects.filter(stream=key).latest("minute")
    assert row.lag == 0 and row.pending == 8 and row.max_latency_ms is not None


def test_in_process_feed_matches_the_broker_and_a_replay_adds_nothing(vips):
    now = int(time.time() * 1000)
    consumer = Consumer(None, "feed:test", "c1")
    consumer.setup(broker=False)
    consumer.feed(events(now))
    got = set(RealtimeDetection.objects.values_list("customer__subscriber_id", "moment"))
    assert got == {("S0", "RT01"), ("S0", "RT02"), ("S1", "RT04")}
    again = Consumer(None, "feed:test", "c1")
    again.setup(broker=False)
    again.feed(events(now))
    assert RealtimeDetection.objects.count() == 3


def test_the_consumer_reads_replies_with_the_c_parser():
    """hiredis is a dependency because the pure-Python RESP parser was 38% of consume time:
    the consumer's client must pick it up (nothing may force the Python parser)."""
    from redis._parsers import _HiredisParser

    pool = client().connection_pool
    conn = pool.get_connection()
    try:
        assert isinstance(conn._parser, _HiredisParser)
    finally:
        pool.release(conn)
