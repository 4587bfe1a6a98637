"""The indicator layer: definitions are checked, and one body computes the same hand-worked
figures on every backend (fixture ``backend``: DuckDB, and Spark where it runs)."""

from __future__ import annotations

import textwrap
from datetime import date

import pyarrow as pa
import pytest
from builders import write_delivery

from keycare.engine.indicators import (
    Published,
    RunOutputs,
    compute_indicators,
    delivered_months,
    load_indicators,
    months_to_publish,
)
from keycare.engine.ingest import ingest
from keycare.errors import UserError
from keycare.synth.generator import generate

DAY = date(2026, 11, 22)


def test_the_shipped_definitions_load_and_every_analysis_resolves():
    defs = load_indicators()
    assert {"customers", "revenue", "arpu", "arrears_amount", "detections"} <= set(defs.indicators)
    assert {"development", "revenue", "arrears", "anomalies", "staff"} <= set(defs.analyses)
    assert defs.indicators["revenue"].grain == "month"
    assert defs.indicators["customers"].grain == "day"
    for analysis in defs.analyses.values():
        assert all(code in defs.indicators for code in analysis.indicators)


@pytest.mark.parametrize(
    ("num", "message"),
    [
        ("avg(plan_fee)", "additive"),
        ("sum(no_such_field)", "unknown field no_such_field"),
        ("sum(plan_fee) + plan_fee", "outside an aggregate"),
        ("sum(plan_fee", "not valid SQL"),
    ],
)
def test_a_bad_formula_is_refused_with_its_reason(tmp_path, num, message):
    path = tmp_path / "indicators.yaml"
    path.write_text(
        textwrap.dedent(f"""
        dimensions:
          city: {{zh: 地市, en: City, column: city_id}}
        indicators:
          - {{code: x, zh: X, en: X, group: customer, unit: 元, num: "{num}"}}
        """),
        encoding="utf-8",
    )
    with pytest.raises(UserError, match=message):
        load_indicators(path)


def _delivery(tmp_path):
    subscriber = {"status": "active", "join_date": date(2020, 1, 1), "brand": "gotone"}
    return write_delivery(
        tmp_path / "in",
        {
            "subscribers": [
                {
                    **subscriber,
                    "subscriber_id": "S1",
                    "city_id": "C1",
                    "balance": -50.0,
                    "value_tier": "mid_high",
                },
                {
                    **subscriber,
                    "subscriber_id": "S2",
                    "city_id": "C1",
                    "balance": 20.0,
                    "value_tier": "mass",
                },
                {
                    **subscriber,
                    "subscriber_id": "S3",
                    "city_id": "C2",
                    "balance": 5.0,
                    "value_tier": "mid_high",
                },
            ],
            "bills": [
                {"subscriber_id": "S1", "bill_month": "2026-10", "total_fee": 100.0},
                {"subscriber_id": "S2", "bill_month": "2026-10", "total_fee": 50.0},
                {"subscriber_id": "S3", "bill_month": "2026-09", "total_fee": 80.0},
            ],
        },
        business_date=DAY,
    )


def _figures(table: pa.Table) -> dict:
    return {
        (r["indicator"], r["period"], r["dimension"], r["member"], r["city_id"]): (
            r["num"],
            r["den"],
        )
        for r in table.to_pylist()
    }


def test_indicators_on_every_backend(backend, tmp_path):
    ingest(backend, _delivery(tmp_path), staging_dir=tmp_path / "work", business_date=DAY)
    backend.register_arrow(
        "detections",
        pa.table({"subscriber_id": ["S1", "S1"], "moment_code": ["A05", "A04"]}),
    )
    table = compute_indicators(backend, DAY, RunOutputs(detections=True))
    got = _figures(table)
    day = DAY.isoformat()
    assert got[("customers", day, "city", "C1", "C1")] == (2.0, None)
    assert got[("customers", day, "city", "C2", "C2")] == (1.0, None)
    assert got[("customers", day, "province", "all", "C1")] == (2.0, None)
    assert got[("mid_high_customers", day, "tier", "mid_high", "C1")] == (1.0, None)
    assert got[("arrears_amount", day, "city", "C1", "C1")] == (50.0, None)
    assert got[("arrears_rate", day, "city", "C1", "C1")] == (1.0, 2.0)
    assert got[("revenue", "2026-10", "city", "C1", "C1")] == (150.0, None)
    assert got[("arpu", "2026-10", "city", "C1", "C1")] == (150.0, 2.0)
    assert got[("revenue", "2026-09", "city", "C2", "C2")] == (80.0, None)
    # An alert counts once in its moment's row; a customer with two alerts counts once.
    assert got[("detections", day, "moment", "A05", "C1")] == (1.0, None)
    assert got[("detections", day, "city", "C1", "C1")] == (2.0, None)
    assert got[("alerted_customers", day, "city", "C1", "C1")] == (1.0, None)
    # No zero rows, no bill month rows per moment or grid.
    assert ("arrears_amount", day, "city", "C2", "C2") not in got
    assert not [k for k in got if k[1] == "2026-10" and k[2] in ("moment", "grid")]
    # Sorted, so a re-run writes the same bytes.
    keys = [tuple(r.values())[:6] for r in table.to_pylist()]
    assert keys == sorted(keys)


