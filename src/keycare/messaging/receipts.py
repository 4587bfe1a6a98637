"""The delivery-report listener: Kannel calls ``GET /dlr?m=<message>&t=<type>&ts=<epoch>&gw=
<gateway id>&a=<SMSC answer>`` for each report; the listener answers at once and a writer
thread records the reports in batches (``actions.record_receipts``), so a burst of thousands
of reports a second costs a few transactions.

Bound to loopback by default: Kannel runs beside KeyCare. ``keycare sms_receipts`` runs it
alone; ``keycare sms_send --listen`` and ``keycare sms_worker --listen`` run it in a thread.
"""

from __future__ import annotations

import logging
import queue
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from django.db import close_old_connections

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


class _Server(ThreadingHTTPServer):
    # smsbox sends reports in bursts of thousands: a short accept queue resets connections.
    request_queue_size = 1024
    daemon_threads = True


class ReceiptListener:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.queue: queue.Queue = queue.Queue()
        self.recorded = 0
        self.counts: dict[str, int] = {}
        self._stop = threading.Event()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # kept-alive connections: smsbox reuses them

            def do_GET(self):
                receipt = parse_receipt(self.path)
                if receipt is None:
                    self.send_response(400)
                    self.send_header("Content-Length", "22")
                    self.end_headers()
                    self.wfile.write(b"not a delivery report\n")
                    return
                listener.queue.put(receipt)
                self.send_response(200)
                self.send_header("Content-Length", "3")
                self.end_headers()
                self.wfile.write(b"ok\n")

            def log_message(self, *args):  # Kannel's retries would flood the terminal
                pass

        self.server = _Server((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}/dlr"
        self._threads = [
            threading.Thread(target=self.server.serve_forever, name="dlr-http", daemon=True),
            threading.Thread(target=self._write_loop, name="dlr-writer", daemon=True),
        ]

    def start(self) -> ReceiptListener:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self.server.shutdown()
        self.server.server_close()
        self._stop.set()
        self._threads[1].join(timeout=30)

    def _write_loop(self) -> None:
        try:
            while not (self._stop.is_set() and self.queue.empty()):
                batch = self._take()
                if batch:
                    self._record(batch)
        finally:
            close_old_connections()

    def _take(self) -> list[dict]:
        try:
            batch = [self.queue.get(timeout=FLUSH_SECONDS)]
        except queue.Empty:
            return []
        while len(batch) < FLUSH_MAX:
            try:
                batch.append(self.queue.get_nowait())
            except queue.Empty:
                break
        return batch

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
