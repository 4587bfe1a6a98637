"""Benchmark: effect evaluation over 90 days of a 1M-subscriber simulation (issue 16: <= 60 s).

    .venv/bin/python benchmarks/effect_eval.py --sim DIR [--subscribers 1000000] [--days 90]
        [--repeat 3] [--threads 2] [--direct --exposures 2000000]

Without ``--direct`` the simulation (``keycare simulate``: the whole loop with the real daily
run every day) is generated once into DIR when DIR holds none; it is not timed here (the
loop's own seconds are in its manifest). With ``--direct`` the evaluation's input files are
written straight from numpy at the given volume, in the loop's schema and proportions (half
control, 21 moments, 13 cities, a manager per ~115 subscribers, 20 tactics, 20% churn, 4
complaints per 1,000 subscriber-months): the evaluation's cost depends on those row counts
and cardinalities only. The timed part is ``engine.effect.evaluate`` over DIR: all five
dimensions, horizons 30/60/90, four metrics, contact and acceptance rates, per-city rows,
Qini and uplift@30%. Prints one JSON line per repetition and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

from keycare.effects.simulation import builtin_suggest, print_progress
from keycare.engine.effect import coverage_misses, evaluate
from keycare.synth.loop import SimConfig, simulate


def direct_source(out: Path, subscribers: int, days: int, exposures: int, seed: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    start = np.datetime64("2026-11-22")
    sub = rng.integers(0, subscribers, exposures)
    moment = rng.integers(0, 21, exposures)
    keep = np.unique(sub.astype(np.int64) * 32 + moment, return_index=True)[1]
    sub, moment = sub[keep], moment[keep]  # one exposure per customer and moment
    n = len(sub)
    control = (sub * 2654435761 % 1000) < 500  # per customer, as allocation's md5 draw
    treated = ~control
    contacted = treated & (rng.random(n) < 0.65)
    tactic = np.where(contacted & (rng.random(n) < 0.7), rng.integers(0, 20, n), -1)
    codes = np.array([f"A{i:02d}" for i in range(1, 22)])
    names = lambda prefix, k, w: np.array([f"{prefix}{i:0{w}d}" for i in range(k)])  # noqa: E731
    managers, cities = names("M", max(subscribers // 115, 1), 6), names("32", 13, 2)
    tactics = names("T", 20, 2)
    exposure = pa.table(
        {
            "subscriber_id": pa.array(np.char.add("S", sub.astype(str))),
            "moment_code": pa.array(codes[moment]),
            "exposure_date": pa.array(start + rng.integers(0, days, n).astype("timedelta64[D]")),
            "arm": pa.array(np.where(control, "control", "treated")),
            "decision": pa.array(np.where(control, "control", "call")),
            "manager_id": pa.array(managers[sub % len(managers)]),
            "city_id": pa.array(cities[sub % 13]),
            "campaign": pa.array(np.full(n, "daily_moments")),
            "tactic": pa.array(tactics[np.maximum(tactic, 0)], mask=tactic < 0),
            "contacted": pa.array(contacted),
            "recommended": pa.array(tactic >= 0, mask=~treated),
            "accepted": pa.array(rng.random(n) < 0.35, mask=~contacted),
            "risk": pa.array(rng.random(n)),
        }
    )
    pq.write_table(exposure, out / "exposures.parquet")
    churn = rng.random(subscribers) < 0.2
    down = rng.random(subscribers) < 0.1
    day = lambda mask: pa.array(  # noqa: E731
        start + rng.integers(0, days, subscribers).astype("timedelta64[D]"), mask=~mask
    )
    outcomes = pa.table(
        {
            "subscriber_id": pa.array(np.char.add("S", np.arange(subscribers).astype(str))),
            "plan_fee": pa.array(rng.lognormal(4.5, 0.6, subscribers)),
            "churn_date": day(churn),
            "downgrade_date": day(down),
            "downgrade_factor": pa.array(np.full(subscribers, 0.6)),
        }
    )
    pq.write_table(outcomes, out / "outcomes.parquet")
    k = int(subscribers * days / 30 * 0.004)
    complaints = pa.table(
        {
            "subscriber_id": pa.array(
                np.char.add("S", rng.integers(0, subscribers, k).astype(str))
            ),
            "complaint_date": pa.array(start + rng.integers(0, days, k).astype("timedelta64[D]")),
        }
    )
    pq.write_table(complaints, out / "complaints.parquet")
    last = str(start + np.timedelta64(days - 1, "D"))
    totals = {"subscribers": subscribers, "direct": True}
    manifest = {"kind": "direct", "config": {"days": days}, "totals": totals, "last_date": last}
    (out / "manifest.json").write_text(json.dumps(manifest))


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sim", required=True)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--direct", action="store_true", help="write the input, not the loop")
    parser.add_argument("--exposures", type=int, default=2_000_000)
    args = parser.parse_args()
    sim = Path(args.sim)
    if args.direct and not (sim / "manifest.json").is_file():
        started = time.perf_counter()
        direct_source(sim, args.subscribers, args.days, args.exposures, args.seed)
        print(json.dumps({"written": str(sim), "seconds": round(time.perf_counter() - started, 1)}))
    if not (sim / "manifest.json").is_file():
        cfg = SimConfig(subscribers=args.subscribers, days=args.days, seed=args.seed)
        manifest = simulate(cfg, sim, progress=print_progress(), suggest=builtin_suggest())
        print(json.dumps({"simulated": manifest["totals"], "seconds": manifest["seconds"]}))
    manifest = json.loads((sim / "manifest.json").read_text())
    import duckdb

    exposures = duckdb.sql(f"SELECT count(*) FROM '{sim}/exposures.parquet'").fetchall()[0][0]
    for i in range(args.repeat):
        started, cpu = time.perf_counter(), _cpu()
        report = evaluate(sim, threads=args.threads, by_city=True)
        seconds, cpu = time.perf_counter() - started, _cpu() - cpu
        print(
            json.dumps(
                {
                    "run": i + 1,
                    "seconds": round(seconds, 2),
                    "cpu_seconds": round(cpu, 2),
                    "load_1min": round(os.getloadavg()[0], 1),
                    "subscribers": manifest["totals"]["subscribers"],
                    "days": manifest["config"]["days"],
                    "exposures": exposures,
                    "rows": len(report.rows),
                    "qini_groups": len(report.qini),
                    "peak_rss_gib": round(
                        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2
                    ),
                }
            ),
            flush=True,
        )
    if manifest.get("truth"):
        print(json.dumps({"coverage": coverage(report, manifest["truth"])}), flush=True)
    return 0


def coverage(report, truth: list[dict]) -> list[dict]:
    """Per horizon and metric: the moments with volume enough in both arms, and those whose
    true effect (the loop's manifest) lies outside the reported 95% interval."""
    out = []
    for metric in sorted({t["metric"] for t in truth}):
        for horizon in sorted({t["horizon"] for t in truth}):
            checked, misses = coverage_misses(report, truth, horizon, metric=metric)
            out.append(
                {"metric": metric, "horizon": horizon, "checked": len(checked), "misses": misses}
            )
    return out


if __name__ == "__main__":
    sys.exit(main())
