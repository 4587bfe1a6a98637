"""The SQL constructs the pipeline uses give the same answers on every backend.

Each test body runs once per engine (fixture ``engine``, see conftest.py) and checks the
result against values worked out by hand, so "identical" also means "right". The canonical
spelling of each construct (DuckDB dialect) is the one pipeline code should use; docs/spark.md
lists the spellings that do NOT agree across engines.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest


def rows(engine, sql: str) -> list[tuple]:
    """Result rows as plain tuples (Decimal integers from DuckDB sums become int)."""
    table = engine.to_arrow(sql)
    return [tuple(_plain(v) for v in row.values()) for row in table.to_pylist()]


def _plain(value):
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value


def test_case_coalesce_nullif(engine):
    sql = """
        SELECT sid,
               CASE WHEN fee > 50 THEN 'high' WHEN fee IS NULL THEN 'none' ELSE 'low' END,
               coalesce(n, 0), nullif(n, 2), coalesce(city, '未知')
        FROM t ORDER BY sid
    """
    assert rows(engine, sql) == [
        ("S1", "high", 1, 1, "A"),
        ("S2", "low", 2, None, "A"),
        ("S3", "none", 0, None, "B"),
        ("S4", "low", 40, 40, "未知"),
        ("S5", "high", -7, -7, "B"),
    ]


def test_conditional_aggregation_group_by(engine):
    sql = """
        SELECT city,
               count(*) AS n_rows,
               count(*) FILTER (WHERE fee > 1) AS n_fee,
               CAST(sum(CASE WHEN ok THEN 1 ELSE 0 END) AS BIGINT) AS n_ok,
               CAST(sum(n) AS BIGINT) AS sum_n,
               avg(fee) AS avg_fee,
               max(d) AS last_d
        FROM t GROUP BY city ORDER BY city NULLS LAST
    """
    assert rows(engine, sql) == [
        ("A", 2, 1, 1, 3, 43.125, dt.date(2024, 2, 29)),
        ("B", 2, 1, 1, -7, 120.5, dt.date(2024, 3, 4)),
        (None, 1, 1, 1, 40, 2.675, dt.date(2023, 12, 31)),
    ]


def test_date_diff_counts_boundaries(engine):
    sql = """
        SELECT sid,
               date_diff('day', d, DATE '2024-03-01'),
               date_diff('month', d, DATE '2024-03-01'),
               date_diff('year', d, DATE '2025-01-01'),
               date_diff('day', ts, TIMESTAMP '2024-01-02 01:00:00'),
               date_diff('hour', ts, TIMESTAMP '2024-01-02 01:00:00')
        FROM t WHERE sid IN ('S1', 'S2', 'S3') ORDER BY sid
    """
    assert rows(engine, sql) == [
        ("S1", 30, 2, 1, 1, 2),
        ("S2", 1, 1, 1, 0, 1),
        ("S3", None, None, None, None, None),
    ]


def test_date_arithmetic_and_month_strings(engine):
    sql = """
        SELECT sid,
               d + 3,
               CAST(d + INTERVAL 3 DAY AS DATE),
               CAST(d - INTERVAL 1 MONTH AS DATE),
               strftime(d, '%Y-%m'),
               strftime(CAST(m || '-01' AS DATE) - INTERVAL 6 MONTH, '%Y-%m'),
               strftime(CAST(m || '-01' AS DATE) + INTERVAL 1 MONTH, '%Y-%m')
        FROM t WHERE sid IN ('S1', 'S2', 'S4') ORDER BY sid
    """
    assert rows(engine, sql) == [
        (
            "S1",
            dt.date(2024, 2, 3),
            dt.date(2024, 2, 3),
            dt.date(2023, 12, 31),
            "2024-01",
            "2023-07",
            "2024-02",
        ),
        (
            "S2",
            dt.date(2024, 3, 3),
            dt.date(2024, 3, 3),
            dt.date(2024, 1, 29),
            "2024-02",
            "2023-08",
            "2024-03",
        ),
        (
            "S4",
            dt.date(2024, 1, 3),
            dt.date(2024, 1, 3),
            dt.date(2023, 11, 30),
            "2023-12",
            "2023-06",
            "2024-01",
        ),
    ]


def test_week_start_weekday_and_timestamp_to_date(engine):
    sql = """
        SELECT sid,
               CAST(date_trunc('week', d) AS DATE),
               isodow(d),
               dayofweek(d),
               CAST(ts AS DATE),
               strftime(ts, '%Y-%m-%d %H:%M:%S'),
               date_trunc('month', ts)
        FROM t WHERE sid IN ('S4', 'S5') ORDER BY sid
    """
    assert rows(engine, sql) == [
        (
            "S4",
            dt.date(2023, 12, 25),
            7,
            0,
            dt.date(2024, 3, 10),
            "2024-03-10 08:00:00",
            dt.datetime(2024, 3, 1),
        ),
        (
            "S5",
            dt.date(2024, 3, 4),
            1,
            1,
            dt.date(2024, 3, 3),
            "2024-03-03 23:59:59",
            dt.datetime(2024, 3, 1),
        ),
    ]


def test_left_join_with_defaults(engine):
    sql = """
        SELECT t.sid, coalesce(b.bonus, 0) AS bonus, coalesce(b.tag, '-') AS tag
        FROM t LEFT JOIN (SELECT 'S2' AS sid, 5 AS bonus, 'x' AS tag) AS b ON t.sid = b.sid
        WHERE t.sid IN ('S1', 'S2') ORDER BY t.sid
    """
    assert rows(engine, sql) == [("S1", 0, "-"), ("S2", 5, "x")]


def test_row_number_and_qualify(engine):
    ranked = """
        SELECT sid, row_number() OVER (PARTITION BY city ORDER BY fee DESC NULLS LAST, sid) AS rn
        FROM t ORDER BY sid
    """
    assert rows(engine, ranked) == [("S1", 1), ("S2", 2), ("S3", 2), ("S4", 1), ("S5", 1)]
    top = "SELECT city, sid FROM t QUALIFY row_number() OVER (PARTITION BY city ORDER BY sid DESC) = 1 ORDER BY city"
    assert rows(engine, top) == [("A", "S2"), ("B", "S5"), (None, "S4")]


def test_string_concat_and_ordered_aggregation(engine):
    sql = """
        SELECT city,
               string_agg(sid, ',' ORDER BY sid DESC) AS sids,
               string_agg(sid || ':' || coalesce(CAST(n AS VARCHAR), '?'), ';' ORDER BY sid) AS pairs,
               concat_ws('|', min(sid), max(sid)) AS span
        FROM t GROUP BY city ORDER BY city NULLS LAST
    """
    assert rows(engine, sql) == [
        ("A", "S2,S1", "S1:1;S2:2", "S1|S2"),
        ("B", "S5,S3", "S3:?;S5:-7", "S3|S5"),
        (None, "S4", "S4:40", "S4|S4"),
    ]


def test_json_object_keeps_nulls_and_chinese(engine):
    sql = """
        SELECT json_object('fee', fee, 'n', n, 'ok', ok, 'd', d, 'label', '本月消费') AS params,
               to_json({'sid': sid, 'threshold': 0.3}) AS other
        FROM t WHERE sid IN ('S1', 'S3') ORDER BY sid
    """
    assert rows(engine, sql) == [
        (
            '{"fee":86.0,"n":1,"ok":true,"d":"2024-01-31","label":"本月消费"}',
            '{"sid":"S1","threshold":0.3}',
        ),
        (
            '{"fee":null,"n":null,"ok":null,"d":null,"label":"本月消费"}',
            '{"sid":"S3","threshold":0.3}',
        ),
    ]


def test_portable_hash_for_control_groups(engine, sample):
    """hash() differs between engines; md5 -> first 8 hex digits -> BIGINT does not."""
    sql = """
        SELECT sid, CAST('0x' || substr(md5(sid || ':2024'), 1, 8) AS BIGINT) % 100 AS bucket
        FROM t ORDER BY sid
    """
    expected = [
        (s, int(hashlib.md5(f"{s}:2024".encode()).hexdigest()[:8], 16) % 100)
        for s in sample["sid"].to_pylist()
    ]
    assert rows(engine, sql) == expected


def test_one_based_indexes_and_slices(engine, sample):
    """DuckDB brackets count from 1, Spark's from 0: computed indexes, string slices and the
    bitmask-to-list expression the allocation uses give DuckDB's answers on both."""
    sql = """
        SELECT sid, md5(sid)[1:13] AS head, ['x', 'y', 'z'][n % 3 + 1] AS pick,
               ['x', 'y'][n] AS maybe,
               array_to_string(list_transform(
                   list_filter(range(3), lambda i: (CAST(n AS BIGINT) >> i) & 1 = 1),
                   lambda i: ['a', 'b', 'c'][i + 1]), ',') AS bits
        FROM t WHERE n >= 0 ORDER BY sid
    """
    expected = []
    for sid, n in zip(sample["sid"].to_pylist(), sample["n"].to_pylist(), strict=True):
        if n is None or n < 0:
            continue
        head = hashlib.md5(sid.encode()).hexdigest()[:13]
        maybe = ["x", "y"][n - 1] if 1 <= n <= 2 else None
        bits = ",".join(c for i, c in enumerate("abc") if n >> i & 1)
        expected.append((sid, head, "xyz"[n % 3], maybe, bits))
    assert rows(engine, sql) == expected


