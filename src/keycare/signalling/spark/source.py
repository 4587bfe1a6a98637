"""A replayable Spark streaming source over a Redis stream (PySpark 4 Python Data Source API).

Offsets are Redis stream entry IDs, so Spark's checkpoint records exactly which entries each
micro-batch read and a restarted query resumes (or replays an unfinished batch) from there —
the role Kafka offsets play for ``format("kafka")`` in production. Entries are never
acknowledged or trimmed here: the stream's retention is the broker's business, as on Kafka.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition

NAME = "keycare_redis"
SCHEMA = "entry_id string, arrival_ms long, arrival_seq long, payload string"
START = "0-0"
PAGE = 5000  # entries per XRANGE call while reading a micro-batch


@dataclass
class EntryRange(InputPartition):
    """Entries after ``start`` (exclusive) up to ``end`` (inclusive)."""

    start: str
    end: str


def _client(url: str):
    import redis  # imported on the executor too

    return redis.Redis.from_url(url)


class RedisStreamSource(DataSource):
    """``spark.readStream.format("keycare_redis").option("stream", key).option("url", url)``;
    the payload is the JSON event the embedded producer writes in field ``e``."""

    @classmethod
    def name(cls) -> str:
        return NAME

    def schema(self) -> str:
        return SCHEMA

    def streamReader(self, schema) -> DataSourceStreamReader:
        return RedisStreamReader(self.options)


class RedisStreamReader(DataSourceStreamReader):
    def __init__(self, options: dict):
        self.url = options.get("url", "redis://127.0.0.1:6379/0")
        self.stream = options["stream"]
        self.field = options.get("field", "e").encode()

    def initialOffset(self) -> dict:
        return {"id": START}

    def latestOffset(self) -> dict:
        last = _client(self.url).xrevrange(self.stream, count=1)
        return {"id": last[0][0].decode() if last else START}

    def partitions(self, start: dict, end: dict):
        return [EntryRange(start["id"], end["id"])]

    def read(self, partition: EntryRange):
        r, low = _client(self.url), "(" + partition.start
        while True:
            page = r.xrange(self.stream, min=low, max=partition.end, count=PAGE)
            for entry_id, fields in page:
                eid = entry_id.decode()
                ms, seq = eid.split("-")
                yield eid, int(ms), int(seq), fields[self.field].decode()
            if len(page) < PAGE:
                return
            low = "(" + page[-1][0].decode()

    def commit(self, end: dict) -> None:
        """Nothing to release: replay stays possible until the broker's retention drops it."""
