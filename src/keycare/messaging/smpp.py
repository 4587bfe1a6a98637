"""The SMPP transport: KeyCare as the ESME, bound as a transceiver (``smpplib``) to an SMPP
server (the operator's SMSC or an SMS gateway such as Jasmin, ``keycare.messaging.jasmin``).

Chosen by the gateway URL's scheme (``sender.client_from_env``):
``KEYCARE_SMS_GATEWAY_URL=smpp://<system_id>:<password>@127.0.0.1:2775`` (optional query:
``?window=64&timeout=5&enquire_link=10``); an ``http://`` URL keeps Kannel's sendsms
(``gateway.KannelClient``). It offers what the sender uses from ``KannelClient``:
``submit_many`` (one ``gateway.SubmitResult`` per message), ``status`` and ``close``.

* One transceiver session per client, opened on the first submit and again after it broke.
  Submits are windowed: up to ``window`` ``submit_sm`` wait for their ``submit_sm_resp`` at
  once (a reader thread takes the responses), so throughput does not wait on round trips.
* ``registered_delivery=1``; UCS-2 (data_coding 8) for Chinese text, long texts split with a
  UDH as ``smpplib.gsm.make_parts`` does (each part is a ``submit_sm`` with its own SMPP id;
  the message's gateway id is its first part's).
* Outcomes keep the semantics of docs/messaging.md: no session (refused, bind failed, the
  connection broke before the PDU was written) -> ``unavailable`` (queued again);
  ``submit_sm`` written but no ``submit_sm_resp`` within the timeout or the session broke
  -> ``unknown`` (提交结果待核对, never resent blindly); an error status -> ``rejected``
  except throttling / queue full / system error -> ``unavailable`` (the server took nothing).
* ``deliver_sm`` receipts (esm_class "SMSC delivery receipt") arriving on the session are
  mapped back to the message (SMPP id -> message id, from the submit responses, else the
  stored gateway id) and recorded through ``actions.record_receipts`` -- the path of the HTTP
  listener -- in batches from a writer thread. ``stat``: DELIVRD -> delivered (DLR type 1),
  UNDELIV / DELETED -> undelivered (2), EXPIRED -> expired (2 with the detail), REJECTD ->
  rejected by the SMSC (16), ACCEPTD -> accepted by the SMSC (8), ENROUTE -> queued (4).
* ``enquire_link`` every ``enquire_link`` seconds of silence keeps the session alive.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import re
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm
import smpplib.smpp
from django.db import close_old_connections

from keycare.messaging import actions
from keycare.messaging.gateway import SubmitResult, configured_url
from keycare.messaging.receipts import take_batch

logger = logging.getLogger(__name__)

SCHEME = "smpp"
# Receipt ``stat`` -> the DLR type KeyCare records (actions.DLR_TYPES).
STAT_TYPES = {
    "DELIVRD": 1,
    "UNDELIV": 2,
    "DELETED": 2,
    "EXPIRED": 2,  # with "stat:EXPIRED" in the detail: recorded as expired
    "REJECTD": 16,
    "ACCEPTD": 8,
    "ENROUTE": 4,
}
# submit_sm_resp statuses after which the server holds nothing: try again later.
RETRY_STATUSES = {
    smpplib.consts.SMPP_ESME_RTHROTTLED,
    smpplib.consts.SMPP_ESME_RMSGQFUL,
    smpplib.consts.SMPP_ESME_RSYSERR,
}
_RECEIPT = re.compile(r"id:(?P<id>\S+).*?stat:(?P<stat>[A-Z]+)(?:.*?err:(?P<err>\w+))?", re.S)
ID_MAP_SIZE = 200_000  # SMPP ids remembered for receipts (older ones: looked up in the outbox)


@dataclass(frozen=True)
class SmppConfig:
    host: str
    port: int
    system_id: str
    password: str
    sender: str = "10086"
    window: int = 64  # submit_sm awaiting their response at once
    timeout: float = 5.0  # connect and bind; a submit_sm_resp later than this: unknown
    enquire_link: float = 10.0  # seconds of silence before an enquire_link

    @classmethod
    def from_env(cls) -> SmppConfig:
        return cls.from_url(configured_url(), sender=os.environ.get("KEYCARE_SMS_SENDER", "10086"))

    @classmethod
    def from_url(cls, url: str, *, sender: str = "10086") -> SmppConfig:
        parts = urlsplit(url)
        if parts.scheme != SCHEME:
            raise ValueError(f"not an SMPP URL: {parts.scheme}://")
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return cls(
            parts.hostname or "127.0.0.1",
            parts.port or 2775,
            unquote(parts.username or ""),
            unquote(parts.password or ""),
            sender,
            window=int(options.get("window", 64)),
            timeout=float(options.get("timeout", 5.0)),
            enquire_link=float(options.get("enquire_link", 10.0)),
        )


def is_smpp_url(url: str) -> bool:
    return urlsplit(url.strip()).scheme == SCHEME


def parse_receipt(text: str) -> tuple[str, str, str] | None:
    """A receipt's short_message (``id:<id> sub:... stat:<stat> err:<err> ...``) as
    (SMPP id, stat, err); None when it is not one."""
    match = _RECEIPT.search(text)
    if not match:
        return None
    return match["id"], match["stat"], match["err"] or ""


def receipt_for(message_id: int, smpp_id: str, stat: str, text: str) -> dict | None:
    """The receipt dict ``actions.record_receipts`` takes; None for a stat it does not keep."""
    dlr_type = STAT_TYPES.get(stat)
    if dlr_type is None:
        return None
    return {
        "message_id": message_id,
        "dlr_type": dlr_type,
        "gateway_id": smpp_id,
        "detail": text[:500],
        "reported_at": None,
    }


@dataclass
class _Part:
    message_id: int
    done: threading.Event = field(default_factory=threading.Event)
    sent: bool = False
    status: int | None = None  # submit_sm_resp / generic_nack status; None: no answer
    smpp_id: str = ""
    released: bool = False


class _Session(smpplib.client.Client):
    """smpplib's client whose writes are serialised: the submitting thread and the reader
    thread (deliver_sm_resp, enquire_link) share the socket."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.write_lock = threading.Lock()

    def send_pdu(self, p):
        with self.write_lock:
            return super().send_pdu(p)