def test_integer_division_modulo_and_rounding(engine):
    sql = """
        SELECT n // 3, n % 3, n / 4, round(fee, 1), round(fee, 2), CAST(round(fee) AS BIGINT)
        FROM t WHERE sid IN ('S2', 'S4', 'S5') ORDER BY sid
    """
    assert rows(engine, sql) == [
        (0, 2, 0.5, 0.3, 0.25, 0),
        (13, 1, 10.0, 2.7, 2.68, 3),
        (-2, -1, -1.75, 120.5, 120.5, 121),
    ]


def test_number_formatting_for_explanations(engine):
    """The portable way to round or print a DOUBLE: through DECIMAL(38, 6) first.

    A direct CAST(v AS DECIMAL(18, 2)) or round(v, 2) disagrees on about 1% of money-like
    values (160.355: DuckDB 160.35, Spark 160.36), printf on ties and NULLs, CAST(v AS
    VARCHAR) from 1e7 up (DuckDB 10000000.0, Spark 1.0E7)."""
    values = [0.25, 0.35, 2.675, 1.005, -0.25, -2.5, 160.355, 285.085, 0.045, 99.95, 1e7, 0.1 + 0.2]
    engine.register_arrow("nums", pa.table({"i": list(range(len(values))), "v": values}))
    sql = """
        SELECT CAST(CAST(CAST(v AS DECIMAL(38, 6)) AS DECIMAL(18, 1)) AS VARCHAR),
               CAST(CAST(CAST(v AS DECIMAL(38, 6)) AS DECIMAL(18, 2)) AS VARCHAR),
               CAST(round(CAST(v AS DECIMAL(38, 6))) AS BIGINT) || ' 元',
               CAST(round(CAST(v AS DECIMAL(38, 6)), 2) AS DOUBLE)
        FROM nums ORDER BY i
    """
    assert rows(engine, sql) == [
        ("0.3", "0.25", "0 元", 0.25),
        ("0.4", "0.35", "0 元", 0.35),
        ("2.7", "2.68", "3 元", 2.68),
        ("1.0", "1.01", "1 元", 1.01),
        ("-0.3", "-0.25", "0 元", -0.25),
        ("-2.5", "-2.50", "-3 元", -2.5),
        ("160.4", "160.36", "160 元", 160.36),
        ("285.1", "285.09", "285 元", 285.09),
        ("0.0", "0.05", "0 元", 0.05),
        ("100.0", "99.95", "100 元", 99.95),
        ("10000000.0", "10000000.00", "10000000 元", 1e7),
        ("0.3", "0.30", "0 元", 0.3),
    ]


