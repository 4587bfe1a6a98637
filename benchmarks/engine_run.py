"""Benchmark the daily run (`run_daily`) on synthetic operators of 1M and 10M subscribers.

    .venv/bin/python benchmarks/engine_run.py --subscribers 1000000
    .venv/bin/python benchmarks/engine_run.py --subscribers 1000000,10000000 --repeat 2

For each size it generates the delivery with the synthetic generator (once; reused while
its manifest matches), then times `keycare.engine.pipeline.run_daily` and prints seconds and
rows/s per step and the peak RSS of the run. Generation runs in a child process so the
peak RSS printed is the run's own. Targets on a 2-core machine (issue 3): the moments step
(view + detect) for 10M subscribers in <= 15 s, the whole run in <= 40 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

DEFAULT_ROOT = Path(
    os.environ.get("KEYCARE_BENCH_DIR", Path(tempfile.gettempdir()) / "keycare-bench")
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--subscribers", default="1000000", help="comma-separated sizes (default 1000000)"
    )
    parser.add_argument("--months", type=int, default=7, help="closed bill months of history")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="where data and runs go")
    parser.add_argument("--engine", default="duckdb")
    parser.add_argument("--repeat", type=int, default=1, help="runs per size (best is reported)")
    parser.add_argument("--json", action="store_true", help="also print one JSON line per size")
    return parser.parse_args(argv)


def ensure_delivery(root: Path, subscribers: int, months: int, seed: int) -> tuple[Path, date]:
    """Generate the delivery unless a matching one is already there; return (dir, date)."""
    data = root / f"synth-{subscribers}-m{months}-s{seed}"
    manifest = data / "manifest.json"
    if not manifest.exists():
        print(f"generating {subscribers:,} subscribers into {data} ...", flush=True)
        started = time.perf_counter()
        code = (
            "from keycare.synth.generator import generate; "
            f"generate({str(data)!r}, subscribers={subscribers}, months={months}, seed={seed})"
        )
        subprocess.run([sys.executable, "-c", code], check=True)
        print(f"generated in {time.perf_counter() - started:.1f}s", flush=True)
    business_date = date.fromisoformat(json.loads(manifest.read_text())["business_date"])
    return data, business_date


def run_once(data: Path, business_date: date, runs: Path, engine: str) -> dict:
    """One run in a fresh child process: its peak RSS is the run's alone."""
    code = f"""
import json, resource, time
from datetime import date
from pathlib import Path
from keycare.engine.pipeline import run_daily
started = time.perf_counter()
summary = run_daily(date.fromisoformat({business_date.isoformat()!r}), Path({str(data)!r}),
                    Path({str(runs)!r}), engine={engine!r})
wall = time.perf_counter() - started
print(json.dumps({{"wall": wall, "steps": summary.record["steps"],
                  "inputs": {{n: f["rows_in"] for n, f in summary.record["inputs"].items()}},
                  "detections": sum(summary.counts.values()), "suppressed": summary.suppressed,
                  "quarantined": summary.quarantined, "run_id": summary.run_id,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def report(subscribers: int, result: dict) -> None:
    input_rows = sum(result["inputs"].values())
    print(f"\n== {subscribers:,} subscribers, {input_rows:,} input rows, run {result['run_id']}")
    print(f"{'step':<10} {'seconds':>9} {'rows':>14} {'rows/s':>14}")
    for step in result["steps"]:
        rows = step["rows"] if step["rows"] is not None else 0
        rate = rows / step["seconds"] if step["seconds"] else 0
        print(f"{step['name']:<10} {step['seconds']:>9.2f} {rows:>14,} {rate:>14,.0f}")
    moments = sum(s["seconds"] for s in result["steps"] if s["name"] in ("view", "detect"))
    total = sum(s["seconds"] for s in result["steps"])
    print(f"{'moments':<10} {moments:>9.2f}   (view + detect; target <= 15 s at 10M)")
    print(f"{'total':<10} {total:>9.2f}   (wall {result['wall']:.2f} s incl. publish; <= 40 s)")
    print(
        f"peak RSS {result['peak_rss_mb']:,.0f} MiB; detections {result['detections']:,}, "
        f"suppressed {result['suppressed']:,}, quarantined {result['quarantined']:,}"
    )


def machine() -> str:
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except OSError:
        pass
    import duckdb

    return (
        f"{platform.machine()}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}, "
        f"DuckDB {duckdb.__version__}"
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.subscribers.split(",")]
    print(f"machine: {machine()}")
    for subscribers in sizes:
        data, business_date = ensure_delivery(args.root, subscribers, args.months, args.seed)
        runs = args.root / f"runs-{subscribers}"
        best = None
        for _ in range(args.repeat):
            result = run_once(data, business_date, runs, args.engine)
            if best is None or result["wall"] < best["wall"]:
                best = result
        report(subscribers, best)
        if args.json:
            print(json.dumps({"subscribers": subscribers, **best}))
        shutil.rmtree(runs, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
