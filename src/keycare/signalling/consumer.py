"""The Redis Streams path: a producer for the synthetic stream and the consumer-group reader.

Exactly-once effects: a batch is read, detected on, committed (detections, state, checkpoint)
in one transaction, and only then acknowledged (XACK). A crash before the commit leaves the
batch pending, and the restarted consumer (same name) reads its pending entries first; a crash
between commit and XACK replays a committed batch, which the unique (customer, moment, window)
key turns into no new detection.
"""

from __future__ import annotations

import bisect
import json
import time
from datetime import UTC, datetime

import redis
from django.conf import settings

from keycare.customers.consent import opted_out
from keycare.customers.models import ConsentPurpose, Customer
from keycare.signalling.actions import BatchStats, commit_batch
from keycare.signalling.detect import Detector, Gate, Subscriber, SubState
from keycare.signalling.models import SignalState, StreamCheckpoint

DEFAULT_STREAM = "keycare:signalling"
GROUP = "keycare-signalling"
# The events that change a subscriber's SignalState; the rest (location updates, data
# sessions) leave nothing to write back.
STATEFUL = {"attach", "detach", "roaming_start", "roaming_end"}


def client(url: str | None = None) -> redis.Redis:
    return redis.Redis.from_url(
        url or getattr(settings, "SIGNALLING_REDIS_URL", "redis://127.0.0.1:6379/0")
    )


def produce(r: redis.Redis, stream: str, events, *, rate: float = 0, batch: int = 500) -> int:
    """XADD ``events`` (dicts) in pipelined batches; ``rate`` events/s paces them (0: flat out)."""
    sent, started, pipe = 0, time.monotonic(), r.pipeline(transaction=False)
    for event in events:
        pipe.xadd(stream, {"e": json.dumps(event, separators=(",", ":"))})
        sent += 1
        if sent % batch == 0:
            pipe.execute()
            if rate:
                time.sleep(max(0.0, sent / rate - (time.monotonic() - started)))
    pipe.execute()
    return sent


