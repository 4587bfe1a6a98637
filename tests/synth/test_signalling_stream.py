from collections import Counter
from datetime import UTC, datetime

from keycare.signalling.detect import contract_errors
from keycare.synth.signalling import ARRIVAL_WAVES, HOUR, generate

SUBS = [f"S{i:05d}" for i in range(2000)]
START = datetime(2026, 10, 1, tzinfo=UTC)  # 国庆: a holiday, so travel doubles


def test_every_event_follows_the_contract():
    events = generate(SUBS, start=START, hours=96, burst_size=40)
    assert events
    assert all(not contract_errors(e) for _, e in events)
    kinds = Counter(e["type"] for _, e in events)
    assert set(kinds) == {
        "attach",
        "detach",
        "location_update",
        "roaming_start",
        "roaming_end",
        "data_session_abroad",
    }


def test_stream_has_duplicates_disorder_and_late_events():
    events = generate(SUBS, start=START, dup_rate=0.02, late_rate=0.01)
    ids = Counter(e["event_id"] for _, e in events)
    assert sum(n - 1 for n in ids.values()) > 0.01 * len(ids)
    times = [e["event_time"] for _, e in events]
    assert any(b < a for a, b in zip(times, times[1:], strict=False)), "no out-of-order arrival"
    late = [a - e["event_time"] for a, e in events if a - e["event_time"] > 10 * 60_000]
    assert late, "no event arrives beyond the allowed lateness"
    assert [a for a, _ in events] == sorted(a for a, _ in events)


def test_landings_cluster_on_arrival_waves_and_holidays():
    events = generate(SUBS, start=START, hours=24)
    t0 = int(START.timestamp() * 1000)
    hours = Counter(
        (e["event_time"] - t0) // HOUR for _, e in events if e["type"] == "roaming_start"
    )
    waves = {h for h, _ in ARRIVAL_WAVES}
    on_wave = sum(n for h, n in hours.items() if h in waves)
    assert on_wave == sum(hours.values())
    workday = generate(SUBS, start=datetime(2026, 10, 13, tzinfo=UTC), hours=24)
    holiday_trips = sum(e["type"] == "roaming_start" for _, e in events)
    workday_trips = sum(e["type"] == "roaming_start" for _, e in workday)
    assert holiday_trips > 1.5 * workday_trips


def test_same_seed_same_stream():
    assert generate(SUBS[:100], start=START, seed=3) == generate(SUBS[:100], start=START, seed=3)
