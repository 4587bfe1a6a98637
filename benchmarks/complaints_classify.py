"""Benchmark: classify complaint texts (cause and need) — issue 21's target is 1M texts in
60 s on this machine.

    PYTHONPATH=src .venv/bin/python benchmarks/complaints_classify.py [--texts 1000000] [--workers 2]

Trains a model on 24,000 synthetic texts (not timed), generates ``--texts`` synthetic texts
with another seed (not timed), then times ``TextModel.predict`` (jieba segmentation,
hashing, TF-IDF, both classifiers) over all of them. Prints JSON: texts, wall and CPU
seconds (this process and its workers), texts/s, the 1M-text figures, load average and peak
RSS. ``--no-clause-cache`` measures the worst case where no clause ever repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

from keycare.complaints import taxonomy, textmodel
from keycare.synth.complaints import sample


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--train", type=int, default=24_000)
    parser.add_argument(
        "--no-clause-cache",
        action="store_true",
        help="segment every clause afresh (the worst case: no clause ever repeats)",
    )
    args = parser.parse_args(argv)
    if args.no_clause_cache:
        textmodel._clause_words = textmodel._clause_words.__wrapped__
    data = sample(args.train, seed=1)
    model = textmodel.train(data["text"], data["cause"], data["need"], taxonomy.load().version)
    print(f"trained on {args.train} texts", file=sys.stderr)
    texts = sample(args.texts, seed=77)["text"]
    print(f"generated {len(texts)} texts ({len(set(texts))} distinct)", file=sys.stderr)
    load_before = os.getloadavg()[0]
    cpu_before = _cpu()
    started = time.perf_counter()
    rows = model.predict(texts, workers=args.workers, progress=_progress)
    elapsed = time.perf_counter() - started
    cpu = _cpu() - cpu_before
    assert len(rows) == len(texts)
    report = {
        "texts": len(texts),
        "distinct_texts": len(set(texts)),
        "workers": args.workers,
        "clause_cache": not args.no_clause_cache,
        "cpu_seconds": round(cpu, 1),
        "cpu_seconds_per_million": round(1_000_000 * cpu / len(texts), 1),
        "seconds": round(elapsed, 1),
        "texts_per_second": round(len(texts) / elapsed),
        "estimated_seconds_per_million": round(1_000_000 * elapsed / len(texts), 1),
        "load_average_before_after": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(report))
    return 0


def _cpu() -> float:
    """CPU seconds of this process and its (finished) worker processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _progress(done: int, total: int) -> None:
    if done % 200_000 < 20_000 or done == total:
        print(f"  {done}/{total}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
