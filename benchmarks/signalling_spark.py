"""Benchmark: signalling events/s through the Spark Structured Streaming path (issue 22).

    KEYCARE_HOME=/tmp/kc-bench PYTHONPATH=src .venv/bin/python benchmarks/signalling_spark.py \
        [--customers 2000] [--hours 24] [--updates-per-hour 1]

Same setup as ``signalling_stream.py`` (fresh database, factory customers, the synthetic stream
XADDed to Redis), then times one Spark query (local[2], 2 shuffle partitions) draining it:
source, contract filter, watermark, dedup, Detector per subscriber, foreachBatch commit. The
JVM start-up is timed apart. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
URL = "redis://127.0.0.1:6379/0"


def customers(n: int) -> list[str]:
    from factories import customer_fields, make_manager, make_org
    from keycare.customers.models import Customer

    tag = uuid.uuid4().hex[:6]
    place = next(iter(make_org(cities=((f"B{tag}", "基准市"),), province=(tag, "省")).values()))
    manager = make_manager(place, f"BM{tag}")
    rows = [customer_fields(place, f"{tag}{i:07d}", manager, row_hash=str(i)) for i in range(n)]
    Customer.objects.bulk_create([Customer(**r) for r in rows], batch_size=2000)
    return [r["subscriber_id"] for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--updates-per-hour", type=float, default=1.0)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keycare.config.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from keycare.signalling.consumer import client, produce
    from keycare.signalling.spark.job import session
    from keycare.signalling.spark.sink import start_query
    from keycare.synth.signalling import generate

    subs = customers(args.customers)
    start = datetime.now(UTC) - timedelta(hours=1)
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
    r, key = client(URL), f"bench:sstream:{uuid.uuid4().hex[:6]}"
    t = time.perf_counter()
    spark = session(conf={"spark.sql.shuffle.partitions": "2"})
    jvm_s = time.perf_counter() - t
    try:
        produce(r, key, events, batch=2000)
        with tempfile.TemporaryDirectory() as cp:
            t = time.perf_counter()
            query, sink = start_query(spark, key, URL, cp, trigger_seconds=0.1)
            query.processAllAvailable()
            drain_s = time.perf_counter() - t
            query.stop()
    finally:
        r.delete(key)
    print(
        json.dumps(
            {
                "customers": args.customers,
                "events": len(events),
                "jvm_start_s": round(jvm_s, 1),
                "drain_s": round(drain_s, 1),
                "events_per_s": round(len(events) / drain_s),
                "batches": sink.batches,
                "detections_stored": sink.stored,
                "load_avg": os.getloadavg(),
            }
        )
    )


if __name__ == "__main__":
    main()
