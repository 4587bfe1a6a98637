"""The receipt listener's HTTP side (Kannel's dlr-url callbacks over kept-alive HTTP/1.1)."""

from __future__ import annotations

import http.client
import socket
import time

from keycare.messaging.receipts import ReceiptListener


def _listener(got: list) -> ReceiptListener:
    listener = ReceiptListener()
    listener._record = got.extend  # the HTTP side only: no database
    return listener  # started by "with"


def test_reports_on_one_kept_alive_connection_and_bad_requests_answered_400():
    got: list = []
    with _listener(got) as listener:
        connection = http.client.HTTPConnection("127.0.0.1", listener.port, timeout=5)
        for n in range(3):
            connection.request("GET", f"/dlr?m={n + 1}&t=8&ts=1700000000&gw=k{n}&a=ACK%2F")
            response = connection.getresponse()
            assert (response.status, response.read()) == (200, b"ok\n")
        connection.request("GET", "/dlr?m=x&t=1")
        response = connection.getresponse()
        assert (response.status, response.read()) == (400, b"not a delivery report\n")
        connection.request("POST", "/dlr?m=4&t=1", body=b"ignored")  # not a GET: refused
        assert connection.getresponse().status == 400
        connection.close()
        deadline = time.monotonic() + 5
        while len(got) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert [(r["message_id"], r["dlr_type"], r["gateway_id"], r["detail"]) for r in got] == [
        (1, 8, "k0", "ACK/"),
        (2, 8, "k1", "ACK/"),
        (3, 8, "k2", "ACK/"),
    ]


def test_http_1_0_closes_and_garbage_is_refused():
    with _listener([]) as listener:
        with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as s:
            s.sendall(b"GET /dlr?m=1&t=1&ts=1 HTTP/1.0\r\n\r\n")
            answer = b""
            while chunk := s.recv(1024):  # the server closes after an HTTP/1.0 answer
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 OK")
        with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as s:
            s.sendall(b"hello\r\n\r\n")
            assert s.recv(1024).startswith(b"HTTP/1.1 400")
        with socket.create_connection(("127.0.0.1", listener.port), timeout=5) as s:
            s.sendall(b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n")
            assert s.recv(1024).startswith(b"HTTP/1.1 431")
