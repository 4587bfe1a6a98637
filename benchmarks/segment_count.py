"""Segment counts (目标客户群锁定) over a published unified view of 1M customers.

    python benchmarks/segment_count.py --customers 1000000 --subscribers 100000 [--repeat 20]

Builds the real unified view (every catalog field) of a synthetic delivery of
``--subscribers`` subscribers with the engine, repeats its rows under new subscriber ids up to
``--customers`` rows (the value distributions stay those of the generator), publishes it as
the run does (``unified_view.parquet``), then times what the segment page's live count does:
parse the conditions against the catalog, compile them to SQL and count with DuckDB over the
Parquet, in a city administrator's scope. Prints p50 / p95 per filter.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

DAY = date(2026, 11, 22)
FILTERS = {
    "one raw field (brand)": [{"field": "brand", "op": "eq", "value": "gotone"}],
    "derived float (bill_avg_3m > 150)": [{"field": "bill_avg_3m", "op": "gt", "value": "150"}],
    "three derived + raw": [
        {"field": "voice_change_pct_m1", "op": "lt", "value": "-30"},
        {"field": "data_mb_8w", "op": "gte", "value": "1000"},
        {"field": "plan_5g", "op": "true"},
    ],
    "six fields, mixed types": [
        {"field": "brand", "op": "in", "value": "gotone,mzone"},
        {"field": "tenure_months", "op": "gte", "value": "24"},
        {"field": "bill_avg_3m", "op": "gt", "value": "80"},
        {"field": "join_date", "op": "lt", "value": "2020-01-01"},
        {"field": "is_group_member", "op": "false"},
        {"field": "handset_brand", "op": "contains", "value": "华为"},
    ],
}


def build_view(subscribers: int, customers: int, base: Path) -> Path:
    from keycare.engine.backends import connect
    from keycare.engine.ingest import ingest
    from keycare.engine.pipeline import VIEW_DIGITS, round_doubles
    from keycare.engine.publish import write_table
    from keycare.engine.view import build_view as engine_view
    from keycare.synth.generator import generate

    path = base / f"unified_view-{customers}.parquet"
    if path.exists():
        return path
    delivery = base / f"synth-{subscribers}"
    if not (delivery / "manifest.json").exists():
        generate(delivery, subscribers=subscribers, months=6, seed=1)
    with connect("duckdb") as backend:
        ingest(backend, delivery, staging_dir=base / "work", business_date=DAY)
        engine_view(backend, DAY, name="v")
        one = backend.to_arrow("SELECT * FROM v ORDER BY subscriber_id")
    copies = []
    for n in range(-(-customers // one.num_rows)):
        ids = pc.binary_join_element_wise(one["subscriber_id"], pa.scalar(f"-{n}"), "")
        copies.append(one.set_column(0, "subscriber_id", ids))
    table = round_doubles(pa.concat_tables(copies).slice(0, customers), VIEW_DIGITS)
    write_table(table, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="kc-segments-"))
    base.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    path = build_view(args.subscribers, args.customers, base)
    print(
        f"view: {path} ({path.stat().st_size / 1e6:.0f} MB), {time.perf_counter() - started:.0f}s"
    )

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keycare.config.settings")
    import django

    django.setup()
    from keycare.campaigns.segments import parse_conditions, view_where
    from keycare.runs import unified_view

    view = unified_view.PublishedView(path, DAY, "bench")
    for name, rows in FILTERS.items():
        times, n = [], None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            where, params = view_where(parse_conditions(rows))
            n = unified_view.count(view, f"(city_id = ?) AND ({where})", ["3201", *params])
            times.append(time.perf_counter() - t0)
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
        print(
            f"{name:36s} n={n:>8,d}  p50 {statistics.median(times) * 1000:6.0f} ms"
            f"  p95 {p95 * 1000:6.0f} ms"
        )


if __name__ == "__main__":
    main()