class SmppClient:
    def __init__(self, config: SmppConfig):
        self.config = config
        self._lock = threading.Lock()  # opening / closing the session
        self._session: _Session | None = None
        self._reader: threading.Thread | None = None
        self._pending: dict[int, _Part] = {}
        self._pending_lock = threading.Lock()
        self._window = threading.Semaphore(config.window)
        self._release_lock = threading.Lock()
        self._ids: OrderedDict[str, int] = OrderedDict()
        self._receipts: queue.Queue = queue.Queue()
        self._closing = threading.Event()
        self.recorded = 0
        self.counts: dict[str, int] = {}
        self._writer = threading.Thread(target=self._write_loop, name="smpp-dlr", daemon=True)
        self._writer.start()

    # --- the sender's interface ---------------------------------------------------------

    def status(self):
        """No status page over SMPP: pending submits wait for their receipt or the
        reconciliation's report wait (actions.reconcile with None)."""
        return None

    def close(self) -> None:
        self._closing.set()
        self._disconnect(unbind=True)
        self._writer.join(timeout=30)

    def submit_many(self, messages) -> list[SubmitResult]:
        try:
            session = self._open()
        except (OSError, smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError) as e:
            status = f"网关连接失败 ({type(e).__name__}: {e})"[:64]
            return [SubmitResult(m.pk, "unavailable", status) for m in messages]
        parts = {m.pk: [] for m in messages}
        broken = False
        for message in messages:
            for short_message, coding, esm_class in _encode(message.text):
                part = _Part(message.pk)
                parts[message.pk].append(part)
                if broken:
                    continue
                broken = not self._send(session, message, part, short_message, coding, esm_class)
        deadline = time.monotonic() + self.config.timeout
        for message_parts in parts.values():
            for part in message_parts:
                if part.sent:
                    part.done.wait(max(0.0, deadline - time.monotonic()))
        for message_parts in parts.values():
            for part in message_parts:
                if part.sent and not part.done.is_set():
                    # Unanswered: its window slot is freed; a late answer still maps its id.
                    self._release(part)
        return [self._result(pk, message_parts) for pk, message_parts in parts.items()]

    # --- submitting ---------------------------------------------------------------------

    def _send(self, session, message, part, short_message, coding, esm_class) -> bool:
        """Write one submit_sm; False when the session is gone (the part stays unsent)."""
        if not self._window.acquire(timeout=self.config.timeout):
            return False  # the server stopped answering: the rest of the batch waits
        if self._session is not session:
            self._window.release()
            return False
        pdu = smpplib.smpp.make_pdu(
            "submit_sm",
            client=session,
            source_addr_ton=smpplib.consts.SMPP_TON_UNK,
            source_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
            source_addr=self.config.sender,
            dest_addr_ton=smpplib.consts.SMPP_TON_UNK,
            dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
            destination_addr=message.recipient,
            short_message=short_message,
            data_coding=coding,
            esm_class=esm_class,
            registered_delivery=1,
        )
        with self._pending_lock:
            self._pending[pdu.sequence] = part
        try:
            session.send_pdu(pdu)
        except (OSError, smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError):
            # Not written whole: the server cannot have taken it.
            with self._pending_lock:
                self._pending.pop(pdu.sequence, None)
            self._release(part)
            self._broken(session)
            return False
        part.sent = True
        return True

    def _result(self, message_id: int, parts: list[_Part]) -> SubmitResult:
        outcomes = [_outcome(p) for p in parts]
        first = parts[0]
        if all(o == "accepted" for o in outcomes):
            return SubmitResult(message_id, "accepted", "ESME_ROK", gateway_id=first.smpp_id)
        if all(o == "unavailable" for o in outcomes):
            return SubmitResult(message_id, "unavailable", _status_text(parts))
        if "rejected" in outcomes:
            return SubmitResult(message_id, "rejected", _status_text(parts))
        # Some part left without an answer (or left while another could not): the server
        # may have it -- never resent blindly (actions.reconcile, receipts).
        return SubmitResult(message_id, "unknown", _status_text(parts))

    def _release(self, part: _Part) -> None:
        with self._release_lock:  # the submitting thread (timeout) or the reader (answer)
            if part.released:
                return
            part.released = True
        self._window.release()

    # --- the session --------------------------------------------------------------------

    def _open(self) -> _Session:
        with self._lock:
            if self._session is not None:
                return self._session
            session = _Session(
                self.config.host,
                self.config.port,
                timeout=self.config.timeout,
                allow_unknown_opt_params=True,
                logger_name="keycare.smpp",
            )
            session.set_message_sent_handler(self._on_submit_resp)
            session.set_message_received_handler(self._on_deliver)
            session.set_error_pdu_handler(self._on_error_pdu)
            try:
                session.connect()
                session.bind_transceiver(
                    system_id=self.config.system_id, password=self.config.password
                )
            except Exception:
                session.disconnect()
                raise
            session._socket.settimeout(self.config.enquire_link)
            self._session = session
            self._reader = threading.Thread(
                target=self._read_loop, args=(session,), name="smpp-reader", daemon=True
            )
            self._reader.start()
            return session

    def _read_loop(self, session: _Session) -> None:
        try:
            while self._session is session:
                session.read_once(auto_send_enquire_link=True)
                if session.state == smpplib.consts.SMPP_CLIENT_STATE_OPEN:  # unbound
                    break
        except (OSError, smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError) as e:
            if not self._closing.is_set():
                logger.warning("SMPP session to %s closed: %s", self.config.host, e)
        finally:
            self._broken(session)

    def _broken(self, session: _Session) -> None:
        """The session is gone: what waits for an answer will get none."""
        with self._lock:
            if self._session is session:
                self._session = None
        sock = session._socket
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the reader blocked in recv
        with contextlib.suppress(Exception):  # already closed
            session.disconnect()
        with self._pending_lock:
            parts, self._pending = list(self._pending.values()), {}
        for part in parts:
            self._release(part)
            part.done.set()

    def _disconnect(self, *, unbind: bool) -> None:
        session, reader = self._session, self._reader
        if session is None:
            return
        if unbind:
            try:  # the reader takes the unbind_resp and ends the session
                session.send_pdu(smpplib.smpp.make_pdu("unbind", client=session))
                if reader is not None:
                    reader.join(timeout=2)
            except Exception:  # noqa: S110 - the server may be gone already
                pass
        self._broken(session)
        if reader is not None:
            reader.join(timeout=5)

    # --- PDUs from the server (reader thread) -------------------------------------------

    def _on_submit_resp(self, pdu, **kwargs) -> None:
        with self._pending_lock:
            part = self._pending.pop(pdu.sequence, None)
        if part is None:
            return
        part.status = int(pdu.status)
        if part.status == smpplib.consts.SMPP_ESME_ROK:
            part.smpp_id = _text(getattr(pdu, "message_id", b""))
            if part.smpp_id:
                self._remember(part.smpp_id, part.message_id)
        self._release(part)
        part.done.set()

    def _on_error_pdu(self, pdu) -> None:
        """An error status: a submit_sm_resp goes on to ``_on_submit_resp``; a generic_nack
        answers the submit_sm of its sequence."""
        if pdu.command == "generic_nack":
            with self._pending_lock:
                part = self._pending.pop(pdu.sequence, None)
            if part is not None:
                part.status = int(pdu.status) or smpplib.consts.SMPP_ESME_RSYSERR
                self._release(part)
                part.done.set()

    def _on_deliver(self, pdu, **kwargs):
        text = _text(getattr(pdu, "short_message", b"") or b"")
        parsed = parse_receipt(text)
        is_receipt = (int(getattr(pdu, "esm_class", 0) or 0) & 0x3C) == 0x04
        if parsed is None or not (is_receipt or getattr(pdu, "receipted_message_id", None)):
            logger.info("SMPP deliver_sm that is not a receipt ignored (MO messages unused)")
            return smpplib.consts.SMPP_ESME_ROK
        smpp_id = _text(getattr(pdu, "receipted_message_id", b"") or b"") or parsed[0]
        self._receipts.put((smpp_id, parsed[1], text))
        return smpplib.consts.SMPP_ESME_ROK

    def _remember(self, smpp_id: str, message_id: int) -> None:
        self._ids[smpp_id] = message_id
        while len(self._ids) > ID_MAP_SIZE:
            self._ids.popitem(last=False)

    # --- recording receipts (writer thread) ---------------------------------------------

    def _write_loop(self) -> None:
        try:
            while not (self._closing.is_set() and self._receipts.empty()):
                batch = take_batch(self._receipts)
                if batch:
                    self._record(batch)
        finally:
            close_old_connections()

    def _record(self, batch: list) -> None:
        try:
            with actions.db_turn():
                ids = self._message_ids({smpp_id for smpp_id, _s, _t in batch})
                receipts = [
                    r
                    for smpp_id, stat, text in batch
                    if smpp_id in ids
                    and (r := receipt_for(ids[smpp_id], smpp_id, stat, text)) is not None
                ]
                counts = actions.record_receipts(receipts) if receipts else {}
        except Exception:  # a database hiccup: keep the receipts and try again
            logger.exception("recording %d SMPP receipts failed; retrying", len(batch))
            close_old_connections()
            for item in batch:
                self._receipts.put(item)
            self._closing.wait(1)
            return
        self.recorded += len(batch)
        for key, value in counts.items():
            self.counts[key] = self.counts.get(key, 0) + value

    def _message_ids(self, smpp_ids: set[str]) -> dict[str, int]:
        # .get: the reader thread may drop an old id between a test and a read.
        found = {i: pk for i in smpp_ids if (pk := self._ids.get(i)) is not None}
        missing = smpp_ids - found.keys()
        if missing:  # submitted by an earlier process: the stored gateway id
            from keycare.messaging.models import SmsMessage

            found.update(
                SmsMessage.objects.filter(gateway_message_id__in=missing).values_list(
                    "gateway_message_id", "pk"
                )
            )
        return found


def _encode(text: str):
    """(short_message, data_coding, esm_class) per part: GSM 7-bit or UCS-2 (8), UDH-split."""
    parts, coding, esm_class = smpplib.gsm.make_parts(text)
    return [(part, coding, esm_class) for part in parts]


def _outcome(part: _Part) -> str:
    if not part.sent:
        return "unavailable"
    if part.status is None:
        return "unknown"
    if part.status == smpplib.consts.SMPP_ESME_ROK:
        return "accepted"
    return "unavailable" if part.status in RETRY_STATUSES else "rejected"


def _status_text(parts: list[_Part]) -> str:
    for part in parts:
        if not part.sent:
            return "网关连接失败 (SMPP session lost before submit)"
        if part.status is None:
            return "网关响应超时 (no submit_sm_resp)"
        if part.status != smpplib.consts.SMPP_ESME_ROK:
            name = smpplib.consts.DESCRIPTIONS.get(part.status, "")
            return f"SMPP 0x{part.status:08X} {name}"[:64]
    return "ESME_ROK"


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1").rstrip("\x00")
    return str(value or "")
