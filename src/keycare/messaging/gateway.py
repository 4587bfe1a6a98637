"""The SMS gateway client: Kannel's HTTP ``sendsms`` interface, with delivery reports (DLR)
requested back to KeyCare's receipt listener (``keycare.messaging.receipts``).

Why HTTP and not SMPP: Kannel's SMPP server side (``opensmppbox``) is not packaged by Debian
(``kannel-extras`` ships the fake SMSC and test tools only), so an SMPP client here would have
needed a second gateway built from source. Kannel's ``smsbox`` speaks HTTP to applications and
SMPP/CIMD/EMI to the operator's SMSCs, which is how operators deploy it (docs/messaging.md).

Configuration (environment):
``KEYCARE_SMS_GATEWAY_URL``  sendsms URL with the account, e.g.
                             ``http://keycare:secret@127.0.0.1:13013/cgi-bin/sendsms``
                             (unset: no gateway, messages stay queued)
``KEYCARE_SMS_DLR_URL``      where Kannel reports receipts (the listener), e.g.
                             ``http://127.0.0.1:13014/dlr``
``KEYCARE_SMS_SENDER``       the sender number (default 10086)
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

# DLR types asked for: 1 delivered, 2 undelivered, 8 accepted by SMSC, 16 rejected by SMSC.
DLR_MASK = 1 | 2 | 8 | 16
# Kannel's placeholders: %d type, %T time (epoch), %I Kannel's message id, %A SMSC's answer.
DLR_QUERY = "m={id}&t=%d&ts=%T&gw=%I&a=%A"


class GatewayNotConfigured(Exception):
    pass


class GatewayUnavailable(Exception):
    """The gateway could not be reached: nothing was handed over, try again later."""


@dataclass(frozen=True)
class SubmitResult:
    message_id: int
    outcome: str  # accepted | rejected | unavailable
    status: str


@dataclass(frozen=True)
class GatewayConfig:
    url: str
    username: str
    password: str
    dlr_url: str
    sender: str = "10086"
    concurrency: int = 16
    timeout: float = 5.0

    @classmethod
    def from_env(cls) -> GatewayConfig:
        url = os.environ.get("KEYCARE_SMS_GATEWAY_URL", "").strip()
        if not url:
            raise GatewayNotConfigured(
                "未配置短信网关 (KEYCARE_SMS_GATEWAY_URL not set): 短信保持待发送状态"
            )
        return cls.from_url(
            url,
            dlr_url=os.environ.get("KEYCARE_SMS_DLR_URL", ""),
            sender=os.environ.get("KEYCARE_SMS_SENDER", "10086"),
        )

    @classmethod
    def from_url(cls, url: str, *, dlr_url: str = "", sender: str = "10086") -> GatewayConfig:
        parts = urlsplit(url)
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        plain = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        return cls(plain, parts.username or "", parts.password or "", dlr_url, sender)


class KannelClient:
    """Submits messages concurrently over kept-alive HTTP connections."""

    def __init__(self, config: GatewayConfig):
        self.config = config
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=config.concurrency)
        self.session.mount("http://", adapter)
        self.pool = ThreadPoolExecutor(config.concurrency, thread_name_prefix="sms-submit")

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.session.close()

    def submit_many(self, messages) -> list[SubmitResult]:
        return list(self.pool.map(self.submit, messages))

    def submit(self, message) -> SubmitResult:
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
        try:
            response = self.session.get(self.config.url, params=params, timeout=self.config.timeout)
        except requests.RequestException as exc:
            return SubmitResult(message.pk, "unavailable", _short(exc))
        body = response.text.strip()[:64]
        if response.status_code in (200, 202):
            return SubmitResult(message.pk, "accepted", body or str(response.status_code))
        if response.status_code >= 500:  # 503 "Temporal failure": the gateway cannot take it
            return SubmitResult(message.pk, "unavailable", f"HTTP {response.status_code} {body}")
        return SubmitResult(message.pk, "rejected", f"HTTP {response.status_code} {body}")


def _short(exc: Exception) -> str:
    text = type(exc).__name__
    if isinstance(exc, requests.ConnectionError):
        text = "网关连接失败 (connection refused)"
    elif isinstance(exc, requests.Timeout):
        text = "网关响应超时 (timeout)"
    return text
