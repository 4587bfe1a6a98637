"""Time the daily run against its alternatives on one synthetic operator (issues 7 and 20).

    .venv/bin/python benchmarks/daily_run.py --subscribers 1000000
    .venv/bin/python benchmarks/daily_run.py --subscribers 1000000 --spark --json out.json
    .venv/bin/python benchmarks/daily_run.py --subscribers 10000000 --no-pandas

Generates the delivery with the synthetic generator (cached under ``--data-root``, default
var/bench, reused while its manifest is there), then runs, each in its own child process on
the same machine so every peak RSS is that contender's own:

  (t) train   ``keycare risk train``: the monthly training job (sample, out-of-time check,
              fit, promote), reported apart -- the daily run never trains;
  (a) duckdb  KeyCare ``run_daily`` as ``keycare run`` does it: ingest, view, detect, score
              the whole in-scope base with the promoted model, allocate, write, publish;
  (b) spark   the same ``run_daily`` on Spark local (``--spark``; slow on 2 cores);
  (c) pandas  benchmarks/pandas_moments.py, the same 29 moments written in plain pandas;
              its (subscriber_id, moment_code) pairs are compared with KeyCare's detections
              and suppressions (all of them, not a sample) and the run fails if they differ;
  (d) floor   one DuckDB query that only reads and sums the columns the moments read.

All 29 moments are evaluated whatever their cycle (the heaviest day: a Monday that is also
the monthly day). Per contender it prints seconds, rows/s, peak RSS and the ratio to (a),
plus KeyCare's own steps, the load average before and after each contender, and the
targets of issue 7: 10M whole run <= 60 s with peak RSS <= 8 GiB, (a) >= 10x faster than
(c), the moments step (view + detect) within 5x the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

# Run as a script, this folder is on sys.path: one cache of synthetic deliveries for both.
from engine_run import ensure_delivery

from keycare.cpu import NUMPY_SETTING, prefer_avx2_sort

HERE = Path(__file__).resolve().parent
DEFAULT_ROOT = HERE.parent / "var" / "bench"
MOMENT_TABLES = ("subscribers", "bills", "usage_weekly", "events", "call_circle")
GIB = 1024**3


# --------------------------------------------------------------------------- children


def cpu_seconds() -> float:
    """User + system CPU of this process and its reaped children: less sensitive to load."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def peak_rss_bytes() -> dict:
    """Peak RSS of this process and of its largest reaped child (Spark's JVM), in bytes."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return {"self": own, "children": children}


def all_moment_codes() -> list[str]:
    from keycare.engine.definitions import load_definitions

    return sorted(m.code for m in load_definitions().moments)


def child_train(data: Path, day: date, work: Path) -> dict:
    from keycare.engine.risk.operator import train_from_delivery

    started = time.perf_counter()
    result = train_from_delivery(data, work / "models", day)
    sample = json.loads((result.path / "metadata.json").read_text())["sample"]
    return {
        "seconds": time.perf_counter() - started,
        "rows": sample["population_rows"],
        "sample_rows": sample["rows"],
        "version": result.version,
        "promoted": result.promotion["promoted"],
        "holdout": result.metrics.get("holdout"),
    }


def child_keycare(data: Path, day: date, work: Path, engine: str) -> dict:
    from keycare.engine.pipeline import run_daily

    peaks: dict[str, int] = {}
    cpu: dict[str, float] = {}

    def progress(step: str, status: str, info: dict) -> None:
        if status in ("start", "done"):  # in the error's tail if the run fails
            print(f"step {step} {status}", file=sys.stderr, flush=True)
        if status == "start":
            cpu[step] = cpu_seconds()
        if status == "done":
            peaks[step] = peak_rss_bytes()["self"]
            cpu[step] = cpu_seconds() - cpu[step]

    options = {"master": "local[2]"} if engine == "spark" else None
    started = time.perf_counter()
    summary = run_daily(
        day,
        data,
        work / f"runs-{engine}",
        engine=engine,
        moments=all_moment_codes(),
        progress=progress,
        backend_options=options,
        models_dir=work / "models",  # the promoted model of the train contender, if it ran
    )
    wall = time.perf_counter() - started
    steps = summary.record["steps"]
    for step in steps:
        step["peak_rss_so_far"] = peaks.get(step["name"])
        step["cpu"] = cpu.get(step["name"])
    return {
        "seconds": wall,
        "steps": steps,
        "rows": sum(f["rows_in"] for f in summary.record["inputs"].values()),
        "detections": sum(summary.counts.values()),
        "suppressed": summary.suppressed,
        "quarantined": summary.quarantined,
        "run_id": summary.run_id,
        "output": str(summary.path),
        "risk_scored": (summary.record.get("risk_model") or {}).get("scored"),
        "decisions": summary.record.get("decisions"),
    }


def child_pandas(data: Path, day: date, work: Path) -> dict:
    sys.path.insert(0, str(HERE))
    import pandas_moments

    started = time.perf_counter()
    detections, suppressions = pandas_moments.detect(data, day)
    seconds = time.perf_counter() - started
    out = work / "pandas"
    out.mkdir(parents=True, exist_ok=True)
    detections.to_parquet(out / "detections.parquet", index=False)
    suppressions.to_parquet(out / "suppressions.parquet", index=False)
    return {
        "seconds": seconds,
        "rows": _table_rows(data, MOMENT_TABLES),
        "detections": len(detections),
        "suppressed": len(suppressions),
        "output": str(out),
    }


def child_floor(data: Path, day: date, work: Path) -> dict:
    import duckdb

    sql = floor_sql(data, day)
    con = duckdb.connect()
    con.execute(f"SET threads = {os.cpu_count() or 1}")
    started = time.perf_counter()
    con.execute(sql).fetchall()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": _table_rows(data, MOMENT_TABLES), "sql": sql}


def moment_columns(day: date) -> dict[str, list[str]]:
    """Per source table, the columns the 29 moments read (through the unified view)."""
    from keycare.engine.definitions import load_definitions
    from keycare.engine.detect import plan_detection
    from keycare.engine.view import (
        TIME_COLUMNS,
        _referenced_columns,
        agg_spec_from_field,
        catalog_fields,
        required_fields,
    )

    defs = load_definitions()
    plan = plan_detection(defs, day, all_moment_codes())
    fields = required_fields(catalog_fields(), {"subscriber_id", "city_id", *plan.fields})
    columns: dict[str, set[str]] = {"subscribers": {"subscriber_id"}}
    for f in fields:
        if f.kind == "raw":
            columns.setdefault(f.source, set()).add(f.column or f.code)
    aggs = [agg_spec_from_field(f) for f in fields if "agg" in f.derivation]
    for spec in [*aggs, *plan.extra_aggs]:
        cols = columns.setdefault(spec.source, set())
        cols |= {spec.key, TIME_COLUMNS[spec.source][0]}
        if spec.column:
            cols.add(spec.column)
        if spec.where:
            cols |= set(_referenced_columns(spec.where))
    return {table: sorted(cols) for table, cols in sorted(columns.items())}


def floor_sql(data: Path, day: date) -> str:
    """Read every column the moments read and fold it into one number per column."""
    import duckdb

    parts = []
    con = duckdb.connect()
    for table, cols in moment_columns(day).items():
        path = "'" + str(data / f"{table}.parquet").replace("'", "''") + "'"
        described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({path})").fetchall()
        types = {row[0]: row[1] for row in described}
        folds = [_fold(c, types[c]) for c in cols]
        parts.append(f"SELECT {', '.join(folds)} FROM read_parquet({path})")
    con.close()
    return ";\n".join(parts)


def _fold(column: str, sql_type: str) -> str:
    c = f'"{column}"'
    if sql_type in ("VARCHAR",):
        return f"sum(length({c}))"
    if sql_type == "BOOLEAN":
        return f"count_if({c})"
    if sql_type.startswith(("DATE", "TIMESTAMP")):
        return f"max({c})"
    return f"sum({c})"


def _table_rows(data: Path, tables) -> int:
    manifest = json.loads((data / "manifest.json").read_text())
    counts = manifest.get("rows") or manifest.get("row_counts") or {}
    if all(t in counts for t in tables):
        return sum(int(counts[t]) for t in tables)
    import duckdb

    con = duckdb.connect()
    total = 0
    for t in tables:
        path = str(data / f"{t}.parquet").replace("'", "''")
        total += con.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()[0]
    return total


def run_child(args) -> int:
    data, day, work = Path(args.data), date.fromisoformat(args.date), Path(args.work)
    if args.child == "train":
        result = child_train(data, day, work)
    elif args.child in ("duckdb", "spark"):
        result = child_keycare(data, day, work, args.child)
    elif args.child == "pandas":
        result = child_pandas(data, day, work)
    else:
        result = child_floor(data, day, work)
    result["peak_rss"] = peak_rss_bytes()
    result["cpu"] = cpu_seconds()
    print("RESULT " + json.dumps(result))
    return 0


# --------------------------------------------------------------------------- parent


def contend(name: str, data: Path, day: date, work: Path, timeout: float | None) -> dict:
    """Run one contender in a fresh child process; its stdout's RESULT line is the answer."""
    load_before = os.getloadavg()
    print(f"-- {name} (load {load_before[0]:.2f}) ...", flush=True)
    cmd = [sys.executable, __file__, "--child", name, "--data", str(data)]
    cmd += ["--date", day.isoformat(), "--work", str(work)]
    started = time.perf_counter()
    # A session of its own, so a timeout also ends the child's children (Spark's JVM).
    child = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        return {"name": name, "error": f"timed out after {timeout:.0f} s", "load": [load_before]}
    proc = subprocess.CompletedProcess(cmd, child.returncode, stdout, stderr)
    wall = time.perf_counter() - started
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        # The last lines that are not DuckDB's progress bar: the exception and its message.
        said = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        tail = [ln for ln in said if "▕" not in ln][-12:]
        return {
            "name": name,
            "error": f"exit {proc.returncode}: " + " | ".join(tail),
            "load": [load_before],
        }
    result = json.loads(lines[-1][len("RESULT ") :])
    result.update(name=name, process_wall=wall, load=[load_before, os.getloadavg()])
    return result


