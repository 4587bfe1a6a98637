"""The benchmark's paced mode (benchmarks/signalling_stream.py --rate/--seconds): the stream it
sends "live" keeps the synthetic stream's duplicates and late events, and a tiny run on the
machine's Redis acknowledges every entry and times its detections."""

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keycare.signalling.detect import Gate
from keycare.signalling.models import RealtimeDetection, StreamMinute
from keycare.synth.signalling import generate

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    # By name on sys.path: the producer process (spawned) imports the module to find its target.
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import signalling_stream

    return signalling_stream


def test_live_rewrite_keeps_every_gate_verdict(bench):
    """24 h compressed into 10 s of sends: each event is admitted, duplicate or late exactly as
    in the original stream (late events stay late, copies stay copies)."""
    subs = [f"S{i}" for i in range(300)]
    stream = generate(subs, start=datetime(2026, 3, 2, tzinfo=UTC), hours=24, burst_size=6)
    gate = Gate()
    original = [gate.admit(event) for _, event in stream]
    templates, cycles = bench.live_templates(stream, len(stream))
    first_time, sent, payloads = {}, [], []
    for i in range(0, len(templates), 20):
        now = 1_800_000_000_000 + i * 10_000 // len(templates)
        payloads += bench.live_payloads(templates[i : i + 20], now, first_time, sent)
    gate = Gate()
    live = [gate.admit(bench.json.loads(p)) for p in payloads]
    assert cycles == 1
    assert live == original
    assert Counter(live)["duplicate"] > 0 and Counter(live)["late"] > 0
    assert len(sent) == sum(e["type"] == "roaming_start" for _, e in stream)


def test_cycling_makes_new_events_not_duplicates(bench):
    subs = [f"S{i}" for i in range(200)]
    stream = generate(subs, start=datetime(2026, 3, 2, tzinfo=UTC), hours=2)
    templates, cycles = bench.live_templates(stream, 2 * len(stream) + 1)
    assert cycles == 3 and len(templates) == 2 * len(stream) + 1

    def verdicts(part):
        gate = Gate()
        payloads = bench.live_payloads(part, 1_800_000_000_000, {}, [])
        return Counter(gate.admit(bench.json.loads(p)) for p in payloads)

    one = verdicts(templates[: len(stream)])
    assert one["duplicate"] > 0
    both = verdicts(templates[: 2 * len(stream)])
    assert both["duplicate"] == 2 * one["duplicate"]
    assert both["admitted"] == 2 * one["admitted"]


@pytest.mark.django_db
def test_paced_run_acknowledges_every_entry_and_times_the_detections(bench):
    report = bench.paced(200, rate=2000, seconds=2)
    check = report["check"]
    assert check["produced"] == check["consumed"] == check["stream_length"] == 4000
    assert check["pending_after"] == 0 and check["lag_after"] == 0
    assert sum(report["gate"].values()) == 4000
    assert report["gate"]["duplicate"] > 0 and report["gate"]["late"] > 0
    # Paced, not flat out: 4,000 events at 2,000/s cannot all be sent in under ~2 s.
    assert report["produce_s"] >= 1.9
    moments = report["detections_by_moment"]
    assert moments["RT01"] > 0
    assert report["detections"] == sum(moments.values()) == RealtimeDetection.objects.count()
    latency = report["latency_ms"]
    # Signals are seconds old, not hours (the sequential mode's event times span a day).
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"] < 60_000
    from_send = report["latency_from_send_ms"]
    assert from_send["detections"] == moments["RT01"] + moments["RT02"]
    assert 0 < from_send["max"] <= latency["max"]
    minutes = StreamMinute.objects.filter(consumer="bench-live")
    assert sum(m.entries for m in minutes) == 4000
    assert "load average" in report["load_before"] and "load average" in report["load_after"]