def test_printf_with_null_is_null(engine):
    sql = "SELECT printf('%s 的月费', sid), printf('%d 天', n) FROM t WHERE sid IN ('S1', 'S3') ORDER BY sid"
    assert rows(engine, sql) == [("S1 的月费", "1 天"), ("S3 的月费", None)]


def test_unnest_structs_and_unpivot(engine):
    structs = """
        SELECT sid, x.k, x.v
        FROM t, unnest([{'k': 'fee', 'v': fee}, {'k': 'n', 'v': CAST(n AS DOUBLE)}]) AS u(x)
        WHERE sid IN ('S1', 'S3') ORDER BY sid, x.k
    """
    assert rows(engine, structs) == [
        ("S1", "fee", 86.0),
        ("S1", "n", 1.0),
        ("S3", "fee", None),
        ("S3", "n", None),
    ]
    unpivot = """
        SELECT sid, k, v FROM (SELECT sid, fee, CAST(n AS DOUBLE) AS nd FROM t WHERE sid IN ('S1', 'S3'))
        UNPIVOT (v FOR k IN (fee, nd)) ORDER BY sid, k
    """
    assert rows(engine, unpivot) == [("S1", "fee", 86.0), ("S1", "nd", 1.0)]


def test_register_arrow_round_trip_keeps_contract_types(engine, sample):
    back = engine.to_arrow("SELECT * FROM t ORDER BY sid")
    assert back.schema.types == [
        pa.string(),
        pa.string(),
        pa.float64(),
        pa.int64(),
        pa.bool_(),
        pa.date32(),
        pa.timestamp("us"),
        pa.string(),
    ]
    assert back.to_pylist() == sample.to_pylist()


