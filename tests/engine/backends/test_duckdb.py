"""Settings of the embedded DuckDB backend that the figures in docs/performance.md rely on."""

import pyarrow.parquet as pq

from keycare.engine.backends import connect


def test_partitioned_execution_is_off():
    # On DuckDB 2.0 it split the indicator base at 10M subscribers into key ranges and read
    # every Parquet input once per range: 59 s instead of 15 s (docs/performance.md).
    with connect("duckdb") as backend:
        setting = backend.scalar("SELECT current_setting('disabled_optimizers')")
    assert "partitioned_execution" in setting.split(",")


def test_written_parquet_keeps_the_order_and_the_bytes_of_the_same_rows(tmp_path):
    # The run's content hash covers the files: two threads writing row groups in parallel
    # must still give the same bytes, in the query's order, with row groups cut exactly.
    sql = (
        "SELECT 'S' || lpad(CAST(i AS VARCHAR), 6, '0') AS subscriber_id, i / 7 AS x"
        " FROM range(50000) t(i) ORDER BY hash(i)"
    )
    written = []
    for name in ("one", "two"):
        with connect("duckdb", threads=2) as backend:
            path = tmp_path / f"{name}.parquet"
            assert backend.write_parquet(sql, path, row_group_rows=4096) == 50000
            expected = backend.to_arrow(sql).column("subscriber_id").to_pylist()
        written.append(path.read_bytes())
        table = pq.ParquetFile(path)
        sizes = [table.metadata.row_group(i).num_rows for i in range(table.num_row_groups)]
        assert sizes == [4096] * 12 + [848]
        assert table.read().column("subscriber_id").to_pylist() == expected
    assert written[0] == written[1]