def compare(keycare: dict, pandas: dict) -> dict:
    """KeyCare's detections and suppressions against pandas', as (subscriber, moment) sets."""
    import duckdb

    con = duckdb.connect()
    check = {}
    for table in ("detections", "suppressions"):
        k = str(Path(keycare["output"]) / f"{table}.parquet")
        p = str(Path(pandas["output"]) / f"{table}.parquet")
        pairs = "SELECT subscriber_id, moment_code FROM read_parquet('{}')"
        only_k = con.execute(
            f"SELECT count(*) FROM ({pairs.format(k)} EXCEPT ALL {pairs.format(p)})"
        ).fetchone()[0]
        only_p = con.execute(
            f"SELECT count(*) FROM ({pairs.format(p)} EXCEPT ALL {pairs.format(k)})"
        ).fetchone()[0]
        total = con.execute(f"SELECT count(*) FROM ({pairs.format(k)})").fetchone()[0]
        check[table] = {"keycare": total, "only_keycare": only_k, "only_pandas": only_p}
    check["equal"] = all(
        v["only_keycare"] == 0 and v["only_pandas"] == 0 for k, v in check.items() if k != "equal"
    )
    return check


def gib(n: int | None) -> str:
    return f"{n / GIB:.2f} GiB" if n else "-"


