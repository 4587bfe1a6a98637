"""A local Kannel gateway on loopback: ``bearerbox`` (the core, with a file store so queued
messages survive a restart), ``smsbox`` (HTTP sendsms and the delivery-report callbacks) and
``fakesmsc`` (Kannel's fake SMSC, standing in for the operator's SMSC: it takes every message
and the fake SMSC driver reports it delivered).

Used by the tests, the benchmark and ``keycare sms_gateway`` (a gateway for the demo or a
developer). Ports are chosen free at start unless given; the configuration is generated into
``workdir``. Debian packages: kannel, kannel-extras (scripts/install-system-deps.sh).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.request import urlopen

BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
USERNAME = "keycare"
PASSWORD = "kc-loopback"


def available() -> bool:
    return all(os.access(p, os.X_OK) for p in (BEARERBOX, SMSBOX, FAKESMSC))


def _line_buffered() -> list[str]:
    stdbuf = shutil.which("stdbuf")
    return [stdbuf, "-oL", "-eL"] if stdbuf else []


def stop_process(process, sig=signal.SIGTERM, timeout: float = 10) -> None:
    """Send ``sig`` to a gateway process we started and wait for it; killed if it lingers."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
    if process.stdin:
        process.stdin.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"Kannel {what} did not open port {port} within {timeout:.0f} s")


@dataclass
class KannelGateway:
    workdir: Path
    ports: dict = field(default_factory=dict)
    processes: dict = field(default_factory=dict)

    def __post_init__(self):
        self.workdir = Path(self.workdir)
        for name in ("admin", "smsbox", "smsc", "sendsms"):
            self.ports.setdefault(name, free_port())

    @property
    def sendsms_url(self) -> str:
        return f"http://{USERNAME}:{PASSWORD}@127.0.0.1:{self.ports['sendsms']}/cgi-bin/sendsms"

    @property
    def status_url(self) -> str:
        """bearerbox's status page (``KEYCARE_SMS_STATUS_URL``: the reconciliation reads it)."""
        return f"http://127.0.0.1:{self.ports['admin']}/status.txt?password={PASSWORD}"

    @property
    def config_path(self) -> Path:
        return self.workdir / "kannel.conf"

    @property
    def delivered_log(self) -> Path:
        """fakesmsc's output: one ``Got message`` line per message the SMSC received."""
        return self.workdir / "fakesmsc.out"

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "store").mkdir(exist_ok=True)
        p, w = self.ports, self.workdir
        self.config_path.write_text(
            f"""group = core
admin-port = {p["admin"]}
admin-password = {PASSWORD}
status-password = {PASSWORD}
admin-allow-ip = 127.0.0.1
smsbox-port = {p["smsbox"]}
box-allow-ip = 127.0.0.1
log-file = "{w}/bearerbox.log"
log-level = 2
store-type = file
store-location = "{w}/store/kannel.store"
dlr-storage = internal
sms-resend-retry = -1

group = smsc
smsc = fake
smsc-id = fakesmsc
port = {p["smsc"]}
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {p["smsbox"]}
sendsms-port = {p["sendsms"]}
log-file = "{w}/smsbox.log"
log-level = 2
# Delivery reports wait and are retried while KeyCare's receipt listener is down.
http-request-retry = 30
http-queue-delay = 2
max-pending-requests = 2048

group = sendsms-user
username = {USERNAME}
password = {PASSWORD}
max-messages = 5
concatenation = true

group = sms-service
keyword = default
text = "received"
""",
            encoding="utf-8",
        )
        return self.config_path

    def start(self, timeout: float = 15) -> KannelGateway:
        """Start the three processes (or those not running) and wait until sendsms answers."""
        if not self.config_path.exists():
            self.write_config()
        if not self._alive("bearerbox"):
            # The fake SMSC connects to bearerbox and does not reconnect: a new bearerbox
            # gets a new connection from it.
            self.stop(("fakesmsc",))
            self._spawn("bearerbox", [BEARERBOX, str(self.config_path)])
            _wait_port(self.ports["admin"], timeout, "bearerbox")
            _wait_port(self.ports["smsc"], timeout, "fake SMSC")
        # smsbox before the SMSC: messages kept in bearerbox's store go out as soon as the
        # SMSC connects, and their delivery reports need an smsbox to reach KeyCare.
        if not self._alive("smsbox"):
            self._spawn("smsbox", [SMSBOX, str(self.config_path)])
            _wait_port(self.ports["sendsms"], timeout, "smsbox")
        if not self._alive("fakesmsc"):
            self._spawn(
                "fakesmsc",
                # Line-buffered: its log must survive it being stopped (the tests count it).
                [*_line_buffered(), FAKESMSC, "-H", "127.0.0.1", "-r", str(self.ports["smsc"])],
                stdin=subprocess.PIPE,  # interactive mode: it waits on stdin for MO messages
                stdout_path=self.delivered_log,
            )
        self._wait_ready(timeout)
        return self

    def status(self) -> str:
        """bearerbox's status page (text): boxes and SMSC connections."""
        try:
            # An http URL built here to our own loopback bearerbox: no user-given scheme.
            with urlopen(self.status_url, timeout=2) as response:  # nosec B310
                return response.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def _wait_ready(self, timeout: float) -> None:
        """Until smsbox is connected and the SMSC on-line: a report produced before that
        would find no smsbox to carry it to KeyCare."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.status()
            if "smsbox:" in text and "(online" in text:
                return
            time.sleep(0.05)
        raise RuntimeError(f"Kannel not ready within {timeout:.0f} s (see {self.workdir})")

    def stop(self, names=("smsbox", "fakesmsc", "bearerbox"), sig=signal.SIGTERM) -> None:
        for name in names:
            stop_process(self.processes.pop(name, None), sig, timeout=10)

    def kill_gateway(self, sig=signal.SIGTERM) -> None:
        """The gateway goes down (bearerbox and smsbox); the SMSC stays."""
        self.stop(("smsbox", "bearerbox"), sig=sig)

    def delivered_count(self) -> int:
        if not self.delivered_log.exists():
            return 0
        with self.delivered_log.open("rb") as f:
            return sum(1 for line in f if b"Got message" in line)

    def delivered_recipients(self) -> list[str]:
        """Recipients of the messages the SMSC received, one per message (repeats kept)."""
        found = []
        if self.delivered_log.exists():
            for line in self.delivered_log.read_text(errors="replace").splitlines():
                if "Got message" in line and "<" in line:
                    parts = line.split("<", 1)[1].split()
                    if len(parts) >= 2:
                        found.append(parts[1])
        return found

    def wait_delivered(self, n: int, timeout: float = 10) -> list[str]:
        """The SMSC's recipients once it has logged ``n`` messages (it logs a moment after
        the gateway reports them delivered), or what it has at the timeout."""
        deadline = time.monotonic() + timeout
        while len(found := self.delivered_recipients()) < n and time.monotonic() < deadline:
            time.sleep(0.1)
        return found

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _alive(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    def _spawn(self, name, argv, stdin=subprocess.DEVNULL, stdout_path=None) -> None:
        out = open(stdout_path or self.workdir / f"{name}.out", "ab")  # noqa: SIM115
        self.processes[name] = subprocess.Popen(
            argv, stdin=stdin, stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir
        )
        out.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
