"""Benchmark: signalling events/s end to end on Redis Streams (issue 22 targets: >= 20,000/s
sustained, p99 signal -> detection <= 2 s).

    KEYCARE_HOME=/tmp/kc-bench PYTHONPATH=src .venv/bin/python benchmarks/signalling_stream.py \
        [--customers 5000] [--hours 24] [--batch 2000]

    KEYCARE_HOME=/tmp/kc-bench PYTHONPATH=src .venv/bin/python benchmarks/signalling_stream.py \
        --rate 20000 --seconds 60 [--customers N] [--hours 24] [--batch 2000]

Migrates a fresh database (KEYCARE_HOME or DATABASE_URL), creates customers with the test
factories and generates the synthetic stream (trips, a power-off burst, home location updates,
2% duplicates, 0.5% late). Prints JSON.

Default mode (the figures of docs/performance.md before the paced mode): XADD the whole stream,
THEN time the consumer group draining it (read, gate, detect, commit, XACK).

Paced mode (``--rate``/``--seconds``): a producer process XADDs ``rate x seconds`` events at
``rate`` events/s while the consumer runs concurrently in this process until the producer is
done and the backlog is drained. Each event is sent "live": its event_time becomes the wall
clock at send minus its original delay (arrival - event_time in the synthetic stream), so late
events stay late and every copy of a duplicated event_id carries the first copy's time. Latency
is measured per detection as the wall clock after its batch's commit returned minus its signal
(rewritten event) time. See docs/performance.md for the JSON fields.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

# Moments the paced mode cannot produce: the whole synthetic span is compressed into the run's
# seconds, and these compare event times hours apart.
NOT_FIRING = {
    "RT03": "phone off >= off_hours (48 h) in event time: a power-off and the watermark are "
    "seconds apart when the span is compressed, so the timer never comes due",
    "RT04": "back after >= min_abroad_hours (24 h) abroad: a trip's roaming_start and "
    "roaming_end are seconds apart in rewritten event time",
}
# Pipeline rounds per second in the paced producer: each round is stamped with one wall-clock
# reading, so an event's signal time is at most one round (10 ms) before its XADD.
ROUNDS_PER_SECOND = 100


def main() -> None:
    args = parse(sys.argv[1:])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keycare.config.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if args.rate:
        result = paced(
            args.customers,
            rate=args.rate,
            seconds=args.seconds,
            hours=args.hours,
            batch=args.batch,
            updates_per_hour=args.updates_per_hour,
        )
    else:
        result = sequential(args.customers or 5000, args.hours, args.batch, args.updates_per_hour)
    print(json.dumps(result))


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--customers",
        type=int,
        default=None,
        help="default 5000; paced mode: enough for rate x seconds events over --hours",
    )
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--updates-per-hour", type=float, default=1.0)
    parser.add_argument("--rate", type=float, default=0, help="paced mode: events/s to produce")
    parser.add_argument("--seconds", type=float, default=0, help="paced mode: how long to produce")
    args = parser.parse_args(argv)
    if bool(args.rate) != bool(args.seconds):
        parser.error("--rate and --seconds go together (the paced mode needs both)")
    if args.rate < 0 or args.seconds < 0:
        parser.error("--rate and --seconds must be positive")
    if args.customers is not None and args.customers < 1:
        parser.error("--customers must be at least 1")
    if args.hours < 1 or args.batch < 1:
        parser.error("--hours and --batch must be at least 1")
    if args.rate and args.customers is None and args.updates_per_hour <= 0:
        parser.error("the paced mode sizes --customers from --updates-per-hour: give --customers")
    return args


def make_customers(n: int) -> list[str]:
    """``n`` customers of one new city and manager; their subscriber IDs."""
    from factories import customer_fields, make_manager, make_org
    from keycare.customers.models import Customer

    place = make_org(
        cities=((f"B{uuid.uuid4().hex[:6]}", "基准市"),), province=(uuid.uuid4().hex[:6], "省")
    )
    place = next(iter(place.values()))
    manager = make_manager(place, f"BM{uuid.uuid4().hex[:6]}")
    tag = uuid.uuid4().hex[:6]
    rows = [customer_fields(place, f"{tag}{i:07d}", manager, row_hash=str(i)) for i in range(n)]
    Customer.objects.bulk_create([Customer(**r) for r in rows], batch_size=2000)
    return [r["subscriber_id"] for r in rows]


def synthetic(subs: list[str], hours: int, updates_per_hour: float, start: datetime):
    from keycare.synth.signalling import generate

    return generate(
        subs,
        start=start,
        hours=hours,
        burst_size=len(subs) // 50,
        home_updates_per_hour=updates_per_hour,
    )


def sequential(customers: int, hours: int, batch: int, updates_per_hour: float) -> dict:
    """The original mode: produce everything, then consume (figures reproducible)."""
    from keycare.signalling.consumer import Consumer, client, produce

    subs = make_customers(customers)
    start = datetime.now(UTC) - timedelta(hours=1)
    t = time.perf_counter()
    events = [e for _, e in synthetic(subs, hours, updates_per_hour, start)]
    gen_s = time.perf_counter() - t
    r, key = client(), f"bench:signalling:{uuid.uuid4().hex[:6]}"
    try:
        t = time.perf_counter()
        produce(r, key, events, batch=2000)
        produce_s = time.perf_counter() - t
        consumer = Consumer(r, key, "bench", batch=batch)
        consumer.setup()
        t = time.perf_counter()
        total = 0
        while n := consumer.step(block_ms=10):
            total += n
        consume_s = time.perf_counter() - t
    finally:
        r.delete(key)
    return {
        "customers": customers,
        "events": len(events),
        "generate_s": round(gen_s, 2),
        "produce_s": round(produce_s, 2),
        "produce_eps": round(len(events) / produce_s),
        "consume_s": round(consume_s, 2),
        "consume_eps": round(total / consume_s),
        "end_to_end_eps": round(total / (produce_s + consume_s)),
        "gate": consumer.gate.counts,
    }


# --- paced mode -------------------------------------------------------------------------


def live_templates(stream: list[tuple[int, dict]], need: int) -> tuple[list[tuple], int]:
    """``need`` events as (JSON without its event_time value, original delay ms, duplicate
    key or None, subscriber ID of a roaming_start or None), cycling ``stream`` (arrival order) as often as needed; returns them and the
    number of cycles. Each cycle suffixes the event_ids (``~cN``) so a cycle is new events, not
    duplicates of the previous one; within a cycle, copies of one event_id stay copies."""
    copies = Counter(event["event_id"] for _, event in stream)
    out, cycle = [], 0
    while len(out) < need:
        suffix = f"~c{cycle}" if cycle else ""
        for arrival, event in stream[: need - len(out)]:
            body = {k: v for k, v in event.items() if k != "event_time"}
            body["event_id"] += suffix
            text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
            dup = body["event_id"] if copies[event["event_id"]] > 1 else None
            trigger = event["subscriber_id"] if event["type"] == "roaming_start" else None
            out.append((text[:-1] + ',"event_time":', arrival - event["event_time"], dup, trigger))
        cycle += 1
    return out, cycle


def live_payloads(templates, now: int, first_time: dict, sent: list) -> list[str]:
    """The events of one XADD round sent at ``now`` (epoch ms): event_time = now - original
    delay; every copy of a duplicated event_id gets the first copy's time (``first_time``);
    ``sent`` collects (subscriber, event_time, now) of each roaming_start."""
    out = []
    for prefix, delay, dup, trigger in templates:
        t = now - delay
        if dup is not None:  # a re-sent event: the same event, so the same event time
            t = first_time.setdefault(dup, t)
        if trigger:  # RT01/RT02's trigger: when it was sent, against its signal time
            sent.append((trigger, t, now))
        out.append(f"{prefix}{t}}}")
    return out


def live_producer(url, key, subs, hours, updates_per_hour, need, rate, events, out) -> None:
    """The producer process: build the events, signal ``ready``, wait for ``go``, XADD them
    paced at ``rate``, signal ``done`` and put its figures on ``out``."""
    ready, go, done = events
    import redis

    start = datetime.now(UTC) - timedelta(hours=hours)
    stream = synthetic(subs, hours, updates_per_hour, start)
    if not stream:
        raise ValueError("the synthetic stream is empty: give --updates-per-hour or more customers")
    templates, cycles = live_templates(stream, need)
    r = redis.Redis.from_url(url)
    ready.set()
    go.wait()
    chunk = max(1, round(rate / ROUNDS_PER_SECOND))
    pipe, first_time, started = r.pipeline(transaction=False), {}, time.monotonic()
    first_xadd, sent = None, []
    for i in range(0, len(templates), chunk):
        pause = started + i / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        now = int(time.time() * 1000)
        first_xadd = first_xadd or now
        for payload in live_payloads(templates[i : i + chunk], now, first_time, sent):
            pipe.xadd(key, {"e": payload})
        pipe.execute()
    last_xadd = int(time.time() * 1000)
    done.set()
    out.put(
        {
            "events_generated": len(stream),
            "cycles": cycles,
            "produced": len(templates),
            "first_xadd_ms": first_xadd,
            "last_xadd_ms": last_xadd,
            "sent": sent,
        }
    )


def percentiles(values: list[float]) -> dict:
    """Nearest-rank p50/p95/p99 and max (ms), None when nothing was measured."""
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def rank(p: float) -> int:
        return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)])

    return {"p50": rank(50), "p95": rank(95), "p99": rank(99), "max": round(ordered[-1])}


def timed_consumer(r, key: str, batch: int):
    """A Consumer that notes, per batch, the wall clock after ``commit_batch`` returned (the
    detections are committed then) against each new detection's signal time, and the largest
    XINFO lag it was handed."""
    from keycare.signalling.consumer import Consumer

    class Timed(Consumer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.committed: list[tuple[str, int, float]] = []  # (subscriber, signal, commit)
            self.by_moment: Counter = Counter()
            self.max_lag = self.batches = 0

        def handle(self, raw, *, lag=None, pending=None, started=None):
            stored = super().handle(raw, lag=lag, pending=pending, started=started)
            committed_ms = time.time() * 1000
            self.committed += [
                (d.customer.subscriber_id, round(d.signal_time.timestamp() * 1000), committed_ms)
                for d in stored
            ]
            self.by_moment.update(d.moment for d in stored)
            self.max_lag = max(self.max_lag, lag or 0)
            self.batches += 1
            return stored

    return Timed(r, key, "bench-live", batch=batch)


def customers_for(events: float, hours: int, updates_per_hour: float) -> int:
    """Customers whose ``hours`` of stream hold about ``events`` events (home updates are
    nearly all of it; +2% duplicates)."""
    return max(1, math.ceil(events / (hours * updates_per_hour * 1.02)))


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def paced(
    customers: int | None,
    *,
    rate: float,
    seconds: float,
    hours: int = 24,
    batch: int = 2000,
    updates_per_hour: float = 1.0,
) -> dict:
    """The paced, concurrent run; returns the report (see docs/performance.md)."""
    from django.conf import settings

    from keycare.signalling.consumer import GROUP, client

    load_before = uptime()
    need = max(1, round(rate * seconds))
    customers = customers or customers_for(need, hours, updates_per_hour)
    subs = make_customers(customers)
    url = getattr(settings, "SIGNALLING_REDIS_URL", "redis://127.0.0.1:6379/0")
    r, key = client(url), f"bench:signalling:live:{uuid.uuid4().hex[:6]}"
    mp = multiprocessing.get_context("spawn")  # a clean interpreter: no Django, no DB sockets
    ready, go, done, out = mp.Event(), mp.Event(), mp.Event(), mp.Queue()
    args = (url, key, subs, hours, updates_per_hour, need, rate, (ready, go, done), out)
    producer = mp.Process(target=live_producer, args=args, daemon=True)
    producer.start()
    try:
        consumer = timed_consumer(r, key, batch)
        consumer.setup()  # the group exists before the first XADD
        while not ready.wait(1):
            _check_alive(producer)
        go.set()
        run = _consume_until_drained(consumer, producer, done)
        run.update(out.get(timeout=30))
        info = next(g for g in r.xinfo_groups(key) if g["name"] in (GROUP, GROUP.encode()))
        run["check"] = {
            "produced": run["produced"],
            "consumed": run["consumed"],
            "stream_length": r.xlen(key),
            "pending_after": info["pending"],
            "lag_after": info.get("lag"),
        }
    finally:
        producer.join(5)
        if producer.is_alive():
            producer.terminate()
        r.delete(key)
    return _report(consumer, run, customers, hours, updates_per_hour, rate, seconds, load_before)


def _check_alive(producer) -> None:
    if not producer.is_alive():
        raise RuntimeError(f"the producer process died (exit code {producer.exitcode})")


def _consume_until_drained(consumer, producer, done) -> dict:
    """Step the consumer until the producer has finished and a read after that finds nothing
    (every entry XADDed before ``done`` was set is then read, committed and acknowledged)."""
    total, first_read, last_ack = 0, None, None
    while True:
        finished = done.is_set()
        began = time.time() * 1000
        n = consumer.step(block_ms=50)
        if n:
            last_ack = time.time() * 1000
            first_read = first_read or began
            total += n
        elif finished:
            break
        elif not done.is_set():  # still producing: unless it died
            _check_alive(producer)
    return {"consumed": total, "first_read_ms": first_read, "last_ack_ms": last_ack}


def _from_send(committed: list, sent: list) -> dict:
    """Commit time minus the XADD round's stamp of the roaming_start that triggered an RT01/
    RT02 detection: the broker + consumer share of the latency (the synthetic network delay,
    50-3,000 ms, is in ``latency_ms`` but not here)."""
    stamps = {(sub, t): at for sub, t, at in sent}
    found = [done - stamps[(sub, t)] for sub, t, done in committed if (sub, t) in stamps]
    return {**percentiles(found), "detections": len(found)}


def _report(consumer, run, customers, hours, updates_per_hour, rate, seconds, load_before):
    produce_s = (run["last_xadd_ms"] - run["first_xadd_ms"]) / 1000
    span_s = (run["last_ack_ms"] - run["first_xadd_ms"]) / 1000
    consume_s = (run["last_ack_ms"] - run["first_read_ms"]) / 1000
    moments = {code: consumer.by_moment.get(code, 0) for code in ("RT01", "RT02", "RT03", "RT04")}
    return {
        "mode": "paced",
        "target_eps": rate,
        "seconds": seconds,
        "customers": customers,
        "hours": hours,
        "updates_per_hour": updates_per_hour,
        "events_generated": run["events_generated"],
        "cycles": run["cycles"],
        "events": run["produced"],
        "produce_s": round(produce_s, 2),
        "produce_eps": round(run["produced"] / produce_s) if produce_s else None,
        "consume_s": round(consume_s, 2),
        "consume_eps": round(run["consumed"] / consume_s) if consume_s else None,
        "end_to_end_s": round(span_s, 2),
        "end_to_end_eps": round(run["consumed"] / span_s) if span_s else None,
        "drain_s": round((run["last_ack_ms"] - run["last_xadd_ms"]) / 1000, 2),
        "batches": consumer.batches,
        "max_lag": consumer.max_lag,
        "latency_ms": percentiles([done - signal for _, signal, done in consumer.committed]),
        "latency_from_send_ms": _from_send(consumer.committed, run["sent"]),
        "detections": len(consumer.committed),
        "detections_by_moment": moments,
        "not_firing": NOT_FIRING,
        "gate": consumer.gate.counts,
        "check": run["check"],
        "load_before": load_before,
        "load_after": uptime(),
    }


if __name__ == "__main__":
    main()
