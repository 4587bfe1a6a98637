"""Benchmark: signalling events/s end to end on Redis Streams (issue 22 target: >= 20,000/s).

    KEYCARE_HOME=/tmp/kc-bench PYTHONPATH=src .venv/bin/python benchmarks/signalling_stream.py \
        [--customers 5000] [--hours 24] [--batch 2000]

Migrates a fresh database (KEYCARE_HOME or DATABASE_URL), creates ``--customers`` customers
with the test factories, generates the synthetic stream (trips, a power-off burst, home
location updates, 2% duplicates, 0.5% late), XADDs it, then times the consumer group draining
it: read, gate, detect, commit detections/tasks/state/checkpoint, XACK. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--updates-per-hour", type=float, default=1.0)
    args = parser.parse_args()

    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keycare.config.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from factories import customer_fields, make_manager, make_org
    from keycare.customers.models import Customer
    from keycare.signalling.consumer import Consumer, client, produce
    from keycare.synth.signalling import generate

    place = make_org(
        cities=((f"B{uuid.uuid4().hex[:6]}", "基准市"),), province=(uuid.uuid4().hex[:6], "省")
    )
    place = next(iter(place.values()))
    manager = make_manager(place, f"BM{uuid.uuid4().hex[:6]}")
    tag = uuid.uuid4().hex[:6]
    rows = [
        customer_fields(place, f"{tag}{i:07d}", manager, row_hash=str(i))
        for i in range(args.customers)
    ]
    Customer.objects.bulk_create([Customer(**r) for r in rows], batch_size=2000)
    subs = [r["subscriber_id"] for r in rows]

    start = datetime.now(UTC) - timedelta(hours=1)
    t = time.perf_counter()
    events = [
        e
        for _, e in generate(
            subs,
            start=start,
            hours=args.hours,
            burst_size=args.customers // 50,
            home_updates_per_hour=args.updates_per_hour,
        )
    ]
    gen_s = time.perf_counter() - t
    r, key = client(), f"bench:signalling:{tag}"
    try:
        t = time.perf_counter()
        produce(r, key, events, batch=2000)
        produce_s = time.perf_counter() - t
        consumer = Consumer(r, key, "bench", batch=args.batch)
        consumer.setup()
        t = time.perf_counter()
        total = 0
        while n := consumer.step(block_ms=10):
            total += n
        consume_s = time.perf_counter() - t
    finally:
        r.delete(key)
    print(
        json.dumps(
            {
                "customers": args.customers,
                "events": len(events),
                "generate_s": round(gen_s, 2),
                "produce_s": round(produce_s, 2),
                "produce_eps": round(len(events) / produce_s),
                "consume_s": round(consume_s, 2),
                "consume_eps": round(total / consume_s),
                "end_to_end_eps": round(total / (produce_s + consume_s)),
                "gate": consumer.gate.counts,
            }
        )
    )


if __name__ == "__main__":
    main()
