"""The Redis Streams path end to end on the machine's Redis (own stream keys, deleted after)."""

import time
import uuid

import pytest

from factories import make_customer
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
    return [
        {"event_id": "a1", "type": "roaming_start", "subscriber_id": "S0", "event_time": now, **US},
        {"event_id": "a1", "type": "roaming_start", "subscriber_id": "S0", "event_time": now, **US},
        {"event_id": "a2", "type": "detach", "subscriber_id": "S1", "event_time": now - 50 * HOUR},
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


def test_detections_become_urgent_tasks_once(stream, vips):
    r, key = stream
    now = int(time.time() * 1000)
    produce(r, key, events(now))
    consumer = consume_all(r, key)
    got = {(d.customer.subscriber_id, d.moment, d.outcome) for d in RealtimeDetection.objects.all()}
    # a2 is 50 h old: late for the gate (behind the watermark), so no phone-off detection.
    assert got == {("S0", "RT01", Outcome.TASK), ("S0", "RT02", Outcome.TASK)}
    assert consumer.gate.counts == {"admitted": 2, "duplicate": 1, "late": 2, "invalid": 0}
    task = ServiceTask.objects.get(customer=vips[0], cycle="realtime")
    assert task.priority_score > 100 and task.manager == vips[0].manager
    assert ServiceTask.objects.order_by("-business_date", "-priority_score").first() == task
    det = RealtimeDetection.objects.filter(moment="RT01").get()
    assert det.task == task and det.latency_ms["detect"] >= 0 and det.latency_ms["act"] >= 0
    assert r.xpending(key, GROUP)["pending"] == 0
    cp = StreamCheckpoint.objects.get(stream=key)
    assert cp.counts["duplicate"] == 1 and cp.max_event_time == now


def test_replaying_the_stream_adds_no_detection_or_task(stream, vips):
    r, key = stream
    now = int(time.time() * 1000)
    produce(r, key, events(now))
    consume_all(r, key)
    produce(r, key, events(now))  # a replay of the same hour, new stream entries
    r.xgroup_destroy(key, GROUP)  # and a consumer that lost its memory
    consume_all(r, key, name="c2")
    assert RealtimeDetection.objects.count() == 2
    assert ServiceTask.objects.filter(cycle="realtime").count() == 1


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
