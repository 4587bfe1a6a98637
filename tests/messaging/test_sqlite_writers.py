"""Two processes writing the outbox on SQLite (a sender and ``keycare sms_receipts``): a
transaction that reads and then writes must wait for the other writer, not fail with
"database is locked" (actions.write_transaction takes the write lock at BEGIN)."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.db.backends.sqlite3.base import DatabaseWrapper

from keycare.messaging import actions

ALIAS = "sms_writers_file"


@pytest.fixture
def file_db(tmp_path, django_db_blocker):
    """A WAL SQLite file behind a Django connection (the test database is in memory, where
    SQLite's cross-connection locking differs), and a second, plain connection to it: the
    other process."""
    path = tmp_path / "outbox.sqlite3"
    other = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("CREATE TABLE counter (n INTEGER)")
    other.execute("INSERT INTO counter VALUES (0)")
    settings = {
        **connection.settings_dict,
        "NAME": str(path),
        "OPTIONS": {"timeout": 5, "init_command": "PRAGMA journal_mode=WAL;"},
        "TEST": {},
    }
    connections[ALIAS] = DatabaseWrapper(settings, ALIAS)
    try:
        with django_db_blocker.unblock():  # a database of its own, not the test database
            yield other
    finally:
        connections[ALIAS].close()
        del connections[ALIAS]
        other.close()


def _read_then_write(begin) -> int:
    """What claim_due does: read the rows, then update them, in one transaction."""
    with begin(using=ALIAS), connections[ALIAS].cursor() as cursor:
        cursor.execute("SELECT n FROM counter")
        (n,) = cursor.fetchone()
        cursor.execute("UPDATE counter SET n = %s", [n + 1])
    with connections[ALIAS].cursor() as cursor:
        cursor.execute("SELECT n FROM counter")
        return cursor.fetchone()[0]


def _other_writer_holds_the_lock(other, started: threading.Event) -> threading.Thread:
    """The other process: takes the write lock, and commits an update 0.3 s later."""

    def run():
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE counter SET n = n + 10")
        started.set()
        threading.Event().wait(0.3)
        other.execute("COMMIT")

    thread = threading.Thread(target=run)
    thread.start()
    started.wait(5)
    return thread


def test_a_deferred_transaction_fails_when_another_process_wrote_in_between(file_db):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's locking")
    thread = _other_writer_holds_the_lock(file_db, threading.Event())
    # The read sees the old row; the write then cannot be upgraded: no busy wait helps.
    with pytest.raises(OperationalError, match="locked"):
        _read_then_write(transaction.atomic)
    thread.join()


def test_the_outbox_writers_wait_for_the_other_process_and_read_its_rows(file_db):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's locking")
    thread = _other_writer_holds_the_lock(file_db, threading.Event())
    assert _read_then_write(actions.write_transaction) == 11  # waited, read 10, wrote 11
    thread.join()
    # A nested call joins the outer transaction; the connection's own mode is left as it was.
    assert connections[ALIAS].transaction_mode is None
    with transaction.atomic(using=ALIAS), actions.write_transaction(using=ALIAS):
        assert connections[ALIAS].in_atomic_block
