"""Spark SQL backend: the same canonical (DuckDB-dialect) SQL, run by PySpark.

SQLGlot does most of the translation. The rules in ``_REWRITES`` fix the constructs where
SQLGlot's Spark output parses but means something else than in DuckDB (see docs/spark.md,
"What differs"). Session settings in ``_DEFAULT_CONF`` are chosen so that results match
DuckDB: timestamps without time zone, ANSI errors on bad casts and overflow, JSON that keeps
null fields.

One SparkSession per process: starting the JVM takes 10-25 s, so every SparkBackend shares
the session made by the first one (``SparkSession.builder.getOrCreate``). ``close()`` drops
only what its backend registered; ``stop_session()`` ends the JVM.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from keycare.engine.backends.base import CANONICAL_DIALECT, Backend
from keycare.errors import UserError

try:  # PySpark is the optional extra `keycare[spark]`.
    from pyspark import StorageLevel
    from pyspark.logger import PySparkLogger
    from pyspark.sql import SparkSession
    from pyspark.sql import types as st
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("PySpark is not installed: pip install 'keycare[spark]'") from exc

ENV_MASTER = "KEYCARE_SPARK_MASTER"
ENV_CONF = "KEYCARE_SPARK_CONF"
ENV_HIVE = "KEYCARE_SPARK_HIVE"
DEFAULT_MASTER = "local[2]"
DEFAULT_APP_NAME = "keycare"

#: Settings for every master. Each one keeps a DuckDB behaviour (see docs/spark.md).
_DEFAULT_CONF = {
    # Business dates and timestamps are Asia/Shanghai wall-clock time everywhere.
    "spark.sql.session.timeZone": "Asia/Shanghai",
    # DuckDB TIMESTAMP has no time zone: make Spark's TIMESTAMP the same (TIMESTAMP_NTZ).
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
    # ANSI (the Spark 4 default) errors on bad casts and integer overflow, like DuckDB.
    "spark.sql.ansi.enabled": "true",
    # DuckDB json_object keeps null values ("b":null); Spark drops them unless told not to.
    "spark.sql.jsonGenerator.ignoreNullFields": "false",
    "spark.sql.parquet.compression.codec": "zstd",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
    # The moment view filters on the union of the moments' scopes (a long OR) and joins a
    # dozen grouped scans; Catalyst's constraint propagation multiplies such predicates
    # across the joins until the driver runs out of heap (OutOfMemoryError in
    # QueryPlanConstraints). It only infers extra filters, so results are the same without it.
    "spark.sql.constraintPropagation.enabled": "false",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.log.level": "ERROR",
}

#: Extra settings for local mode: no network beyond loopback, few partitions for small data.
_LOCAL_CONF = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.driver.memory": "2g",
    "spark.sql.warehouse.dir": os.path.join(tempfile.gettempdir(), "keycare-spark-warehouse"),
}

#: Arrow input above this many rows goes through a temporary Parquet file (local mode only),
#: which is much faster than shipping rows through py4j.
_ARROW_VIA_PARQUET_ROWS = 200_000


# --------------------------------------------------------------------------- session


def spark_conf(master: str | None = None, conf: dict | None = None) -> tuple[str, dict]:
    """Resolve master and settings: defaults < KEYCARE_SPARK_* environment < arguments."""
    master = master or os.environ.get(ENV_MASTER) or DEFAULT_MASTER
    settings = dict(_DEFAULT_CONF)
    if master.startswith("local"):
        settings.update(_LOCAL_CONF)
    raw = os.environ.get(ENV_CONF)
    if raw:
        try:
            from_env = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise UserError(f"{ENV_CONF} is not valid JSON: {exc.msg}") from exc
        if not isinstance(from_env, dict):
            raise UserError(
                f'{ENV_CONF} must be a JSON object like {{"spark.executor.memory": "4g"}}'
            )
        settings.update({str(k): str(v) for k, v in from_env.items()})
    settings.update({str(k): str(v) for k, v in (conf or {}).items()})
    return master, settings


_ROOT: SparkSession | None = None  # the first session; every backend gets a child of it


def get_session(
    master: str | None = None,
    app_name: str = DEFAULT_APP_NAME,
    conf: dict | None = None,
    hive: bool | None = None,
) -> SparkSession:
    """A new SparkSession on the process-wide SparkContext (started on first use).

    Each backend gets its own session (``newSession``): separate temporary views and SQL
    settings, shared JVM, executors and cache. Master, app name and static settings only
    take effect when the JVM starts."""
    global _ROOT
    master, settings = spark_conf(master, conf)
    if _ROOT is None or _ROOT.sparkContext._jsc is None:
        _ROOT = SparkSession.getActiveSession() or _start(master, app_name, settings, hive)
    session = _ROOT.newSession()
    for key, value in settings.items():
        if key.startswith("spark.sql.") and session.conf.isModifiable(key):
            session.conf.set(key, value)
    return session


def _start(master: str, app_name: str, settings: dict, hive: bool | None) -> SparkSession:
    if master.startswith("local"):
        # Keeps Spark from resolving the host name to an external interface.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    if hive if hive is not None else os.environ.get(ENV_HIVE) == "1":
        builder = builder.enableHiveSupport()
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(settings.get("spark.log.level", "ERROR"))
    _quiet_query_error_logs()
    return session


def _quiet_query_error_logs() -> None:
    """PySpark 4 logs every failed query as a JSON blob with a Java stack trace before it
    raises; the exception itself is enough (and a UserError must stay one line)."""
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL + 1)


def stop_session() -> None:
    """Stop the process-wide SparkContext (the next SparkBackend starts a new JVM)."""
    global _ROOT
    if _ROOT is not None:
        _ROOT.stop()
        _ROOT = None


atexit.register(stop_session)


# --------------------------------------------------------------------------- SQL rewrites
# Each rule takes one node of the parsed canonical (DuckDB) SQL and returns its replacement,
# or the node itself when the rule does not apply. They run before SQLGlot writes Spark SQL.


def _unit(node: exp.Expression) -> str:
    unit = node.args.get("unit")
    return unit.name.upper() if unit is not None else "DAY"


def _call(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=[a.copy() for a in args])


def _rewrite_date_diff(node: exp.Expression) -> exp.Expression:
    """DuckDB date_diff counts unit *boundaries* crossed; Spark DATEDIFF(unit, a, b) counts
    *whole* units (2024-01-31 -> 2024-02-01: 1 month in DuckDB, 0 in Spark).
    Days: Spark's two-argument datediff(end, start) compares calendar dates. Other units:
    whole units between the truncated values. Weeks: DuckDB also counts whole weeks, so
    SQLGlot's output is kept."""
    if not isinstance(node, exp.DateDiff) or not node.args.get("date_part_boundary"):
        return node
    end, start, unit = node.this, node.expression, _unit(node)
    if unit == "WEEK":
        return node
    if unit == "DAY":
        return _call("DATEDIFF", end, start)
    trunc = lambda e: _call("DATE_TRUNC", exp.Literal.string(unit), e)  # noqa: E731
    return _call("TIMESTAMPDIFF", exp.var(unit), trunc(start), trunc(end))


