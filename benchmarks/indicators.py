"""Cost of the run's indicator step (keycare.engine.indicators) on a synthetic operator.

    python benchmarks/indicators.py --subscribers 200000 --months 13 [--engine duckdb]
        [--dir DIR] [--mode first|daily|steady|both]

Generates (or reuses) a delivery, ingests it, registers today's detections as one alert for
every 50th subscriber, and times ``compute_indicators`` alone: what the step adds to the run.

``--mode first`` (the default) publishes every bill month: a first run, or any run of code
that restates every month. ``--mode daily`` simulates the previous published run having
published every month but the newest (月报固化: a normal daily run publishes the newest
month only); it needs code with ``months_to_publish``. ``--mode steady`` is a daily run on a
day no new bill month has arrived (most days): every delivered month was published before,
so the bills are not read. ``--mode both`` times daily, then first, on one ingest. Only the
files the step reads are ingested (``INGESTED``). Prints
per timing the wall and CPU seconds of the step, its own peak RSS (the kernel's high-water
mark reset before it; the process's peak before it, ingest included, beside it) and the
load average before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from keycare.engine.backends import connect
from keycare.engine.indicators import RunOutputs, compute_indicators
from keycare.engine.ingest import ingest
from keycare.synth.generator import generate

DAY = date(2026, 11, 22)
# The contract files the indicator step reads (the unified view's fields, key accounts).
INGESTED = (
    "subscribers",
    "assignments",
    "bills",
    "events",
    "call_circle",
    "key_accounts",
    "key_account_members",
)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux: clear_refs 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_gb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def _months_after(backend, published_before) -> dict:
    """``bill_months`` of a run whose previous run published ``published_before(delivered)``."""
    from keycare.engine.indicators import (
        Published,
        delivered_months,
        load_indicators,
        months_to_publish,
    )

    version = load_indicators().version
    delivered = delivered_months(backend)
    previous = Published(version, frozenset(published_before(delivered)))
    return {"bill_months": months_to_publish(delivered, previous, version)}


def daily_months(backend) -> dict:
    """A daily run: the previous run published every month but the newest."""
    return _months_after(backend, lambda delivered: delivered[:-1])


def steady_months(backend) -> dict:
    """A day without a new bill month: every month was published before."""
    return _months_after(backend, lambda delivered: delivered)


MONTHS = {"first": lambda backend: {}, "daily": daily_months, "steady": steady_months}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=200_000)
    parser.add_argument("--months", type=int, default=13)
    parser.add_argument("--engine", default="duckdb")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--mode", choices=("first", "daily", "steady", "both"), default="first")
    args = parser.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="kc-indicators-"))
    delivery = base / f"synth-{args.subscribers}-{args.months}"
    if not (delivery / "manifest.json").exists():
        started = time.perf_counter()
        generate(delivery, subscribers=args.subscribers, months=args.months, seed=1)
        print(f"synth: {time.perf_counter() - started:.1f}s")
    with connect(args.engine) as backend:
        started = time.perf_counter()
        work = base / f"work-{os.getpid()}"
        ingest(
            backend,
            delivery,
            staging_dir=work,
            business_date=DAY,
            files=INGESTED,
        )
        ingest_seconds = time.perf_counter() - started
        ids = backend.to_arrow("SELECT subscriber_id FROM subscribers").column(0).to_pylist()
        alerted = ids[::50]
        del ids
        backend.register_arrow(
            "detections",
            pa.table({"subscriber_id": alerted, "moment_code": ["A03"] * len(alerted)}),
        )
        print(f"ingest {ingest_seconds:.1f}s", flush=True)
        modes = ("daily", "first") if args.mode == "both" else (args.mode,)
        for mode in modes:
            time_step(backend, args, mode)
    shutil.rmtree(work, ignore_errors=True)


def time_step(backend, args, mode: str) -> None:
    options = MONTHS[mode](backend)
    process_peak = peak_rss_gb()
    reset = reset_peak_rss()
    load_before = load_average()
    cpu = time.process_time()
    started = time.perf_counter()
    table = compute_indicators(backend, DAY, RunOutputs(detections=True), **options)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    step_peak = peak_rss_gb() if reset else float("nan")
    load_after = load_average()
    monthly = table.filter(pc.equal(table["grain"], "month"))
    months = len(set(monthly["period"].to_pylist()))
    print(
        f"indicators: {args.subscribers} subscribers, {args.months} bill months delivered, "
        f"{mode}: {months} published, engine {args.engine}: wall {seconds:.2f}s, "
        f"cpu {cpu:.2f}s, {table.num_rows} rows, step peak RSS {step_peak:.2f} GB "
        f"(process before the step {process_peak:.2f} GB), load {load_before} -> {load_after}",
        flush=True,
    )


if __name__ == "__main__":
    main()
