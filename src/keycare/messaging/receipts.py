"""The delivery-report listener: Kannel calls ``GET /dlr?m=<message>&t=<type>&ts=<epoch>&gw=
<gateway id>&a=<SMSC answer>`` for each report; the listener answers at once and a writer
thread records the reports in batches (``actions.record_receipts``), so a burst of thousands
of reports a second costs a few transactions.

Bound to loopback by default: Kannel runs beside KeyCare. ``keycare sms_receipts`` runs it
alone; ``keycare sms_send --listen`` and ``keycare sms_worker --listen`` run it in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import socket
import threading
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from django.db import close_old_connections, connections

from keycare.messaging import actions

logger = logging.getLogger(__name__)
FLUSH_SECONDS = 0.2
FLUSH_MAX = 2000


def parse_receipt(path: str) -> dict | None:
    """One DLR callback's query as a receipt dict; None when it is not one."""
    query = parse_qs(urlsplit(path).query)

    def one(name):
        values = query.get(name)
        return values[0] if values else ""

    try:
        message_id, dlr_type = int(one("m")), int(one("t"))
    except ValueError:
        return None
    try:
        reported_at = datetime.fromtimestamp(int(one("ts")), tz=UTC)
    except (ValueError, OverflowError, OSError):
        reported_at = None
    return {
        "message_id": message_id,
        "dlr_type": dlr_type,
        "gateway_id": one("gw"),
        "detail": one("a"),
        "reported_at": reported_at,
    }


def _answer(head: bytes, reports: queue.Queue) -> tuple[bytes, bool, int]:
    """One request's head -> (the response, keep the connection open, body length to skip).
    A delivery report (GET /dlr?m=...) is queued for the writer thread."""
    line, _, header_block = head.partition(b"\r\n")
    parts = line.split()
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        return _BAD, False, 0
    method, target, version = parts
    length, connection = 0, b""
    for header in header_block.lower().split(b"\r\n"):
        name, _, value = header.partition(b":")
        if name == b"content-length":
            try:
                length = max(0, int(value.strip()))
            except ValueError:
                return _BAD, False, 0
        elif name == b"connection":
            connection = value.strip()
    keep_alive = connection != b"close" and (version != b"HTTP/1.0" or connection == b"keep-alive")
    receipt = parse_receipt(target.decode("latin-1")) if method == b"GET" else None
    if receipt is None:
        return _BAD, keep_alive, length
    reports.put(receipt)
    return _OK, keep_alive, length


_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"
_BAD = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 22\r\n\r\nnot a delivery report\n"
_TOO_BIG = b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n"
_HEAD_LIMIT = 16 * 1024  # a report's request is a few hundred bytes
# smsbox sends reports in bursts of thousands: a short accept queue resets connections.
_BACKLOG = 1024


class ReceiptListener:
    """Kannel's callbacks over kept-alive HTTP/1.1 connections, served by one asyncio loop in
    a thread that reads only what a report needs (the request line; Content-Length and
    Connection). ``http.server`` (a thread per connection, every header parsed by the email
    package) cost ~250 µs of CPU a report, the largest share of the listener's CPU at a few
    hundred messages a second (docs/performance.md); this costs a fraction of that."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.queue: queue.Queue = queue.Queue()
        self.recorded = 0
        self.counts: dict[str, int] = {}
        self._stop = threading.Event()
        self._socket = socket.create_server((host, port), backlog=_BACKLOG)
        self.port = self._socket.getsockname()[1]
        self.url = f"http://{host}:{self.port}/dlr"
        self._loop = asyncio.new_event_loop()
        self._server = None
        self._serving = threading.Event()
        self._threads = [
            threading.Thread(target=self._serve_forever, name="dlr-http", daemon=True),
            threading.Thread(target=self._write_loop, name="dlr-writer", daemon=True),
        ]

    def start(self) -> ReceiptListener:
        for thread in self._threads:
            thread.start()
        self._serving.wait(10)
        return self

    def stop(self) -> None:
        if self._stop.is_set():
            return
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._threads[0].join(timeout=10)
        self._socket.close()
        self._stop.set()
        self._threads[1].join(timeout=30)

    def _serve_forever(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def serve():
            self._server = await asyncio.start_server(
                self._connection, sock=self._socket, limit=_HEAD_LIMIT
            )
            self._serving.set()

        try:
            self._loop.run_until_complete(serve())
            self._loop.run_forever()
        finally:
            self._serving.set()
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.close()

    async def _connection(self, reader, writer) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.LimitOverrunError:
                    writer.write(_TOO_BIG)
                    break
                answer, keep_alive, length = _answer(head, self.queue)
                if length:  # a body (a report has none): read and ignore it
                    await reader.readexactly(length)
                writer.write(answer)
                if not keep_alive:
                    break
                if writer.transport.get_write_buffer_size() > 65536:
                    await writer.drain()
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def _write_loop(self) -> None:
        try:
            while not (self._stop.is_set() and self.queue.empty()):
                batch = take_batch(self.queue)
                if batch:
                    self._record(batch)
        finally:
            # close_old_connections() keeps a healthy connection for CONN_MAX_AGE: the thread
            # ends here, so its connection would linger (and hold the database) until then
            connections.close_all()

    def _record(self, batch: list[dict]) -> None:
        try:
            with actions.db_turn():
                counts = actions.record_receipts(batch)
        except Exception:  # a database hiccup: keep the reports and try again
            logger.exception("recording %d delivery reports failed; retrying", len(batch))
            close_old_connections()
            for receipt in batch:
                self.queue.put(receipt)
            self._stop.wait(1)
            return
        self.recorded += len(batch)
        for key, value in counts.items():
            self.counts[key] = self.counts.get(key, 0) + value

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def take_batch(source: queue.Queue) -> list:
    """What waits in ``source``, up to ``FLUSH_MAX`` items, waiting ``FLUSH_SECONDS`` for the
    first: the writer threads record receipts in batches (one transaction each)."""
    try:
        batch = [source.get(timeout=FLUSH_SECONDS)]
    except queue.Empty:
        return []
    while len(batch) < FLUSH_MAX:
        try:
            batch.append(source.get_nowait())
        except queue.Empty:
            break
    return batch