def _rewrite_date_sub(node: exp.Expression) -> exp.Expression:
    """DuckDB date_sub('unit', start, end) counts whole units, like Spark's TIMESTAMPDIFF;
    Spark's own date_sub(date, days) is something else."""
    if not (isinstance(node, exp.Anonymous) and node.name.lower() == "date_sub"):
        return node
    part, start, end = node.expressions
    if not (isinstance(part, exp.Literal) and part.is_string):
        return node
    return _call("TIMESTAMPDIFF", exp.var(part.this.upper()), start, end)


def _rewrite_date_trunc(node: exp.Expression) -> exp.Expression:
    """Spark DATE_TRUNC returns a time-zone-aware TIMESTAMP; DuckDB a plain TIMESTAMP.
    Casting to TIMESTAMP (TIMESTAMP_NTZ in our session) gives the same wall-clock value."""
    if not isinstance(node, exp.TimestampTrunc | exp.DateTrunc):
        return node
    trunc = _call("DATE_TRUNC", exp.Literal.string(_unit(node)), node.this)
    return exp.Cast(this=trunc, to=exp.DataType.build("TIMESTAMP_NTZ", dialect="spark"))


def _rewrite_printf(node: exp.Expression) -> exp.Expression:
    """DuckDB printf returns NULL when an argument is NULL; Spark's format_string prints
    'null' (cut to the precision: '%.1f' -> 'n'). Ties still round differently
    ('%.1f' of 0.25: DuckDB 0.2, Spark 0.3): format numbers with CAST(CAST(x AS
    DECIMAL(18, n)) AS VARCHAR) instead."""
    if not (isinstance(node, exp.Anonymous) and node.name.lower() in ("printf", "format_string")):
        return node
    fmt, *args = node.expressions
    call = _call("FORMAT_STRING", fmt, *args)
    nullable = [a for a in args if not isinstance(a, exp.Literal)]
    if not nullable:
        return call
    any_null = exp.or_(*[exp.Is(this=a.copy(), expression=exp.Null()) for a in nullable])
    return exp.If(this=any_null, true=exp.Null(), false=call)


