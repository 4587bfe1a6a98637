"""Cost of the run's indicator step (keycare.engine.indicators) on a synthetic operator.

    python benchmarks/indicators.py --subscribers 200000 --months 13 [--engine duckdb]

Generates (or reuses) a delivery, ingests it, registers today's detections as one alert for
every 50th subscriber, and times ``compute_indicators`` alone: what the step adds to the run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

import pyarrow as pa

from keycare.engine.backends import connect
from keycare.engine.indicators import RunOutputs, compute_indicators
from keycare.engine.ingest import ingest
from keycare.synth.generator import generate

DAY = date(2026, 11, 22)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=200_000)
    parser.add_argument("--months", type=int, default=13)
    parser.add_argument("--engine", default="duckdb")
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="kc-indicators-"))
    delivery = base / f"synth-{args.subscribers}-{args.months}"
    if not (delivery / "manifest.json").exists():
        started = time.perf_counter()
        generate(delivery, subscribers=args.subscribers, months=args.months, seed=1)
        print(f"synth: {time.perf_counter() - started:.1f}s")
    with connect(args.engine) as backend:
        ingest(backend, delivery, staging_dir=base / "work", business_date=DAY)
        ids = backend.to_arrow("SELECT subscriber_id FROM subscribers").column(0).to_pylist()
        alerted = ids[::50]
        backend.register_arrow(
            "detections",
            pa.table({"subscriber_id": alerted, "moment_code": ["A03"] * len(alerted)}),
        )
        started = time.perf_counter()
        table = compute_indicators(backend, DAY, RunOutputs(detections=True))
        seconds = time.perf_counter() - started
    print(
        f"indicators: {args.subscribers} subscribers, {args.months} bill months, "
        f"engine {args.engine}: {seconds:.2f}s, {table.num_rows} rows"
    )


if __name__ == "__main__":
    main()