def _per_dimension(backend, business_date, outputs, defs) -> pa.Table:
    """The published rows as the step computed them before issue 19's speed-up: one GROUP BY
    per dimension and source (``_grouped``), over the relations the step registered."""
    from keycare.engine.indicators import (
        BASE,
        BILLS,
        MOMENT_BASE,
        SCHEMA,
        _grouped,
        round_sums,
    )

    parts = []
    for dim in defs.dimensions.values():
        relation = MOMENT_BASE if dim.code == "moment" else BASE
        if dim.code != "moment" or outputs.detections:
            parts += _grouped(
                backend, relation, dim, defs.of_source("view"), business_date.isoformat()
            )
        if dim.bills:
            parts += _grouped(backend, BILLS, dim, defs.of_source("bills"), None)
    return round_sums(pa.Table.from_pylist(parts, schema=SCHEMA))


@pytest.mark.parametrize("detections", [True, False])
def test_one_pass_publishes_the_rows_of_one_group_by_per_dimension(backend, tmp_path, detections):
    """Issue 19: GROUPING SETS (one scan per source) publishes exactly the rows and values
    of one GROUP BY per dimension, on a synthetic delivery with every dimension populated."""
    delivery = tmp_path / "synth"
    generate(delivery, subscribers=400, months=3, seed=7, as_of=DAY)
    ingest(backend, delivery, staging_dir=tmp_path / "work", business_date=DAY)
    ids = backend.to_arrow("SELECT subscriber_id FROM subscribers").column(0).to_pylist()
    backend.register_arrow(
        "detections",
        pa.table(
            {
                "subscriber_id": ids[::7] + ids[::11],
                "moment_code": ["A03"] * len(ids[::7]) + ["A05"] * len(ids[::11]),
            }
        ),
    )
    outputs = RunOutputs(detections=detections)
    defs = load_indicators()
    table = compute_indicators(backend, DAY, outputs)
    reference = _per_dimension(backend, DAY, outputs, defs)
    keys = ["indicator", "grain", "period", "dimension", "member", "city_id"]
    expected = reference.sort_by([(c, "ascending") for c in keys])
    assert table.num_rows == expected.num_rows > 1000
    assert table.to_pylist() == expected.to_pylist()
    dims = set(table.column("dimension").to_pylist())
    assert dims == set(defs.dimensions) - (set() if detections else {"moment"})
    assert len(set(table.column("period").to_pylist())) == 4  # the day and 3 bill months


def test_a_run_publishes_the_bill_months_not_published_before():
    """月报固化: a closed month keeps the figures of the run that first published it."""
    delivered = ["2026-09", "2026-10", "2026-11"]
    before = Published("v1", frozenset({"2026-08", "2026-09", "2026-10"}))
    assert months_to_publish(delivered, None, "v1") == delivered  # the first run: every month
    assert months_to_publish(delivered, before, "v1") == ["2026-11"]  # the newest only
    assert months_to_publish(delivered[:2], before, "v1") == []  # no new month yet
    assert months_to_publish(delivered, before, "v2") == delivered  # definitions changed


def test_publishing_some_bill_months_gives_the_rows_of_all_months_for_them(backend, tmp_path):
    """Restricting the bill months changes nothing else: the day's rows and the chosen
    months' rows are those of a run that publishes every month (DuckDB and Spark)."""
    delivery = tmp_path / "synth"
    generate(delivery, subscribers=400, months=3, seed=7, as_of=DAY)
    ingest(backend, delivery, staging_dir=tmp_path / "work", business_date=DAY)
    ids = backend.to_arrow("SELECT subscriber_id FROM subscribers").column(0).to_pylist()
    backend.register_arrow(
        "detections", pa.table({"subscriber_id": ids[::7], "moment_code": ["A03"] * len(ids[::7])})
    )
    outputs = RunOutputs(detections=True)
    months = delivered_months(backend)
    assert len(months) == 3 and months == sorted(months)
    every = compute_indicators(backend, DAY, outputs).to_pylist()
    for chosen in ([months[-1]], [months[0]], months[1:], []):
        table = compute_indicators(backend, DAY, outputs, bill_months=chosen)
        expected = [r for r in every if r["grain"] == "day" or r["period"] in chosen]
        assert table.to_pylist() == expected
        published = {r["period"] for r in table.to_pylist() if r["grain"] == "month"}
        assert published == set(chosen)
    assert compute_indicators(backend, DAY, outputs, bill_months=months).to_pylist() == every