def _rewrite_json_object(node: exp.Expression) -> exp.Expression:
    """Spark has no json_object: to_json(named_struct('k', v, ...)) writes the same text."""
    if not isinstance(node, exp.JSONObject):
        return node
    args: list[exp.Expression] = []
    for pair in node.expressions:
        args += [pair.this, pair.expression]
    return _call("TO_JSON", _call("NAMED_STRUCT", *args))


def _rewrite_day_of_week(node: exp.Expression) -> exp.Expression:
    """DuckDB dayofweek: Sunday=0..Saturday=6; Spark DAYOFWEEK: Sunday=1..7.
    DuckDB isodow: Monday=1..Sunday=7; Spark WEEKDAY: Monday=0..6."""
    if isinstance(node, exp.DayOfWeekIso):
        weekday = _call("WEEKDAY", node.this)
        return exp.Paren(this=exp.Add(this=weekday, expression=exp.Literal.number(1)))
    if isinstance(node, exp.DayOfWeek):
        dow = _call("DAYOFWEEK", node.this)
        return exp.Paren(this=exp.Sub(this=dow, expression=exp.Literal.number(1)))
    return node


def _rewrite_hex_cast(node: exp.Expression) -> exp.Expression:
    """DuckDB parses hex with CAST('0x' || s AS BIGINT); Spark with CONV(s, 16, 10).
    This is the portable hash for control groups: CAST('0x' || substr(md5(k), 1, 8) AS BIGINT)."""
    if not isinstance(node, exp.Cast) or not isinstance(node.this, exp.DPipe):
        return node
    prefix = node.this.this
    if not (isinstance(prefix, exp.Literal) and prefix.is_string and prefix.this.lower() == "0x"):
        return node
    conv = _call("CONV", node.this.expression, exp.Literal.number(16), exp.Literal.number(10))
    return exp.Cast(this=conv, to=node.to.copy())


def _rewrite_regexp_full_match(node: exp.Expression) -> exp.Expression:
    """DuckDB regexp_full_match(s, p) matches the whole string; Spark has no such function
    and its RLIKE matches anywhere, so anchor the pattern."""
    if not isinstance(node, exp.RegexpFullMatch):
        return node
    pattern = node.expression
    if isinstance(pattern, exp.Literal) and pattern.is_string:
        anchored = exp.Literal.string(f"^(?:{pattern.this})$")
    else:
        parts = [exp.Literal.string("^(?:"), pattern.copy(), exp.Literal.string(")$")]
        anchored = exp.Concat(expressions=parts)
    return exp.RegexpLike(this=node.this.copy(), expression=anchored)


def _rewrite_bracket(node: exp.Expression) -> exp.Expression:
    """DuckDB brackets are 1-based; Spark's are 0-based. SQLGlot shifts literal indexes but
    not computed ones (``list[i + 1]``): those become TRY_ELEMENT_AT(list, CAST(i + 1 AS INT))
    (1-based, NULL when out of range, as in DuckDB). Canonical SQL uses no maps, so a
    computed bracket is always a list index.
    Slices ``s[a:b]`` (1-based, both ends included) of strings become SUBSTRING(s, a, b-a+1),
    of anything else SLICE(x, a, b-a+1); only slices with literal ends are rewritten."""
    if not isinstance(node, exp.Bracket) or len(node.expressions) != 1:
        return node
    index = node.expressions[0]
    if isinstance(index, exp.Slice):
        start, end = index.this, index.expression
        if not all(isinstance(e, exp.Literal) and e.is_int for e in (start, end)):
            return node
        first, last = int(start.this), int(end.this)
        length = exp.Literal.number(max(last - first + 1, 0))
        is_text = node.this.type is not None and node.this.type.is_type(*exp.DataType.TEXT_TYPES)
        name = "SUBSTRING" if is_text else "SLICE"
        return _call(name, node.this, exp.Literal.number(first), length)
    if isinstance(index, exp.Literal):
        return node  # SQLGlot already shifted it
    # Spark wants an INT index; DuckDB's are often BIGINT (n % 3 + 1 over a BIGINT column).
    as_int = exp.Cast(this=index.copy(), to=exp.DataType.build("INT"))
    return _call("TRY_ELEMENT_AT", node.this, as_int)


