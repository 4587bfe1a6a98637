"""Spark-only parts of the backend: settings, SQL rendering, catalog (Hive) tables."""

from __future__ import annotations

import pytest

pytest.importorskip("pyspark", reason="PySpark is not installed (pip install -e '.[spark]')")

from keycare.engine.backends import connect  # noqa: E402
from keycare.engine.backends.spark import SparkBackend, spark_conf, to_spark_sql  # noqa: E402
from keycare.errors import UserError  # noqa: E402

pytestmark = pytest.mark.spark


def test_settings_come_from_defaults_env_and_arguments(monkeypatch):
    monkeypatch.setenv("KEYCARE_SPARK_MASTER", "spark://10.0.0.1:7077")
    monkeypatch.setenv(
        "KEYCARE_SPARK_CONF", '{"spark.executor.memory": "8g", "spark.sql.shuffle.partitions": 400}'
    )
    master, conf = spark_conf(conf={"spark.executor.memory": "16g"})
    assert master == "spark://10.0.0.1:7077"
    assert conf["spark.executor.memory"] == "16g"
    assert conf["spark.sql.shuffle.partitions"] == "400"
    assert conf["spark.sql.session.timeZone"] == "Asia/Shanghai"
    assert "spark.driver.host" not in conf  # loopback binding is for local mode only


def test_local_mode_binds_to_loopback(monkeypatch):
    monkeypatch.delenv("KEYCARE_SPARK_MASTER", raising=False)
    monkeypatch.delenv("KEYCARE_SPARK_CONF", raising=False)
    master, conf = spark_conf()
    assert master == "local[2]"
    assert conf["spark.driver.bindAddress"] == "127.0.0.1"
    assert conf["spark.ui.enabled"] == "false"


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]"])
def test_bad_conf_json_is_a_user_error(monkeypatch, raw):
    monkeypatch.setenv("KEYCARE_SPARK_CONF", raw)
    with pytest.raises(UserError, match="KEYCARE_SPARK_CONF"):
        spark_conf()


@pytest.mark.parametrize(
    ("duckdb_sql", "spark_sql"),
    [
        ("SELECT date_diff('day', a, b)", "SELECT DATEDIFF(b, a)"),
        (
            "SELECT date_diff('month', a, b)",
            "SELECT TIMESTAMPDIFF(MONTH, DATE_TRUNC('MONTH', a), DATE_TRUNC('MONTH', b))",
        ),
        ("SELECT isodow(d), dayofweek(d)", "SELECT (WEEKDAY(d) + 1), (DAYOFWEEK(d) - 1)"),
        ("SELECT json_object('a', x)", "SELECT TO_JSON(NAMED_STRUCT('a', x))"),
        (
            "SELECT CAST('0x' || substr(md5(k), 1, 8) AS BIGINT)",
            "SELECT CAST(CONV(SUBSTRING(MD5(k), 1, 8), 16, 10) AS BIGINT)",
        ),
        ("SELECT regexp_full_match(s, '[0-9]+')", "SELECT s RLIKE '^(?:[0-9]+)$'"),
        (r"SELECT regexp_matches(s, '\d+'), 'it''s'", r"SELECT s RLIKE '\\d+', 'it\'s'"),
        ("SELECT md5(k)[1:13], l[2:3]", "SELECT SUBSTRING(MD5(k), 1, 13), SLICE(l, 2, 2)"),
        (
            "SELECT l[i + 1], l[2], m['k']",
            "SELECT TRY_ELEMENT_AT(l, CAST(i + 1 AS INT)), l[1], m['k']",
        ),
    ],
)
def test_rendering_rules(duckdb_sql, spark_sql):
    assert to_spark_sql(duckdb_sql) == spark_sql


def test_connect_spark_and_catalog_tables(tmp_path):
    backend = connect("spark")
    try:
        assert isinstance(backend, SparkBackend)
        spark = backend.spark
        spark.sql("CREATE DATABASE IF NOT EXISTS keycare_test")
        spark.sql("DROP TABLE IF EXISTS keycare_test.subs")
        spark.sql(
            f"CREATE TABLE keycare_test.subs (sid STRING, fee DOUBLE) USING parquet LOCATION '{tmp_path / 'subs'}'"
        )
        spark.sql("INSERT INTO keycare_test.subs VALUES ('S1', 1.5), ('S2', 2.5)")
        backend.register_table("subscribers", "keycare_test.subs")
        assert backend.scalar("SELECT sum(fee) FROM subscribers") == 4.0
        with pytest.raises(UserError, match="no such Spark/Hive table: dw.nothing"):
            backend.register_table("x", "dw.nothing")
        with pytest.raises(UserError, match="no such Parquet file"):
            backend.register_file("x", tmp_path / "missing.parquet")
        spark.sql("DROP TABLE keycare_test.subs")
    finally:
        backend.close()
