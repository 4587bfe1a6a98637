"""The streaming query: the contract's rules as Spark operators, the moments by ``Detector``.

- invalid events: ``contract_errors`` (the embedded gate's own check) as a filter;
- events of subscribers we do not serve: an inner join with the subscriber table (dropped
  before they can move the watermark, as the embedded consumer skips them before its gate);
- late: ``withWatermark(event time, allowed_lateness_minutes)``; duplicates:
  ``dropDuplicatesWithinWatermark(event_id)`` (a duplicate whose first copy left the state is
  behind the watermark, i.e. late, and dropped as such);
- detection: ``applyInPandasWithState`` grouped by subscriber drives the same ``Detector``
  (RT01–RT04 from ``moments.yaml``, per-city thresholds) over that subscriber's events in
  arrival order; RT03 (phone still off) is an event-time timeout at the power-off's due time,
  which fires when the watermark passes it — the embedded ``Detector.expire`` rule.

One difference is Spark's: the watermark moves between micro-batches, not per event, so an
event that is late only relative to events of its own micro-batch is admitted (never the
reverse). No Django here; the sink (``sink.py``) commits what this query emits.
"""

from __future__ import annotations

import json
import os
import sys
import time

import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming.state import GroupStateTimeout

from keycare.signalling.detect import (
    Detector,
    Subscriber,
    SubState,
    contract,
    contract_errors,
)
from keycare.signalling.spark.source import RedisStreamSource

EVENT_SCHEMA = (
    "event_id string, type string, subscriber_id string, event_time long, "
    "mcc string, country string, city string"
)
SUBSCRIBER_SCHEMA = (
    "subscriber_id string, city_code string, value_tier string, roaming_package boolean"
)
OUTPUT_SCHEMA = (
    "subscriber_id string, moment string, window string, signal_time long, "
    "detected_at long, facts string"
)
# Per subscriber, what the Detector keeps (0 = none) plus the subscriber's attributes, which a
# timeout call (no input rows) needs. No location track: only off/abroad and the country.
STATE_SCHEMA = (
    "off_since long, abroad_since long, country string, off_due long, "
    "city_code string, value_tier string, roaming_package boolean"
)
EVENT_FIELDS = ("event_id", "type", "subscriber_id", "event_time", "mcc", "country", "city")


def _patch_state_info_conversion() -> None:
    """Work around PySpark 4.0.1 with pyarrow 26: the per-group state-info struct arrives with
    null fields on padding rows, and pyarrow then turns its integer fields into floats, so
    ``RecordBatch.slice(float)`` fails on every ``applyInPandasWithState`` batch. Convert that
    one struct through ``to_pylist`` (ints stay ints, padding rows become None, which the
    serializer's loop treats as the end). Runs in every Python worker when it unpickles
    ``detect_group`` (imports this module), before the worker reads data."""
    from pyspark.sql.pandas.serializers import ApplyInPandasWithStateSerializer as Serializer

    original = Serializer.arrow_to_pandas
    if getattr(original, "keycare_patch", False):
        return

    def arrow_to_pandas(self, column, *args, **kwargs):
        kind = column.type
        if pa.types.is_struct(kind) and kind.get_field_index("startOffset") >= 0:
            rows = [r if r and r["numRows"] is not None else None for r in column.to_pylist()]
            return pd.Series(rows, dtype=object)
        return original(self, column, *args, **kwargs)

    arrow_to_pandas.keycare_patch = True
    Serializer.arrow_to_pandas = arrow_to_pandas


_patch_state_info_conversion()


def session(master: str | None = None, conf: dict | None = None) -> SparkSession:
    """A session whose Python workers run this interpreter (they import keycare and pyarrow;
    a bare ``python3`` on the PATH may have neither). Only effective before the JVM starts."""
    from keycare.engine.backends.spark import get_session

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return get_session(master, conf=conf)


def lateness_minutes() -> int:
    return int(contract()["semantics"]["allowed_lateness_minutes"])


def _valid(payload: pd.Series) -> pd.Series:
    def ok(text: str) -> bool:
        try:
            event = json.loads(text)
        except ValueError:
            return False
        return isinstance(event, dict) and not contract_errors(event)

    return payload.map(ok)


def _restore(sid: str, state, first: dict | None):
    """The group's Subscriber, its Detector with the kept state, and the pending RT03 timer."""
    if state.exists:
        off, abroad, country, due, city, tier, package = state.get
    else:
        off = abroad = due = 0
        country, city = "", first["city_code"]
        tier, package = first["value_tier"], bool(first["roaming_package"])
    sub = Subscriber(sid, city or "", tier or "", bool(package))
    detector = Detector()
    detector.states[sid] = SubState(off or None, abroad or None, country or "")
    if due:
        detector.off_timers.append((int(due), sid))
    return sub, detector


