"""Benchmark: effect evaluation over 90 days of a 1M-subscriber simulation (issue 16: <= 60 s).

    .venv/bin/python benchmarks/effect_eval.py --sim DIR [--subscribers 1000000] [--days 90]
        [--repeat 3] [--threads 2]

The simulation (``keycare simulate``: the whole loop with the real daily run every day) is
generated once into DIR when DIR holds none, with the default policy; it is not timed here
(the loop's own seconds are in its manifest). The timed part is ``engine.effect.evaluate``
over DIR: all five dimensions, horizons 30/60/90, four metrics, contact and acceptance
rates, Qini and uplift@30%. Prints one JSON line per repetition and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

from keycare.effects.simulation import builtin_suggest, print_progress
from keycare.engine.effect import evaluate
from keycare.synth.loop import SimConfig, simulate


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sim", required=True)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    sim = Path(args.sim)
    if not (sim / "manifest.json").is_file():
        cfg = SimConfig(subscribers=args.subscribers, days=args.days, seed=args.seed)
        manifest = simulate(cfg, sim, progress=print_progress(), suggest=builtin_suggest())
        print(json.dumps({"simulated": manifest["totals"], "seconds": manifest["seconds"]}))
    manifest = json.loads((sim / "manifest.json").read_text())
    import duckdb

    exposures = duckdb.sql(f"SELECT count(*) FROM '{sim}/exposures.parquet'").fetchone()[0]
    for i in range(args.repeat):
        started = time.perf_counter()
        report = evaluate(sim, threads=args.threads)
        seconds = time.perf_counter() - started
        print(
            json.dumps(
                {
                    "run": i + 1,
                    "seconds": round(seconds, 2),
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
