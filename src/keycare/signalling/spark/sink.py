"""Where the streaming query's detections go: the embedded path's own ``commit_batch``, called
from ``foreachBatch`` in the driver (detections are few; the events never reach the driver).

Exactly-once effects: Spark re-runs an unfinished micro-batch after a crash with the same
offsets, and ``commit_batch`` stores a detection (and its task) only if its unique
(customer, moment, window) key is new, so a replayed batch — or the whole stream replayed
into a fresh checkpoint — adds nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from django.db import connections

from keycare.customers.models import Customer
from keycare.signalling.actions import commit_batch
from keycare.signalling.detect import Detection
from keycare.signalling.spark.job import SUBSCRIBER_SCHEMA, detections, redis_events


def subscriber_rows() -> list[tuple[str, str, str, bool]]:
    """The served subscribers and the attributes the moments read (``job.SUBSCRIBER_SCHEMA``)."""
    rows = Customer.objects.values_list(
        "subscriber_id", "city__code", "value_tier", "attributes__roaming_package"
    )
    return [(sid, city, tier or "", bool(package)) for sid, city, tier, package in rows]


def checkpoint_name(stream: str) -> str:
    """The StreamCheckpoint row of the Spark query (apart from the embedded consumer's)."""
    return f"spark:{stream}"


class DetectionSink:
    """``foreachBatch`` callback; ``stored`` counts the detections it created, ``keys`` holds
    every (subscriber, moment, window) the query emitted (stored now or before)."""

    def __init__(self, stream: str):
        self.stream, self.stored, self.batches = stream, 0, 0
        self.keys: set[tuple[str, str, str]] = set()

    def __call__(self, batch_df, batch_id: int) -> None:
        rows = batch_df.collect()
        self.batches += 1
        if rows:
            try:
                self._commit(rows)
            finally:
                connections.close_all()  # this callback thread's own connection

    def _commit(self, rows) -> None:
        customers = {
            c.subscriber_id: c
            for c in Customer.objects.filter(
                subscriber_id__in={r.subscriber_id for r in rows}
            ).select_related("city")
        }
        hits = [
            (
                Detection(r.subscriber_id, r.moment, r.window, r.signal_time, json.loads(r.facts)),
                datetime.fromtimestamp(r.detected_at / 1000, UTC),
            )
            for r in rows
            if r.subscriber_id in customers
        ]
        self.keys |= {(r.subscriber_id, r.moment, r.window) for r in rows}
        latest = max(r.signal_time for r in rows)
        stored = commit_batch(checkpoint_name(self.stream), hits, customers, {}, latest, {})
        self.stored += len(stored)


def start_query(spark, stream: str, url: str, checkpoint: str, trigger_seconds: float = 1.0):
    """Start the streaming query on ``stream``; returns (StreamingQuery, DetectionSink)."""
    subscribers = spark.createDataFrame(subscriber_rows(), SUBSCRIBER_SCHEMA)
    sink = DetectionSink(stream)
    query = (
        detections(redis_events(spark, stream, url), subscribers)
        .writeStream.foreachBatch(sink)
        .option("checkpointLocation", checkpoint)
        .trigger(processingTime=f"{trigger_seconds} seconds")
        .queryName(f"signalling:{stream}")
        .start()
    )
    return query, sink
