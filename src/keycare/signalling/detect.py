"""Event-time detection of the real-time moments (no Django, no broker).

``Gate`` applies the contract's duplicate and late rules; ``Detector`` turns admitted events
into detections keyed by (subscriber, moment, window). The key is what the database makes
unique, so the same event seen twice — a duplicate the gate missed, or a replay after a crash —
yields the same key and never a second effect.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import yaml

HERE = Path(__file__).parent
HOUR = 3_600_000
MINUTE = 60_000


@cache
def contract() -> dict:
    return yaml.safe_load((HERE / "contract.yaml").read_text(encoding="utf-8"))


@cache
def moment_definitions() -> dict:
    return yaml.safe_load((HERE / "moments.yaml").read_text(encoding="utf-8"))["moments"]


def contract_errors(event: dict) -> list[str]:
    """What is wrong with ``event`` per the contract (empty when it is valid)."""
    spec = contract()
    errors = [
        f"missing {name}"
        for name, f in spec["fields"].items()
        if f["required"] and name not in event
    ]
    kind = event.get("type")
    if kind not in spec["event_types"]:
        return [*errors, f"unknown type {kind!r}"]
    errors += [
        f"{kind} needs {name}" for name in spec["event_types"][kind]["needs"] if not event.get(name)
    ]
    if "event_time" in event and not isinstance(event["event_time"], int):
        errors.append("event_time must be epoch milliseconds")
    return errors


@dataclass
class Gate:
    """Drops duplicates (event_id seen within the horizon) and late events (behind the watermark)."""

    lateness_ms: int = field(
        default_factory=lambda: contract()["semantics"]["allowed_lateness_minutes"] * MINUTE
    )
    horizon_ms: int = field(
        default_factory=lambda: contract()["semantics"]["dedup_horizon_minutes"] * MINUTE
    )
    max_time: int = 0
    seen: OrderedDict = field(default_factory=OrderedDict)
    counts: dict = field(
        default_factory=lambda: {"admitted": 0, "duplicate": 0, "late": 0, "invalid": 0}
    )

    @property
    def watermark(self) -> int:
        return self.max_time - self.lateness_ms if self.max_time else 0

    def __post_init__(self):
        # The contract's checks compiled once (contract_errors explains; this only decides).
        spec = contract()
        self._required = tuple(n for n, f in spec["fields"].items() if f["required"])
        self._needs = {k: tuple(v["needs"]) for k, v in spec["event_types"].items()}

    def _valid(self, event: dict) -> bool:
        for name in self._required:
            if name not in event:
                return False
        needs = self._needs.get(event["type"])
        if needs is None or not isinstance(event["event_time"], int):
            return False
        return all(event.get(name) for name in needs)

    def admit(self, event: dict) -> str:
        verdict = self._verdict(event)
        self.counts[verdict] += 1
        return verdict

    def _verdict(self, event: dict) -> str:
        if not self._valid(event):
            return "invalid"
        if event["event_id"] in self.seen:
            return "duplicate"
        t = event["event_time"]
        if t < self.watermark:
            return "late"
        self.seen[event["event_id"]] = t
        self.max_time = max(self.max_time, t)
        while self.seen and next(iter(self.seen.values())) < self.max_time - self.horizon_ms:
            self.seen.popitem(last=False)
        return "admitted"


@dataclass(frozen=True)
class Subscriber:
    """What the moments need to know about a subscriber (nothing more is loaded)."""

    subscriber_id: str
    city: str = ""
    value_tier: str = ""
    roaming_package: bool = False


@dataclass
class SubState:
    """The only location state kept: whether the phone is off and whether it is abroad."""

    off_since: int | None = None
    abroad_since: int | None = None
    country: str = ""


@dataclass(frozen=True)
class Detection:
    subscriber_id: str
    moment: str
    window: str
    signal_time: int
    facts: dict


def _window(kind: str, t: int) -> str:
    day = datetime.fromtimestamp(t / 1000, UTC).date()
    return {"year": str(day.year), "day": day.isoformat()}.get(kind, str(t))


class Detector:
    def __init__(self, moments: dict | None = None):
        self.moments = moments or moment_definitions()
        self.states: dict[str, SubState] = {}
        self.off_timers: list[tuple[int, str]] = []  # (due time, subscriber), a min-heap

    def param(self, code: str, name: str, city: str):
        spec = self.moments[code]
        return spec.get("city_params", {}).get(city, {}).get(name, spec["params"][name])

    def _hit(self, code, sub, window_time, signal_time, **facts) -> Detection:
        return Detection(
            sub.subscriber_id,
            code,
            _window(self.moments[code]["window"], window_time),
            signal_time,
            facts,
        )

    def process(self, event: dict, sub: Subscriber, now_ms: int) -> list[Detection]:
        """Detections caused by one admitted event; ``now_ms`` judges staleness."""
        state = self.states.setdefault(sub.subscriber_id, SubState())
        handler = getattr(self, "_on_" + event["type"], None)
        return handler(event, sub, state, now_ms) if handler else []

    def _on_detach(self, event, sub, state, now_ms):
        state.off_since = event["event_time"]
        due = state.off_since + int(self.param("RT03", "off_hours", sub.city) * HOUR)
        heapq.heappush(self.off_timers, (due, sub.subscriber_id))
        return []

    def _on_attach(self, event, sub, state, now_ms):
        state.off_since = None
        return []

    def _on_roaming_start(self, event, sub, state, now_ms):
        t = event["event_time"]
        state.abroad_since, state.country, state.off_since = t, event["country"], None
        hits = []
        if now_ms - t <= self.param("RT01", "max_delay_minutes", sub.city) * MINUTE:
            hits.append(
                # Minimised: the country is what the moment needs, not the visited city.
                self._hit("RT01", sub, t, t, country=event["country"])
            )
        high = self.param("RT02", "high_tariff_countries", sub.city)
        fresh = now_ms - t <= self.param("RT02", "max_delay_minutes", sub.city) * MINUTE
        if fresh and event["country"] in high and not sub.roaming_package:
            hits.append(self._hit("RT02", sub, t, t, country=event["country"]))
        return hits

    def _on_roaming_end(self, event, sub, state, now_ms):
        since, t = state.abroad_since, event["event_time"]
        state.abroad_since, state.country = None, ""
        if since is None or t - since < self.param("RT04", "min_abroad_hours", sub.city) * HOUR:
            return []
        return [
            self._hit(
                "RT04",
                sub,
                t,
                t,
                country=event["country"],
                hours_abroad=round((t - since) / HOUR, 1),
            )
        ]

    def expire(self, watermark: int, subscribers: dict[str, Subscriber]) -> list[Detection]:
        """RT03: phones still off when the watermark passes their due time (event time, not wall)."""
        hits = []
        while self.off_timers and self.off_timers[0][0] <= watermark:
            due, sid = heapq.heappop(self.off_timers)
            state, sub = self.states.get(sid), subscribers.get(sid)
            if state is None or sub is None or state.off_since is None:
                continue
            hours = self.param("RT03", "off_hours", sub.city)
            if state.off_since + int(hours * HOUR) != due:
                continue  # a newer power-off replaced this timer
            if sub.value_tier in self.moments["RT03"]["params"]["value_tiers"]:
                hits.append(
                    self._hit("RT03", sub, state.off_since, state.off_since, off_hours=hours)
                )
        return hits