def peak(result: dict) -> int:
    rss = result.get("peak_rss") or {}
    return max(rss.get("self", 0), rss.get("children", 0))


def report(size: int, results: list[dict], check: dict | None) -> dict:
    base = next((r for r in results if r["name"] == "duckdb" and "error" not in r), None)
    print(f"\n== {size:,} subscribers")
    print(
        f"{'contender':<10} {'seconds':>9} {'CPU s':>8} {'rows':>13} {'rows/s':>12} "
        f"{'peak RSS':>10}  vs (a)"
    )
    for r in results:
        if "error" in r:
            print(f"{r['name']:<10} {'-':>9}  {r['error']}")
            continue
        ratio = r["seconds"] / base["seconds"] if base else None
        r["ratio_to_duckdb"] = ratio
        shown = f"{ratio:.2f}x" if ratio else "-"
        extra = f" (JVM {gib(r['peak_rss']['children'])})" if r["name"] == "spark" else ""
        print(
            f"{r['name']:<10} {r['seconds']:>9.2f} {r['cpu']:>8.1f} {r['rows']:>13,} "
            f"{r['rows'] / r['seconds']:>12,.0f} {gib(peak(r)):>10}  "
            f"{shown}{extra}" + (f"  load {r['load'][0][0]:.2f}->{r['load'][1][0]:.2f}")
        )
    summary: dict = {"subscribers": size}
    for r in results:
        if r["name"] in ("duckdb", "spark") and "error" not in r:
            print(f"\n   KeyCare on {r['name']}: steps")
            for s in r["steps"]:
                rate = f"{s['rows'] / s['seconds']:>12,.0f}" if s["rows"] and s["seconds"] else ""
                print(
                    f"   {s['name']:<9} {s['seconds']:>8.2f} s {s['cpu'] or 0:>7.1f} CPU s "
                    f"{s['rows'] or 0:>12,} rows "
                    f"{rate:>12} rows/s  peak RSS so far {gib(s['peak_rss_so_far'])}"
                )
            print(
                f"   detections {r['detections']:,}, suppressed {r['suppressed']:,}, "
                f"quarantined {r['quarantined']:,}, risk scored {r.get('risk_scored') or 0:,}, "
                f"decisions {json.dumps(r.get('decisions'))}"
            )
    train = next((r for r in results if r["name"] == "train" and "error" not in r), None)
    if train:
        print(
            f"\n   training (monthly job, not in the run): {train['seconds']:.1f} s, "
            f"{train['cpu']:.1f} CPU s, peak RSS {gib(peak(train))}, sample "
            f"{train['sample_rows']:,} of {train['rows']:,} rows (<= 10 min, <= 6 GiB at 10M)"
        )
    floor = next((r for r in results if r["name"] == "floor" and "error" not in r), None)
    pandas = next((r for r in results if r["name"] == "pandas" and "error" not in r), None)
    if check:
        verdict = "IDENTICAL" if check["equal"] else "DIFFERENT"
        print(f"\n   pandas vs KeyCare detections/suppressions: {verdict} {json.dumps(check)}")
    print("\n   targets (issue 7)")
    if base:
        moments = sum(s["seconds"] for s in base["steps"] if s["name"] in ("view", "detect"))
        summary["moments_seconds"] = moments
        print(
            f"   whole run {base['seconds']:.1f} s (<= 60 s at 10M), "
            f"peak RSS {gib(peak(base))} (<= 8 GiB)"
        )
        if pandas:
            summary["pandas_speedup"] = pandas["seconds"] / base["seconds"]
            print(f"   DuckDB vs pandas: {summary['pandas_speedup']:.1f}x faster (>= 10x)")
            # Like for like: the pandas script computes the moments only; KeyCare's whole run
            # also validates and quarantines every row, checks keys, writes and publishes.
            summary["pandas_speedup_moments"] = pandas["seconds"] / moments
            print(
                f"   DuckDB moments step vs pandas (the same work): "
                f"{summary['pandas_speedup_moments']:.1f}x faster"
            )
        if floor:
            summary["moments_over_floor"] = moments / floor["seconds"]
            print(
                f"   moments step (view + detect) {moments:.2f} s = "
                f"{summary['moments_over_floor']:.1f}x the floor {floor['seconds']:.2f} s (<= 5x)"
            )
    summary["results"] = results
    summary["check"] = check
    return summary