def _wall_ms() -> int:
    return int(time.time() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _ms(dt) -> int | None:
    return None if dt is None else int(dt.timestamp() * 1000)


class Consumer:
    def __init__(
        self,
        r: redis.Redis,
        stream: str = DEFAULT_STREAM,
        name: str = "consumer-1",
        batch: int = 1000,
    ):
        self.r, self.stream, self.name, self.batch = r, stream, name, batch
        self.cursor = "0"  # our own pending entries first (a restart after a crash), then new
        self.gate, self.detector = Gate(), Detector()
        self.customers: dict[str, Customer] = {}
        self.subscribers: dict[str, Subscriber] = {}
        self.reconnects = 0
        self.clock = _wall_ms  # epoch ms; ``feed`` replays a past hour on its arrival times

    def setup(self, *, broker: bool = True) -> None:
        """Load the customers and the committed state; with ``broker``, create the group."""
        if broker:
            try:
                self.r.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._load_customers()
        self._restore()

    def _load_customers(self) -> None:
        fields = ("id", "subscriber_id", "city_id", "manager_id", "value_tier", "attributes")
        # A customer who withdrew the location purpose: their events are dropped unread.
        withdrawn = opted_out(ConsentPurpose.LOCATION)
        customers = Customer.objects.exclude(pk__in=withdrawn).only(*fields)
        for c in customers.select_related("city"):
            attrs = c.attributes or {}
            self.customers[c.subscriber_id] = c
            self.subscribers[c.subscriber_id] = Subscriber(
                c.subscriber_id, c.city.code, c.value_tier, bool(attrs.get("roaming_package"))
            )

    def _restore(self) -> None:
        cp = StreamCheckpoint.objects.filter(stream=self.stream).first()
        self.gate.max_time = cp.max_event_time if cp else 0
        by_id = {c.id: sid for sid, c in self.customers.items()}
        for s in SignalState.objects.filter(customer_id__in=by_id):
            sid = by_id[s.customer_id]
            self.detector.states[sid] = SubState(_ms(s.off_since), _ms(s.abroad_since), s.country)
            if s.off_since:
                self.detector._on_detach(
                    {"event_time": _ms(s.off_since)},
                    self.subscribers[sid],
                    self.detector.states[sid],
                    0,
                )

    def step(self, block_ms: int = 1000) -> int:
        """Read, detect, commit, acknowledge one batch; returns the number of entries handled."""
        reply = self.r.xreadgroup(
            GROUP, self.name, {self.stream: self.cursor}, count=self.batch, block=block_ms
        )
        entries = reply[0][1] if reply else []
        if not entries and self.cursor == "0":
            self.cursor = ">"  # our pending entries are drained: now the new ones
            return self.step(block_ms)
        if not entries:
            return 0
        started = time.perf_counter()
        lag, pending = self._backlog()
        self.handle(
            [fields[b"e"] for _, fields in entries], lag=lag, pending=pending, started=started
        )
        self.r.xack(self.stream, GROUP, *[eid for eid, _ in entries])
        return len(entries)

    def _backlog(self) -> tuple[int | None, int | None]:
        """(entries not yet delivered to the group, delivered but not acknowledged): XINFO
        GROUPS' lag (Redis >= 7; None when the server cannot tell) and pending."""
        for g in self.r.xinfo_groups(self.stream):
            if g["name"] in (GROUP, GROUP.encode()):
                return g.get("lag"), g.get("pending")
        return None, None

    def handle(self, raw: list, *, lag=None, pending=None, started: float | None = None):
        """Gate, detect and commit one batch of encoded events (JSON bytes or str): the broker
        path's body, also fed in process (``feed``) where no broker runs."""
        started = time.perf_counter() if started is None else started
        before = dict(self.gate.counts)
        now_ms = self.clock()
        hits, touched = self._detect(raw, now_ms)
        counts = {k: v - before.get(k, 0) for k, v in self.gate.counts.items()}
        states = {sid: self.detector.states[sid] for sid in touched}
        stats = BatchStats(
            consumer=self.name,
            at_ms=now_ms,
            entries=len(raw),
            counts=counts,
            lag=lag,
            pending=pending,
            started=started,
            max_latency_ms=self.max_latency_ms,
        )
        self.last = commit_batch(
            self.stream, hits, self.customers, states, self.gate.max_time, counts, stats=stats
        )
        return self.last

    def feed(self, events, *, arrivals=None) -> int:
        """Run ``events`` (dicts, in arrival order) through the same gate → detect → commit
        without a broker (the demo on the embedded default). Without ``arrivals``: batches of
        ``self.batch`` on the wall clock. With ``arrivals`` (epoch ms per event, ascending): a
        replay of a past span as it would have run live, one batch per minute of arrival (at
        most ``self.batch``), the clock at the batch's last arrival."""
        events = list(events)
        i = 0
        while i < len(events):
            end = min(i + self.batch, len(events))
            lag = len(events) - end
            if arrivals is not None:
                minute = arrivals[i] // 60_000
                end = i + 1
                while end < min(i + self.batch, len(events)) and arrivals[end] // 60_000 == minute:
                    end += 1
                at = arrivals[end - 1]
                self.clock = lambda at=at: at
                lag = bisect.bisect_right(arrivals, at) - end  # arrived, not yet read
            self.handle(
                [json.dumps(e, separators=(",", ":")) for e in events[i:end]],
                lag=lag,
                pending=end - i,
            )
            i = end
        self.clock = _wall_ms
        return len(events)

    def step_safely(self, block_ms: int = 1000) -> int:
        """``step``, surviving a broker restart: on a lost connection the next read starts
        again from our pending entries (a batch committed whose XACK was lost is replayed,
        and the unique detection key makes the replay harmless)."""
        try:
            return self.step(block_ms)
        except (redis.ConnectionError, redis.TimeoutError):
            self.cursor, self.reconnects = "0", self.reconnects + 1
            time.sleep(min(5.0, 0.1 * 2 ** min(self.reconnects, 6)))
            return 0

    def _detect(self, raw: list, now_ms: int):
        """Admitted events through the detector; one clock reading per batch (the batch is
        read at one moment: a per-event reading only measured our own loop)."""
        hits, touched, latest = [], set(), None
        subscribers, admit, process = self.subscribers, self.gate.admit, self.detector.process
        detected_at = _dt(now_ms)
        loads = json.loads
        for data in raw:
            event = loads(data)
            sub = subscribers.get(event.get("subscriber_id"))
            if sub is None or admit(event) != "admitted":
                continue  # not our customer (kept nowhere), duplicate, late or invalid
            if event["type"] in STATEFUL:
                touched.add(sub.subscriber_id)
            found = process(event, sub, now_ms)
            if found:
                hits += [(h, detected_at) for h in found]
                oldest = min(h.signal_time for h in found)
                latest = oldest if latest is None else min(latest, oldest)
        self.max_latency_ms = None if latest is None else now_ms - latest
        hits += [(h, detected_at) for h in self.detector.expire(self.gate.watermark, subscribers)]
        return hits, touched

    def run(self, *, idle_stop: float = 0, progress=None) -> int:
        """Consume until interrupted (or ``idle_stop`` seconds without entries)."""
        total, idle_since = 0, time.monotonic()
        while True:
            n = self.step_safely()
            total += n
            if n:
                idle_since = time.monotonic()
                if progress:
                    progress(total, self.gate)
            elif idle_stop and time.monotonic() - idle_since > idle_stop:
                return total
