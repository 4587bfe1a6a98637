"""The SMS gateway client: Kannel's HTTP ``sendsms`` interface, with delivery reports (DLR)
requested back to KeyCare's receipt listener (``keycare.messaging.receipts``).

Kannel's SMPP server side (``opensmppbox``) is not packaged by Debian, so Kannel is reached
over HTTP: its ``smsbox`` speaks HTTP to applications and SMPP/CIMD/EMI to the operator's
SMSCs, which is how operators deploy it. An ``smpp://`` gateway URL selects the SMPP
transport instead (``keycare.messaging.smpp``, tested through Jasmin; docs/messaging.md).

Configuration (environment):
``KEYCARE_SMS_GATEWAY_URL``  sendsms URL with the account, e.g.
                             ``http://keycare:secret@127.0.0.1:13013/cgi-bin/sendsms``
                             (unset: no gateway, messages stay queued)
``KEYCARE_SMS_DLR_URL``      where Kannel reports receipts (the listener), e.g.
                             ``http://127.0.0.1:13014/dlr``
``KEYCARE_SMS_SENDER``       the sender number (default 10086)
``KEYCARE_SMS_STATUS_URL``   bearerbox's status page, e.g.
                             ``http://127.0.0.1:13000/status.txt?password=...`` (unset: the
                             reconciliation of pending submits waits, see actions.reconcile)

A submit that times out after the request left may have been taken by the gateway: it is
answered ``unknown`` (never ``unavailable``), and the message is not sent again until the
reconciliation proves the gateway did not take it.
"""

from __future__ import annotations

import http.client
import os
import re
import select
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from django.utils import timezone

# DLR types asked for: 1 delivered, 2 undelivered, 8 accepted by SMSC, 16 rejected by SMSC.
DLR_MASK = 1 | 2 | 8 | 16
# Kannel's placeholders: %d type, %T time (epoch), %I Kannel's message id, %A SMSC's answer.
DLR_QUERY = "m={id}&t=%d&ts=%T&gw=%I&a=%A"


class GatewayNotConfigured(Exception):
    pass


class GatewayUnavailable(Exception):
    """The gateway could not be reached: nothing was handed over, try again later."""


def configured_url() -> str:
    """``KEYCARE_SMS_GATEWAY_URL`` (either transport); refused with a clear message when unset."""
    url = os.environ.get("KEYCARE_SMS_GATEWAY_URL", "").strip()
    if not url:
        raise GatewayNotConfigured(
            "未配置短信网关 (KEYCARE_SMS_GATEWAY_URL not set): 短信保持待发送状态"
        )
    return url


@dataclass(frozen=True)
class SubmitResult:
    message_id: int
    outcome: str  # accepted | rejected | unavailable (not handed over) | unknown (may have been)
    status: str
    gateway_id: str = ""  # the gateway's id when the submit answer carries one (SMPP)


@dataclass(frozen=True)
class GatewayStatus:
    """What bearerbox's status page says: since when the gateway (bearerbox and every smsbox)
    has run without a restart, and how many messages wait inside it (store and queues)."""

    up_since: datetime
    waiting: int


_UPTIME = re.compile(r"(\d+)d (\d+)h (\d+)m (\d+)s")


def parse_status(text: str, now: datetime | None = None) -> GatewayStatus | None:
    """bearerbox's ``status.txt`` as a GatewayStatus; None when it is not running."""
    now = now or timezone.now()
    running = re.search(r"Status: running, uptime " + _UPTIME.pattern, text)
    boxes = re.findall(r"smsbox:.*\(on-line " + _UPTIME.pattern + r"\)", text)
    if not running or not boxes:
        return None
    seconds = [
        int(d) * 86400 + int(h) * 3600 + int(m) * 60 + int(s)
        for d, h, m, s in [running.groups(), *boxes]
    ]
    store = re.search(r"store size (\d+)", text)
    # Boxes' and SMSC connections' queues (not the DLR storage: it holds every message
    # waiting for its handset's report, which can take days).
    queued = re.findall(r"\((\d+) queued\)|queued (\d+) msgs", text)
    waiting = int(store.group(1)) if store else 0
    waiting += sum(int(a or b) for a, b in queued)
    # Uptimes are whole seconds, rounded down: the start read is at or after the real one,
    # so "up since before the submit" is never claimed when it was not.
    return GatewayStatus(now - timedelta(seconds=min(seconds)), waiting)