def machine() -> dict:
    import duckdb
    import pandas

    with open("/proc/meminfo") as fh:
        mem_kb = int(fh.readline().split()[1])
    model = ""
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pandas": pandas.__version__,
        "numpy_disabled_features": os.environ.get(NUMPY_SETTING, ""),
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--spark", action="store_true", help="also run KeyCare on Spark local")
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas baseline")
    parser.add_argument(
        "--only", help="comma-separated contenders (train,duckdb,spark,pandas,floor)"
    )
    parser.add_argument(
        "--models",
        type=Path,
        help="a trained models folder to score with (copied; skip 'train' in --only to reuse it)",
    )
    parser.add_argument("--timeout", type=float, help="seconds per contender before giving up")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--date", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        return run_child(args)
    # Before numpy loads: every contender's process inherits the numpy setting KeyCare runs
    # with (keycare/cpu.py); `NPY_DISABLE_CPU_FEATURES= ` keeps numpy's AVX-512, for an A/B.
    prefer_avx2_sort()
    info = machine()
    print(f"machine: {json.dumps(info)}")
    data, day = ensure_delivery(args.data_root, args.subscribers, args.months, args.seed)
    work = args.data_root / f"work-{args.subscribers}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    if args.models:
        shutil.copytree(args.models, work / "models")
    names = ["train", "duckdb", *(["spark"] if args.spark else [])]
    names += [*([] if args.no_pandas else ["pandas"]), "floor"]
    if args.only:
        names = [n for n in args.only.split(",") if n]
    results = [contend(n, data, day, work, args.timeout) for n in names]
    by_name = {r["name"]: r for r in results if "error" not in r}
    check = None
    if "duckdb" in by_name and "pandas" in by_name:
        check = compare(by_name["duckdb"], by_name["pandas"])
    summary = report(args.subscribers, results, check)
    summary.update(machine=info, business_date=day.isoformat(), data=str(data))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2, default=str))
    shutil.rmtree(work, ignore_errors=True)
    if check is not None and not check["equal"]:
        print("FAILED: the pandas baseline and KeyCare disagree", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