def test_result_schema_is_nullable_like_duckdb(engine):
    """Spark flags literals and count(*) as NOT NULL; results must not differ by that flag
    (published Parquet bytes and content hashes are computed from them)."""
    table = engine.to_arrow("SELECT 'A04' AS code, count(*) AS n FROM t")
    assert table.schema == pa.schema([("code", pa.string()), ("n", pa.int64())])


def test_register_arrow_empty_table(engine, sample):
    engine.register_arrow("empty", sample.slice(0, 0))
    assert engine.scalar("SELECT count(*) FROM empty") == 0
    assert engine.to_arrow("SELECT * FROM empty").schema.types == sample.schema.types


def test_register_arrow_keeps_rows_of_many_chunks(engine, sample):
    pieces = (
        [sample.slice(0, 0)] * 7
        + [sample.slice(0, 2)]
        + [sample.slice(0, 0)] * 20
        + [sample.slice(2)]
    )
    engine.register_arrow("chunked", pa.concat_tables(pieces))
    assert engine.scalar("SELECT count(*) FROM chunked") == 5


def test_views_are_late_bound_and_materialize_computes(engine):
    engine.register_arrow("src", pa.table({"x": [1, 2, 3]}))
    engine.create_view("big", "SELECT x FROM src WHERE x > 1")
    engine.materialize("frozen", "SELECT count(*) AS c FROM big")
    engine.register_arrow("src", pa.table({"x": [5, 6, 7, 8]}))
    # A view reads its inputs when used (as in DuckDB); a materialized result does not.
    assert engine.scalar("SELECT count(*) FROM big") == 4
    assert engine.scalar("SELECT c FROM frozen") == 2


def test_write_parquet_one_file_with_row_count(engine, tmp_path):
    target = tmp_path / "out" / "detections.parquet"
    count = engine.write_parquet("SELECT sid, d, ts, fee FROM t WHERE fee IS NOT NULL", target)
    assert count == 4
    assert sorted(p.name for p in target.parent.iterdir()) == ["detections.parquet"]
    written = pq.read_table(target).sort_by("sid")
    assert written.column("sid").to_pylist() == ["S1", "S2", "S4", "S5"]
    assert written.schema.field("d").type == pa.date32()
    assert written.schema.field("ts").type == pa.timestamp("us")
    # The written file reads back on the same engine.
    engine.register_file("written", target)
    assert engine.scalar("SELECT count(*) FROM written WHERE ts IS NOT NULL") == 4


def test_write_parquet_empty_result(engine, tmp_path):
    target = tmp_path / "none.parquet"
    assert engine.write_parquet("SELECT sid, fee FROM t WHERE false", target) == 0
    assert pq.read_table(target).column_names == ["sid", "fee"]


def test_register_file_reads_a_directory_of_parquet(engine, sample, tmp_path):
    folder = tmp_path / "bills"
    folder.mkdir()
    pq.write_table(sample.slice(0, 2), folder / "part-0.parquet")
    pq.write_table(sample.slice(2), folder / "part-1.parquet")
    engine.register_file("bills", folder)
    assert engine.scalar("SELECT count(*) FROM bills") == 5
    assert engine.scalar("SELECT max(ts) FROM bills") == dt.datetime(2024, 3, 10, 8, 0)


@pytest.mark.parametrize("sql", ["SELECT CAST('abc' AS INTEGER)", "SELECT * FROM no_such_relation"])
def test_bad_sql_raises(engine, sql):
    with pytest.raises(Exception):  # noqa: B017 - each engine raises its own error type
        engine.to_arrow(sql)