@dataclass(frozen=True)
class GatewayConfig:
    url: str
    username: str
    password: str
    dlr_url: str
    sender: str = "10086"
    concurrency: int = 16
    timeout: float = 5.0
    status_url: str = ""

    @classmethod
    def from_env(cls) -> GatewayConfig:
        url = configured_url()
        return cls.from_url(
            url,
            dlr_url=os.environ.get("KEYCARE_SMS_DLR_URL", ""),
            sender=os.environ.get("KEYCARE_SMS_SENDER", "10086"),
            status_url=os.environ.get("KEYCARE_SMS_STATUS_URL", ""),
        )

    @classmethod
    def from_url(
        cls, url: str, *, dlr_url: str = "", sender: str = "10086", status_url: str = ""
    ) -> GatewayConfig:
        parts = urlsplit(url)
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        plain = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        return cls(
            plain,
            parts.username or "",
            parts.password or "",
            dlr_url,
            sender,
            status_url=status_url,
        )


class KannelClient:
    """Submits messages concurrently, each submitting thread over its own kept-alive HTTP
    connection (``http.client``: a sendsms request costs a fraction of the CPU it costs through
    ``requests``, which matters when the sender shares two cores with Kannel, see
    docs/performance.md)."""

    def __init__(self, config: GatewayConfig):
        self.config = config
        parts = urlsplit(config.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = parts.path or "/"
        self.session = requests.Session()  # the status page only
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(config.concurrency, thread_name_prefix="sms-submit")

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.session.close()

    def status(self) -> GatewayStatus | None:
        """The gateway's status (None: not configured or not reachable)."""
        if not self.config.status_url:
            return None
        try:
            response = self.session.get(self.config.status_url, timeout=self.config.timeout)
        except requests.RequestException:
            return None
        return parse_status(response.text) if response.status_code == 200 else None

    def submit_many(self, messages) -> list[SubmitResult]:
        return list(self.pool.map(self.submit, messages))

    def query(self, message) -> str:
        params = {
            "username": self.config.username,
            "password": self.config.password,
            "from": self.config.sender,
            "to": message.recipient,
            "text": message.text,
            "charset": "UTF-8",
            "coding": "2",  # UCS-2: Chinese text
        }
        if self.config.dlr_url:
            params["dlr-mask"] = str(DLR_MASK)
            params["dlr-url"] = f"{self.config.dlr_url}?{DLR_QUERY.format(id=message.pk)}"
        return urlencode(params)

    def submit(self, message) -> SubmitResult:
        try:
            connection = self._connection()
        except OSError as exc:  # refused, or no connection within the timeout: nothing left
            return SubmitResult(message.pk, "unavailable", _short(exc, sent=False))
        try:
            connection.request("GET", f"{self.path}?{self.query(message)}")
            response = connection.getresponse()
            body = response.read().decode("utf-8", "replace").strip()[:64]
        except (OSError, http.client.HTTPException) as exc:
            # The request left: the gateway may have taken it (actions.reconcile decides).
            connection.close()
            self.local.connection = None
            return SubmitResult(message.pk, "unknown", _short(exc, sent=True))
        if response.will_close:
            connection.close()
            self.local.connection = None
        return _answer(message.pk, response.status, body)

    def _connection(self) -> http.client.HTTPConnection:
        """This thread's connection, connected; a kept-alive one the gateway closed meanwhile
        is replaced before anything is sent on it (so a restart never looks like a lost
        request)."""
        connection = getattr(self.local, "connection", None)
        if connection is not None and (connection.sock is None or _dropped(connection.sock)):
            connection.close()
            connection = None
        if connection is None:
            connection = http.client.HTTPConnection(
                self.host, self.port, timeout=self.config.timeout
            )
            connection.connect()
            self.local.connection = connection
        return connection


def _dropped(sock) -> bool:
    """An idle kept-alive socket that is readable has been closed by the other side."""
    readable, _w, _x = select.select([sock], [], [], 0)
    return bool(readable)


def _answer(message_id: int, status: int, body: str) -> SubmitResult:
    if status in (200, 202):
        return SubmitResult(message_id, "accepted", body or str(status))
    if status >= 500:  # 503 "Temporal failure": the gateway cannot take it
        return SubmitResult(message_id, "unavailable", f"HTTP {status} {body}")
    return SubmitResult(message_id, "rejected", f"HTTP {status} {body}")


def _short(exc: Exception, *, sent: bool) -> str:
    if isinstance(exc, TimeoutError):
        return "网关响应超时 (timeout)" if sent else "网关连接超时 (connect timeout)"
    if sent:
        return f"网关连接中断 (connection dropped: {type(exc).__name__})"
    return f"网关连接失败 ({type(exc).__name__})"