def _event(row: dict) -> dict:
    event = {k: row[k] for k in EVENT_FIELDS if isinstance(row[k], str)}
    event["event_time"] = int(row["event_time"])
    return event


def _save(sid: str, sub: Subscriber, detector: Detector, state) -> None:
    s = detector.states[sid]
    due = min((d for d, _ in detector.off_timers), default=0)
    if s.off_since is None and s.abroad_since is None and not due:
        state.remove()  # nothing a moment still needs: keep nothing
        return
    state.update(
        (
            s.off_since or 0,
            s.abroad_since or 0,
            s.country,
            due,
            sub.city,
            sub.value_tier,
            sub.roaming_package,
        )
    )
    if due:
        state.setTimeoutTimestamp(due)


def detect_group(key, frames, state):
    """One subscriber's new events (or its RT03 timeout) through the embedded Detector."""
    sid = key[0]
    rows = []
    if not state.hasTimedOut:
        frame = pd.concat(list(frames), ignore_index=True)
        rows = frame.sort_values(["arrival_ms", "arrival_seq"]).to_dict("records")
    sub, detector = _restore(sid, state, rows[0] if rows else None)
    hits = []
    for row in rows:
        hits += detector.process(_event(row), sub, int(time.time() * 1000))
    hits += detector.expire(state.getCurrentWatermarkMs(), {sid: sub})
    _save(sid, sub, detector, state)
    now = int(time.time() * 1000)
    yield pd.DataFrame(
        [
            (h.subscriber_id, h.moment, h.window, h.signal_time, now, json.dumps(h.facts))
            for h in hits
        ],
        columns=["subscriber_id", "moment", "window", "signal_time", "detected_at", "facts"],
    )


def events_from(raw: DataFrame) -> DataFrame:
    """Contract-valid events from the source rows (``arrival_ms``, ``arrival_seq``, ``payload``);
    the Kafka source gives the same after ``value`` is cast to a string payload."""
    valid = F.pandas_udf(_valid, "boolean")
    return (
        raw.where(valid("payload"))
        .select("arrival_ms", "arrival_seq", F.from_json("payload", EVENT_SCHEMA).alias("e"))
        .select("arrival_ms", "arrival_seq", "e.*")
    )


# Rows counted per micro-batch with ``observe`` (reported in the query's progress, see
# sink.FiguresListener): valid events, those of served subscribers, those past the watermark
# and the duplicate filter (what the embedded gate calls admitted).
OBSERVED = ("keycare_valid", "keycare_served", "keycare_admitted")


def detections(events: DataFrame, subscribers: DataFrame, *, observe: bool = False) -> DataFrame:
    """The moment detections of a stream of valid events (batch or streaming); ``observe``:
    count the rows at each filter (``OBSERVED``; a streaming query's progress reports them)."""

    def counted(df: DataFrame, name: str) -> DataFrame:
        return df.observe(name, F.count(F.lit(1)).alias("rows")) if observe else df

    valid, served, admitted = OBSERVED
    kept = (
        counted(counted(events, valid).join(F.broadcast(subscribers), "subscriber_id"), served)
        .withColumn("ts", F.timestamp_millis("event_time"))
        .withWatermark("ts", f"{lateness_minutes()} minutes")
        .dropDuplicatesWithinWatermark(["event_id"])
    )
    return (
        counted(kept, admitted)
        .groupBy("subscriber_id")
        .applyInPandasWithState(
            detect_group,
            OUTPUT_SCHEMA,
            STATE_SCHEMA,
            "append",
            GroupStateTimeout.EventTimeTimeout,
        )
    )


def redis_events(spark: SparkSession, stream: str, url: str) -> DataFrame:
    spark.dataSource.register(RedisStreamSource)
    raw = spark.readStream.format(RedisStreamSource.name()).option("stream", stream)
    return events_from(raw.option("url", url).load())


def kafka_events(spark: SparkSession, servers: str, topic: str) -> DataFrame:
    """Production's source (needs the spark-sql-kafka connector on the classpath): one Kafka
    record = one JSON event; partition offset order stands in for the Redis entry order."""
    raw = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", servers)
        .option("subscribe", topic)
        .load()
    )
    return events_from(
        raw.select(
            (F.col("timestamp").cast("double") * 1000).cast("long").alias("arrival_ms"),
            "offset",
            F.col("value").cast("string").alias("payload"),
        ).withColumnRenamed("offset", "arrival_seq")
    )
