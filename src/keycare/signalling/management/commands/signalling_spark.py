"""``keycare signalling_spark``: the real-time moments as a Spark Structured Streaming query.

Reads the same Redis stream as ``keycare signalling consume`` (or, in production, Kafka: see
docs/spark.md), keeps its progress in ``--checkpoint`` (restart with the same directory to
resume), and commits detections through the same database path.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings

from keycare.core.commands import KeycareCommand
from keycare.errors import UserError
from keycare.signalling.consumer import DEFAULT_STREAM


class Command(KeycareCommand):
    help = "Real-time moments on Spark Structured Streaming (same stream, same definitions)."
    needs_database = "require"

    def add_arguments(self, parser):
        parser.add_argument("--stream", default=DEFAULT_STREAM)
        parser.add_argument("--redis", default=None, help="redis URL (default settings)")
        parser.add_argument(
            "--checkpoint", required=True, help="Spark checkpoint directory (keep it to resume)"
        )
        parser.add_argument("--trigger", type=float, default=1.0, help="seconds per micro-batch")
        parser.add_argument(
            "--idle-stop", type=float, default=0, help="stop after N s without new detections"
        )

    def run(self, *args, **options):
        try:
            from keycare.signalling.spark.job import session
            from keycare.signalling.spark.sink import start_query
        except ImportError as exc:
            raise UserError("PySpark is not installed: pip install 'keycare[spark]'") from exc
        if options["trigger"] <= 0:
            raise UserError("--trigger must be a positive number of seconds")
        url = options["redis"] or getattr(
            settings, "SIGNALLING_REDIS_URL", "redis://127.0.0.1:6379/0"
        )
        checkpoint = str(Path(options["checkpoint"]).resolve())
        query, sink = start_query(session(), options["stream"], url, checkpoint, options["trigger"])
        try:
            self._wait(query, sink, options["idle_stop"])
        finally:
            query.stop()
            sink.wait_for_figures()  # the last batches' operations figures, before exiting
        self.stdout.write(f"batches {sink.batches}; detections stored {sink.stored}")

    def _wait(self, query, sink, idle_stop: float) -> None:
        """Until interrupted, or (``--idle-stop``) until the source has nothing new."""
        if not idle_stop:
            query.awaitTermination()
            return
        while True:
            query.processAllAvailable()
            before = sink.batches
            time.sleep(idle_stop)
            query.processAllAvailable()
            if sink.batches == before:
                return