_REWRITES = (
    _rewrite_date_diff,
    _rewrite_date_sub,
    _rewrite_date_trunc,
    _rewrite_json_object,
    _rewrite_day_of_week,
    _rewrite_hex_cast,
    _rewrite_printf,
    _rewrite_regexp_full_match,
    _rewrite_bracket,
)


def to_spark_sql(sql: str) -> str:
    """Render canonical DuckDB SQL as Spark SQL (SQLGlot plus the rules above)."""
    statements = sqlglot.parse(sql, read=CANONICAL_DIALECT)
    rendered = []
    for tree in statements:
        if tree is None:
            continue
        for rule in _REWRITES:
            tree = tree.transform(rule)
        rendered.append(tree.sql(dialect="spark"))
    return ";\n".join(rendered)


# --------------------------------------------------------------------------- types


def _spark_type(arrow_type: pa.DataType) -> st.DataType:
    """Arrow -> Spark type, keeping dates, naive timestamps and decimals as they are."""
    simple = [
        (pa.types.is_string, st.StringType),
        (pa.types.is_large_string, st.StringType),
        (pa.types.is_boolean, st.BooleanType),
        (pa.types.is_int8, st.ByteType),
        (pa.types.is_int16, st.ShortType),
        (pa.types.is_int32, st.IntegerType),
        (pa.types.is_int64, st.LongType),
        (pa.types.is_float32, st.FloatType),
        (pa.types.is_float64, st.DoubleType),
        (pa.types.is_date32, st.DateType),
        (pa.types.is_binary, st.BinaryType),
    ]
    for test, spark_type in simple:
        if test(arrow_type):
            return spark_type()
    if pa.types.is_null(arrow_type):
        return st.StringType()
    if pa.types.is_timestamp(arrow_type):
        return st.TimestampType() if arrow_type.tz else st.TimestampNTZType()
    if pa.types.is_decimal(arrow_type):
        return st.DecimalType(arrow_type.precision, arrow_type.scale)
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return st.ArrayType(_spark_type(arrow_type.value_type))
    if pa.types.is_struct(arrow_type):
        return st.StructType(
            [st.StructField(f.name, _spark_type(f.type), f.nullable) for f in arrow_type]
        )
    raise UserError(f"Spark backend: unsupported Arrow type {arrow_type}")


def spark_schema(schema: pa.Schema) -> st.StructType:
    return st.StructType([st.StructField(f.name, _spark_type(f.type), True) for f in schema])


def _arrow_for_spark(table: pa.Table) -> pa.Table:
    """Cast Arrow columns to what Spark stores: large strings, null columns and timestamps
    of any unit become string / microsecond columns."""
    fields = []
    for field in table.schema:
        t = field.type
        if pa.types.is_large_string(t) or pa.types.is_null(t):
            t = pa.string()
        elif pa.types.is_timestamp(t):
            t = pa.timestamp("us", tz=t.tz)
        elif pa.types.is_date64(t):
            t = pa.date32()
        fields.append(pa.field(field.name, t))
    return table.cast(pa.schema(fields))


def _nullable(table: pa.Table) -> pa.Table:
    """Spark marks columns it proves non-null (literals, count(*)) as ``not null``; DuckDB
    returns every column nullable. Same data, but the schema (and so Parquet bytes written
    from it) would differ, so drop the flag."""
    if all(field.nullable for field in table.schema):
        return table
    return table.cast(pa.schema([field.with_nullable(True) for field in table.schema]))


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


# --------------------------------------------------------------------------- backend


