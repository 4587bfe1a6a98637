"""The Spark Structured Streaming path against the embedded Redis consumer, on the machine's
Redis and a local Spark (``local[2]``): the same synthetic stream — duplicates, out-of-order and
late events, trips abroad, a power-off burst — yields the same detections; a replay (a fresh
checkpoint over the same entries) and a restart from the checkpoint double nothing.

Micro-batch boundaries are where Spark's watermark moves. The stream is written to Redis in
chunks, each starting at an event the embedded gate finds late, and the Spark query drains each
chunk before the next is written: then both watermarks agree at every late event (within a
chunk Spark's watermark only lags, which can admit, never drop, more; see job.py).
"""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from factories import make_customer
from keycare.signalling.consumer import Consumer, client, produce
from keycare.signalling.detect import Gate
from keycare.signalling.models import RealtimeDetection, StreamMinute
from keycare.synth.signalling import generate
from keycare.tasks.models import ServiceTask

pytest.importorskip("pyspark", reason="PySpark is not installed (pip install -e '.[spark]')")
pytestmark = [pytest.mark.spark, pytest.mark.django_db(transaction=True)]

URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def spark():
    from keycare.engine.backends.spark import stop_session
    from keycare.signalling.spark.job import session as spark_session

    session = spark_session(conf={"spark.sql.shuffle.partitions": "2"})
    yield session
    stop_session()


@pytest.fixture
def stream():
    r = client(URL)
    key = f"test:sstream:{uuid.uuid4().hex}"
    yield r, key
    r.delete(key)


@pytest.fixture
def subscribers(org, manager):
    return [make_customer(org["C025"], f"P{i:04d}", manager).subscriber_id for i in range(150)]


def synthetic(subs):
    start = datetime.now(UTC) - timedelta(minutes=20)
    stream = generate(
        subs,
        start=start,
        hours=60,
        travel_rate=0.25,
        burst_size=30,
        home_updates_per_hour=0.05,
        late_rate=0.01,
    )
    return [e for _, e in stream]


def chunks(events):
    """Split before every event the embedded gate drops as late (see the module doc)."""
    gate, out = Gate(), [[]]
    for event in events:
        if gate.admit(event) == "late" and out[-1]:
            out.append([])
        out[-1].append(event)
    return out, gate.counts


def keys():
    return set(RealtimeDetection.objects.values_list("customer__subscriber_id", "moment", "window"))


def run_embedded(r, key, parts):
    consumer = Consumer(r, key, "embedded", batch=100_000)
    consumer.setup()
    for part in parts:
        produce(r, key, part)
        while consumer.step(block_ms=10):
            pass
    return consumer


def run_spark(spark, r, key, parts, checkpoint):
    from keycare.signalling.spark.sink import start_query

    query, sink = start_query(spark, key, URL, str(checkpoint), trigger_seconds=0.1)
    try:
        for part in parts:
            produce(r, key, part)
            query.processAllAvailable()
    finally:
        query.stop()
    assert sink.wait_for_figures(60), "the figures listener never saw the query end"
    return sink


def spark_figures(key):
    rows = StreamMinute.objects.filter(stream=f"spark:{key}", consumer="spark")
    assert rows.exists(), "no StreamMinute row from the Spark query"
    fields = ("batches", "entries", "admitted", "duplicate", "late", "invalid", "detections")
    totals = {f: sum(getattr(r, f) for r in rows) for f in (*fields, "busy_ms")}
    return {**totals, "latency_rows": sum(r.max_latency_ms is not None for r in rows)}


def clear():
    RealtimeDetection.objects.all().delete()
    ServiceTask.objects.filter(cycle="realtime").delete()


def test_spark_and_embedded_paths_detect_the_same_moments(spark, stream, subscribers, tmp_path):
    r, key = stream
    events = synthetic(subscribers)
    times = [e["event_time"] for e in events]
    assert any(b < a for a, b in zip(times, times[1:], strict=False))  # out of order
    # One event of a served subscriber that breaks the contract (no event time).
    events.insert(1, {"event_id": "bad-1", "type": "attach", "subscriber_id": subscribers[0]})
    parts, counts = chunks(events)
    assert counts["late"] >= 3 and counts["duplicate"] >= 10 and counts["invalid"] == 1

    embedded = run_embedded(r, key, parts)
    assert embedded.gate.counts == counts
    expected = keys()
    assert {m for _, m, _ in expected} == {"RT01", "RT02", "RT03", "RT04"}
    clear()

    spark_key = key + ":spark"
    try:
        sink = run_spark(spark, r, spark_key, parts, tmp_path / "cp")
    finally:
        r.delete(spark_key)
    assert keys() == expected
    assert sink.keys == expected and sink.stored == len(expected)
    # The operations page's figures, as the embedded consumer writes them (spark:<stream>).
    figures = spark_figures(spark_key)
    assert figures["entries"] == len(events)
    assert figures["detections"] == len(expected)
    assert figures["batches"] == sink.batches
    assert figures["busy_ms"] > 0 and figures["latency_rows"] > 0
    assert {k: figures[k] for k in counts} == counts


def test_replay_and_restart_from_checkpoint_double_nothing(spark, stream, subscribers, tmp_path):
    r, key = stream
    parts, _ = chunks(synthetic(subscribers))
    half = len(parts) // 2
    first = run_spark(spark, r, key, parts[:half], tmp_path / "cp")
    # A restart from the checkpoint resumes after the last committed entry.
    second = run_spark(spark, r, key, parts[half:], tmp_path / "cp")
    stored, tasks = keys(), ServiceTask.objects.filter(cycle="realtime").count()
    assert first.keys | second.keys == stored and not first.keys & second.keys
    assert first.stored + second.stored == len(stored) > 0
    # The same events again, as the same micro-batches, into a fresh checkpoint (a replay of
    # the hour): the same detections, none stored twice.
    again = key + ":replay"
    try:
        replay = run_spark(spark, r, again, parts, tmp_path / "cp2")
    finally:
        r.delete(again)
    assert replay.keys == stored and replay.stored == 0
    # Across the restart every entry was counted once, every detection where it was stored.
    figures = spark_figures(key)
    assert figures["entries"] == sum(len(p) for p in parts)
    assert figures["detections"] == len(stored)
    assert spark_figures(again)["detections"] == 0
    assert keys() == stored
    assert ServiceTask.objects.filter(cycle="realtime").count() == tasks
