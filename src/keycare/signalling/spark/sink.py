"""Where the streaming query's detections go: the embedded path's own ``commit_batch``, called
from ``foreachBatch`` in the driver (detections are few; the events never reach the driver).

Exactly-once effects: Spark re-runs an unfinished micro-batch after a crash with the same
offsets, and ``commit_batch`` stores a detection (and its task) only if its unique
(customer, moment, window) key is new, so a replayed batch — or the whole stream replayed
into a fresh checkpoint — adds nothing.

The operations page's figures (``StreamMinute``, consumer ``spark``) are written per completed
micro-batch by ``FiguresListener`` from the query's progress, not in ``foreachBatch``: see its
docstring.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime

from django.db import connections
from pyspark.sql.streaming import StreamingQueryListener

from keycare.customers.models import Customer
from keycare.signalling.actions import BatchStats, commit_batch, record_batch_stats
from keycare.signalling.detect import Detection, moment_definitions
from keycare.signalling.spark.job import OBSERVED, SUBSCRIBER_SCHEMA, detections, redis_events

logger = logging.getLogger(__name__)
CONSUMER = "spark"  # StreamMinute.consumer of the Spark query's figures


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
    every (subscriber, moment, window) the query emitted (stored now or before); ``notes``
    keeps, per batch id, (detections stored, largest signal -> detection latency) until the
    batch's figures are written (``FiguresListener``)."""

    def __init__(self, stream: str):
        self.stream, self.stored, self.batches = stream, 0, 0
        self.keys: set[tuple[str, str, str]] = set()
        self.notes: dict[int, tuple[int, int | None]] = {}
        self.listener: FiguresListener | None = None

    def __call__(self, batch_df, batch_id: int) -> None:
        rows = batch_df.collect()
        self.batches += 1
        stored = 0
        if rows:
            try:
                stored = self._commit(rows)
            finally:
                connections.close_all()  # this callback thread's own connection
        self.notes[batch_id] = (stored, _max_latency(rows))

    def wait_for_figures(self, timeout: float = 30.0) -> bool:
        """After ``query.stop()``: True once the listener has written the figures of every
        batch of the run (progress events reach it asynchronously)."""
        return self.listener is not None and self.listener.terminated.wait(timeout)

    def _commit(self, rows) -> int:
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
        return len(stored)


def _max_latency(rows) -> int | None:
    """Signal -> detection of the event-triggered detections (as the embedded consumer's
    figure: a phone-off detection fires hours after its signal by definition)."""
    timed = [
        r.detected_at - r.signal_time
        for r in rows
        if moment_definitions()[r.moment]["trigger"] != "detach"
    ]
    return max(timed, default=None)


class FiguresListener(StreamingQueryListener):
    """Writes each completed micro-batch of one query run to ``StreamMinute`` (consumer
    ``spark``, stream ``spark:<stream>``) and the Spark checkpoint row's counters, through the
    embedded consumer's ``BatchStats`` and ``_record_stats``.

    Why from the progress and not in ``foreachBatch``: ``foreachBatch`` receives only the
    detections (the events never reach the driver), and the micro-batch's input figures —
    ``numInputRows``, the rows the watermark dropped, the ``observe`` counts — exist only once
    the batch has completed, i.e. after ``foreachBatch`` returned. ``query.lastProgress``
    inside ``foreachBatch`` is the previous batch's (off by one, and the last batch's figures
    would wait for a next batch that may never run). ``onQueryProgress`` fires once per
    completed batch, so these figures cost nothing to collect, and a batch Spark re-runs after
    a crash (its first run never completed) is counted once. They are committed in their own
    transaction, after the detections: a crash between the two loses one batch's figures,
    never a detection."""

    def __init__(self, sink: DetectionSink, name: str):
        self.sink, self.name, self.run_id = sink, name, None
        self.terminated = threading.Event()

    def onQueryStarted(self, event) -> None:
        # Delivered synchronously within start(); a name is active in one query at a time.
        if event.name == self.name and self.run_id is None:
            self.run_id = event.runId

    def onQueryProgress(self, event) -> None:
        progress = event.progress
        if progress.runId != self.run_id:
            return
        stored, latency = self.sink.notes.pop(progress.batchId, (0, None))
        try:
            name = checkpoint_name(self.sink.stream)
            record_batch_stats(name, batch_stats(progress, latency), stored)
        except Exception:  # the query must go on; the figures are for the operations page
            logger.exception("signalling figures of batch %s not written", progress.batchId)
        finally:
            connections.close_all()  # the listener thread's own connection

    def onQueryIdle(self, event) -> None:
        pass

    def onQueryTerminated(self, event) -> None:
        if event.runId == self.run_id:
            self.terminated.set()


def batch_stats(progress, max_latency_ms: int | None) -> BatchStats:
    """One completed micro-batch as the embedded consumer's ``BatchStats``. Entries: the
    source rows read. Late: rows the stateful operators dropped behind the watermark.
    Duplicates: rows of served subscribers past the watermark that the duplicate filter
    dropped. Invalid: rows the contract filter dropped. Lag and pending are the consumer
    group's and stay unknown (None) here: Spark reads by offset, without a group."""
    seen = {name: row["rows"] for name, row in progress.observedMetrics.items()}
    late = sum(op.numRowsDroppedByWatermark for op in progress.stateOperators)
    counts = {"late": late}
    if all(name in seen for name in OBSERVED):
        valid, served, admitted = (seen[name] for name in OBSERVED)
        counts |= {
            "admitted": admitted,
            "duplicate": max(0, served - late - admitted),
            "invalid": progress.numInputRows - valid,
        }
    at = datetime.fromisoformat(progress.timestamp.replace("Z", "+00:00"))
    return BatchStats(
        consumer=CONSUMER,
        at_ms=int(at.timestamp() * 1000),
        entries=progress.numInputRows,
        counts=counts,
        max_latency_ms=max_latency_ms,
        busy_ms=progress.durationMs.get("triggerExecution"),
    )


def start_query(spark, stream: str, url: str, checkpoint: str, trigger_seconds: float = 1.0):
    """Start the streaming query on ``stream``; returns (StreamingQuery, DetectionSink)."""
    subscribers = spark.createDataFrame(subscriber_rows(), SUBSCRIBER_SCHEMA)
    sink, name = DetectionSink(stream), f"signalling:{stream}"
    listener = FiguresListener(sink, name)
    _listen(spark, listener)
    try:
        query = (
            detections(redis_events(spark, stream, url), subscribers, observe=True)
            .writeStream.foreachBatch(sink)
            .option("checkpointLocation", checkpoint)
            .trigger(processingTime=f"{trigger_seconds} seconds")
            .queryName(name)
            .start()
        )
    except Exception:
        listener.terminated.set()  # never started: dropped at the next start
        raise
    return query, sink


_listeners: list[FiguresListener] = []


def _listen(spark, listener: FiguresListener) -> None:
    """Register ``listener`` (``listener.sink.listener``), dropping those whose run has ended
    (each listens to one run; removing it at the run's end could lose late progress events)."""
    for old in [x for x in _listeners if x.terminated.is_set()]:
        spark.streams.removeListener(old)
        _listeners.remove(old)
    spark.streams.addListener(listener)
    _listeners.append(listener)
    listener.sink.listener = listener
