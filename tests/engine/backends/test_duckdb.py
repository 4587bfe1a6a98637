"""Settings of the embedded DuckDB backend that the figures in docs/performance.md rely on."""

from keycare.engine.backends import connect


def test_partitioned_execution_is_off():
    # On DuckDB 2.0 it split the indicator base at 10M subscribers into key ranges and read
    # every Parquet input once per range: 59 s instead of 15 s (docs/performance.md).
    with connect("duckdb") as backend:
        setting = backend.scalar("SELECT current_setting('disabled_optimizers')")
    assert "partitioned_execution" in setting.split(",")