class SparkBackend(Backend):
    """Spark SQL over Parquet files, Hive tables and Arrow tables.

    ``materialize_mode``: "cache" keeps results in executor memory/disk (default);
    "parquet" writes them under ``work_dir`` (a path every executor can read, e.g. on HDFS)
    and reads them back, which also cuts long query lineages.
    """

    name = "spark"
    dialect = "spark"

    def __init__(
        self,
        master: str | None = None,
        app_name: str = DEFAULT_APP_NAME,
        conf: dict | None = None,
        hive: bool | None = None,
        materialize_mode: str = "cache",
        work_dir: str | Path | None = None,
    ):
        if materialize_mode not in ("cache", "parquet"):
            raise UserError(
                f"materialize_mode must be 'cache' or 'parquet', not {materialize_mode!r}"
            )
        self.spark = get_session(master, app_name, conf, hive)
        self.local = self.spark.sparkContext.master.startswith("local")
        self.materialize_mode = materialize_mode
        self._own_work_dir = work_dir is None
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="keycare-spark-"))
        self._views: set[str] = set()
        self._cached: dict[str, object] = {}

    # -- SQL

    def render(self, sql: str) -> str:
        return to_spark_sql(sql)

    def _df(self, sql: str):
        return self.spark.sql(self.render(sql))

    def _register(self, name: str, df) -> None:
        self._uncache(name)
        df.createOrReplaceTempView(name)
        self._views.add(name)

    def _uncache(self, name: str) -> None:
        cached = self._cached.pop(name, None)
        if cached is not None:
            cached.unpersist()

    # -- Backend interface

    def register_file(self, name: str, path: Path, fmt: str = "parquet") -> None:
        path = Path(path)
        if fmt != "parquet":
            raise UserError(f"Spark backend reads Parquet only, not {fmt!r}: {path}")
        if not path.exists():
            raise UserError(f"no such Parquet file or directory: {path}")
        if path.is_file() and path.name.startswith(("_", ".")):
            # Spark skips files named _* or .* (it takes them for metadata), even when
            # named directly; DuckDB reads them. Give Spark a visible name for the file.
            alias = self.work_dir / f"{uuid.uuid4().hex}.parquet"
            alias.symlink_to(path.resolve())
            path = alias
        self._register(name, self.spark.read.parquet(str(path)))

    def register_table(self, name: str, table: str) -> None:
        """Expose a catalog (Hive) table such as ``dw.subscriber_snapshot`` as ``name``."""
        if not self.spark.catalog.tableExists(table):
            raise UserError(f"no such Spark/Hive table: {table}")
        self._register(name, self.spark.table(table))

    def register_arrow(self, name: str, table: pa.Table) -> None:
        table = _arrow_for_spark(table)
        schema = spark_schema(table.schema)
        if self.local and table.num_rows > _ARROW_VIA_PARQUET_ROWS:
            path = self.work_dir / f"arrow_{name}_{uuid.uuid4().hex}.parquet"
            pq.write_table(table, path)
            df = self.spark.read.schema(schema).parquet(str(path))
        else:
            # One chunk: PySpark 4.0.1 drops rows of a table made of many chunks, some empty
            # (e.g. pa.concat_tables of per-file results).
            df = self.spark.createDataFrame(table.combine_chunks(), schema=schema)
        self._register(name, df)

    def create_view(self, name: str, sql: str) -> None:
        # A SQL temporary view is resolved when used, like a DuckDB view.
        self._uncache(name)
        self.spark.sql(f"CREATE OR REPLACE TEMPORARY VIEW {_quote(name)} AS {self.render(sql)}")
        self._views.add(name)

    def materialize(self, name: str, sql: str) -> None:
        df = self._df(sql)
        if self.materialize_mode == "parquet":
            target = f"{self.work_dir}/materialized_{name}_{uuid.uuid4().hex}"
            df.write.parquet(target)
            self._register(name, self.spark.read.parquet(target))
            return
        # Compute now, as DuckDB's CREATE TABLE AS does, and cut the lineage: a persisted
        # DataFrame still carries its whole plan, so every later step would re-analyse the
        # plans of all earlier steps (with their CTEs inlined again: allocation's plan over
        # the detections took Catalyst tens of minutes). A local checkpoint keeps the rows
        # in executor memory/disk and starts a new plan from them.
        df = df.localCheckpoint(eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK)
        self._register(name, df)
        self._cached[name] = df

    def to_arrow(self, sql: str) -> pa.Table:
        return _nullable(self._df(sql).toArrow())

    def write_parquet(self, sql: str, path: Path) -> int:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        df = self._df(sql)
        if not self.local:
            # Executors cannot write to the driver's disk: collect (results are per-day
            # outputs, small next to the inputs) and write here.
            table = df.toArrow()
            pq.write_table(table, path, compression="zstd")
            return table.num_rows
        staging = Path(tempfile.mkdtemp(prefix=".spark-", dir=path.parent))
        try:
            df.coalesce(1).write.mode("overwrite").parquet(str(staging / "out"))
            parts = sorted((staging / "out").glob("part-*.parquet"))
            if len(parts) != 1:
                raise RuntimeError(f"Spark wrote {len(parts)} part files for {path}, expected 1")
            os.replace(parts[0], path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return pq.ParquetFile(path).metadata.num_rows

    def close(self) -> None:
        for name in list(self._cached):
            self._uncache(name)
        for name in self._views:
            self.spark.catalog.dropTempView(name)
        self._views.clear()
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)
