"""kill -9 of a real consumer process mid-stream, then a restart: no detection lost or doubled.

The consumer runs as ``keycare signalling consume`` in a subprocess on a file copy of the test
database (SQLite online backup), against the machine's Redis; the reference is an uninterrupted
in-process consumer over the same events on another stream.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection

from factories import make_customer
from keycare.signalling.consumer import GROUP, Consumer, client, produce
from keycare.signalling.models import RealtimeDetection
from keycare.synth.signalling import generate

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def streams():
    r = client()
    keys = [f"test:signalling:{uuid.uuid4().hex}" for _ in range(2)]
    yield r, keys
    r.delete(*keys)


def _consume(home: Path, key: str) -> subprocess.Popen:
    env = {**os.environ, "KEYCARE_HOME": str(home), "PYTHONPATH": str(SRC)}
    env.pop("DATABASE_URL", None)
    cmd = [sys.executable, "-m", "keycare.cli", "signalling", "-v", "0", "consume", "--stream", key]
    cmd += ["--name", "c1", "--batch", "25", "--idle-stop", "2"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _read(r, key) -> int:
    return next(g["entries-read"] or 0 for g in r.xinfo_groups(key) if g["name"].decode() == GROUP)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the file copy is SQLite's backup API")
def test_kill_9_and_restart_loses_and_doubles_nothing(
    transactional_db, streams, org, manager, tmp_path
):
    r, (crashed, reference) = streams
    subs = [make_customer(org["C025"], f"S{i:04d}", manager).subscriber_id for i in range(300)]
    start = datetime.now(UTC) - timedelta(minutes=20)
    events = [e for _, e in generate(subs, start=start, hours=60, travel_rate=0.2, burst_size=30)]
    connection.ensure_connection()
    with sqlite3.connect(tmp_path / "keycare.sqlite3") as copy:
        connection.connection.backup(copy)  # schema and customers, for the subprocess

    produce(r, crashed, events)
    first = _consume(tmp_path, crashed)
    deadline = time.monotonic() + 120
    while _group_ready(r, crashed, first) and _read(r, crashed) < len(events) // 3:
        assert time.monotonic() < deadline and first.poll() is None, first.stderr.read()
        time.sleep(0.05)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert _read(r, crashed) < len(events), "the consumer finished before the kill"
    second = _consume(tmp_path, crashed)
    assert second.wait(timeout=300) == 0, second.stderr.read()
    assert r.xpending(crashed, GROUP)["pending"] == 0

    produce(r, reference, events)
    consumer = Consumer(r, reference, "ref")
    consumer.setup()
    while consumer.step(block_ms=50):
        pass
    want = set(RealtimeDetection.objects.values_list("customer__subscriber_id", "moment", "window"))
    with sqlite3.connect(tmp_path / "keycare.sqlite3") as db:
        got = db.execute(
            "select c.subscriber_id, d.moment, d.window from signalling_realtimedetection d "
            "join customers_customer c on c.id = d.customer_id"
        ).fetchall()
        tasks = db.execute(
            "select count(*), count(distinct customer_id) from workorders_servicetask where cycle='realtime'"
        ).fetchone()
    assert len(want) > 20 and {m for _, m, _ in want} >= {"RT01", "RT03", "RT04"}
    assert len(got) == len(set(got)) and set(got) == want
    assert tasks[0] == tasks[1] > 0


def _group_ready(r, key, proc) -> bool:
    deadline = time.monotonic() + 120
    while not r.xinfo_groups(key):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.05)
    return True
