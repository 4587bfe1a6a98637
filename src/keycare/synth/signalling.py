"""A synthetic signalling stream (开关机、漫游信令) for a loaded operator's subscribers.

No Django: ``generate`` takes subscriber IDs and returns ``(arrival_ms, event)`` pairs in
arrival order. Events follow ``signalling/contract.yaml``; the stream is realistic enough to
exercise every rule of the contract: arrivals abroad clustered on flight-arrival waves (more on
holiday days), power-off bursts, duplicates, out-of-order arrivals and late events.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

HOME_MCC = "460"
HOME_CITIES = [
    "杭州",
    "宁波",
    "温州",
    "嘉兴",
    "湖州",
    "绍兴",
    "金华",
    "衢州",
    "舟山",
    "台州",
    "丽水",
]
# (mcc, country, visited city / airport city, weight): China's outbound mix.
DESTINATIONS = [
    ("454", "HK", "Hong Kong", 20),
    ("440", "JP", "Tokyo", 14),
    ("450", "KR", "Seoul", 9),
    ("520", "TH", "Bangkok", 12),
    ("525", "SG", "Singapore", 8),
    ("310", "US", "Los Angeles", 6),
    ("234", "GB", "London", 4),
    ("505", "AU", "Sydney", 4),
    ("424", "AE", "Dubai", 3),
    ("208", "FR", "Paris", 3),
]
# Flight-arrival waves (UTC hour of day, weight): landings cluster, they are not uniform.
ARRIVAL_WAVES = [(1, 3), (5, 5), (9, 4), (13, 6), (16, 3)]
HOUR = 3_600_000
MINUTE = 60_000


def is_holiday(day: date) -> bool:
    """Chinese travel peaks the stream mimics: weekends, 国庆 week, Spring Festival window."""
    return (
        day.weekday() >= 5
        or (day.month == 10 and day.day <= 7)
        or (day.month == 2 and day.day <= 10)
    )


class _Stream:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.seq = 0
        self.out: list[tuple[int, dict]] = []

    def emit(self, kind: str, sub: str, t: int, **where) -> None:
        self.seq += 1
        event = {"event_id": f"sig-{self.seq:09d}", "type": kind, "subscriber_id": sub}
        event["event_time"] = t
        event.update(where)
        self.out.append((t + self.rng.randint(50, 3_000), event))  # network + collector delay


def _trip(s: _Stream, sub: str, start: int, hours: int) -> None:
    """A traveller: phone off for the flight, lands abroad, maybe comes home within the span."""
    rng = s.rng
    wave = rng.choices(ARRIVAL_WAVES, weights=[w for _, w in ARRIVAL_WAVES])[0][0]
    day = rng.randrange(max(1, hours // 24))
    land = start + (day * 24 + wave) * HOUR + rng.randint(0, 50 * MINUTE)
    mcc, country, city, _ = rng.choices(DESTINATIONS, weights=[d[3] for d in DESTINATIONS])[0]
    abroad = {"mcc": mcc, "country": country, "city": city}
    s.emit("detach", sub, land - rng.randint(2, 12) * HOUR)
    s.emit("attach", sub, land)
    s.emit("roaming_start", sub, land + rng.randint(1_000, 20_000), **abroad)
    s.emit("location_update", sub, land + rng.randint(20_000, 60_000), **abroad)
    s.emit(
        "data_session_abroad", sub, land + rng.randint(60_000, 600_000), mcc=mcc, country=country
    )
    back = land + rng.randint(30, 120) * HOUR
    if back < start + hours * HOUR:
        s.emit("roaming_end", sub, back, mcc=mcc, country=country)
        s.emit(
            "location_update",
            sub,
            back + 5_000,
            mcc=HOME_MCC,
            country="CN",
            city=rng.choice(HOME_CITIES),
        )


def _power_off_burst(s: _Stream, subs: list[str], start: int, hours: int) -> None:
    """Many phones off within minutes (a flight boarding, a blackout); some stay off for days."""
    at = start + s.rng.randrange(max(1, hours - 1)) * HOUR
    for sub in subs:
        off = at + s.rng.randint(0, 10 * MINUTE)
        s.emit("detach", sub, off)
        if s.rng.random() < 0.6:
            s.emit("attach", sub, off + s.rng.randint(20 * MINUTE, 6 * HOUR))


def _home_updates(s: _Stream, subs: list[str], start: int, hours: int, per_hour: float) -> None:
    for _ in range(int(len(subs) * hours * per_hour)):
        sub = s.rng.choice(subs)
        t = start + s.rng.randrange(hours * HOUR)
        s.emit(
            "location_update", sub, t, mcc=HOME_MCC, country="CN", city=s.rng.choice(HOME_CITIES)
        )


def _disorder(s: _Stream, dup_rate: float, late_rate: float) -> None:
    """Duplicates (same event_id re-sent) and late events (held back beyond the lateness)."""
    extra = []
    for i, (arrival, event) in enumerate(s.out):
        if s.rng.random() < late_rate:
            s.out[i] = (arrival + s.rng.randint(15, 90) * MINUTE, event)
        if s.rng.random() < dup_rate:
            extra.append((arrival + s.rng.randint(0, 30_000), dict(event)))
    s.out.extend(extra)


def generate(
    subscriber_ids: list[str],
    *,
    start: datetime,
    hours: int = 24,
    seed: int = 7,
    travel_rate: float = 0.03,
    burst_size: int = 0,
    home_updates_per_hour: float = 0.2,
    dup_rate: float = 0.02,
    late_rate: float = 0.005,
) -> list[tuple[int, dict]]:
    """The stream for ``subscriber_ids`` over ``hours`` from ``start``, in arrival order."""
    rng = random.Random(seed)
    s = _Stream(rng)
    t0 = int(start.astimezone(UTC).timestamp() * 1000)
    subs = list(subscriber_ids)
    if not subs:
        return []
    rate = travel_rate * (2.0 if is_holiday(start.date()) else 1.0)
    for sub in rng.sample(subs, min(len(subs), max(1, round(len(subs) * rate)))):
        _trip(s, sub, t0, hours)
    if burst_size:
        _power_off_burst(s, rng.sample(subs, min(len(subs), burst_size)), t0, hours)
    _home_updates(s, subs, t0, hours, home_updates_per_hour)
    _disorder(s, dup_rate, late_rate)
    s.out.sort(key=lambda pair: pair[0])
    return s.out
