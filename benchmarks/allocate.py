"""Benchmark: allocate 10M candidates to 1,250 managers (issue 4: <= 10 s on 2 cores).

    .venv/bin/python benchmarks/allocate.py [--rows 10000000] [--managers 1250] [--threads 2]

Synthetic candidates (~1.4 moments per customer, 29 moment codes, 3% suppressed, 10% with a
recent contact, 40% SMS-allowed moments) are generated first and written to Parquet; the
timed part reads them through a DuckDB backend and runs the whole allocation (flags, control
group, task merge, per-manager ranking, decisions for every row), materialising both outputs
and writing them to Parquet. Prints time and peak RSS (ru_maxrss of this process, which
includes the data generation).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from keycare.engine.allocate import AllocationConfig, allocate
from keycare.engine.backends.duckdb import DuckDBBackend

BUSINESS_DATE = date(2026, 11, 23)
MOMENT_CODES = [f"{p}{i:02d}" for p, n in (("F", 7), ("A", 17), ("S", 3)) for i in range(1, n + 1)]


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    unique, inverse = np.unique(numbers, return_inverse=True)
    names = pa.array([f"{prefix}{n:0{width}d}" for n in unique], pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(inverse, pa.int32()), names).cast(pa.string())


def make_candidates(rows: int, managers: int, seed: int = 7) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(seed)
    customers = int(rows / 1.4)
    sub = rng.integers(0, customers, rows)
    moment = rng.integers(0, len(MOMENT_CODES), rows)
    moment_priority = rng.integers(10, 100, len(MOMENT_CODES)).astype(float)
    sms_ok = rng.random(len(MOMENT_CODES)) < 0.4
    sms_channel = rng.random(len(MOMENT_CODES)) < 0.1
    customer_rng = np.random.default_rng(seed + 1)
    risk = customer_rng.random(customers)
    value = customer_rng.gamma(2.0, 90.0, customers)
    recent = customer_rng.random(customers) < 0.1
    suppressed = customer_rng.random(customers) < 0.03
    days_ago = customer_rng.integers(1, 60, customers)
    contact = np.where(
        recent,
        np.datetime64(BUSINESS_DATE) - days_ago.astype("timedelta64[D]"),
        np.datetime64("NaT"),
    )
    codes = pa.array(MOMENT_CODES, pa.string())
    candidates = pa.table(
        {
            "subscriber_id": _ids("S", sub, 9),
            "moment_code": pa.DictionaryArray.from_arrays(pa.array(moment, pa.int32()), codes).cast(
                pa.string()
            ),
            "priority": moment_priority[moment],
            "channel": pa.array(np.where(sms_channel[moment], "sms", "call")),
            "sms_allowed": sms_ok[moment] | sms_channel[moment],
            "city_id": _ids("32", sub % 13, 2),
            "manager_id": _ids("M", sub % managers, 5),
            "risk": risk[sub],
            "value": value[sub],
            "last_contact_date": pa.array(contact[sub].astype("datetime64[D]"), pa.date32()),
            "suppressed": suppressed[sub],
        }
    )
    manager_table = pa.table(
        {
            "manager_id": _ids("M", np.arange(managers), 5),
            "daily_capacity": rng.integers(150, 260, managers),
            "active": rng.random(managers) < 0.99,
        }
    )
    return candidates, manager_table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--managers", type=int, default=1_250)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="keycare-bench-alloc-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        candidates, managers = make_candidates(args.rows, args.managers)
        pq.write_table(candidates, tmp / "candidates.parquet", compression="zstd")
        pq.write_table(managers, tmp / "managers.parquet")
        del candidates
        generated = time.perf_counter() - t0

        with DuckDBBackend(threads=args.threads) as backend:
            t1 = time.perf_counter()
            backend.register_file("candidates", tmp / "candidates.parquet")
            backend.register_file("managers", tmp / "managers.parquet")
            result = allocate(
                "candidates",
                "managers",
                AllocationConfig(),
                business_date=BUSINESS_DATE,
                backend=backend,
                fetch=False,
            )
            computed = time.perf_counter() - t1
            over = backend.scalar(
                "SELECT count(*) FROM (SELECT manager_id, max(capacity) AS cap, count(*) AS n"
                " FROM allocation_tasks WHERE decision = 'call' GROUP BY manager_id)"
                " WHERE n > cap"
            )
            decisions = backend.write_parquet(
                "SELECT * FROM allocation_decisions", tmp / "decisions.parquet"
            )
            tasks = backend.write_parquet("SELECT * FROM allocation_tasks", tmp / "tasks.parquet")
            elapsed = time.perf_counter() - t1
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report = {
        "candidates": args.rows,
        "managers": args.managers,
        "threads": args.threads,
        "decisions": decisions,
        "tasks": tasks,
        "counts": result.counts,
        "managers_over_capacity": over,
        "generate_s": round(generated, 2),
        "allocate_s": round(computed, 2),
        "allocate_and_write_parquet_s": round(elapsed, 2),
        "peak_rss_mib": round(peak_mib),
    }
    print(json.dumps(report, ensure_ascii=False))
    return 0 if decisions == args.rows and over == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
