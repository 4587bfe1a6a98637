"""A local SMPP gateway on loopback for the SMPP transport: the Jasmin SMS gateway (its SMPP
server takes KeyCare's transceiver bind) routing every message to Kannel's SMPP fake SMSC
(``drive_smpp``, Debian kannel-extras) through a Jasmin SMPP client connector.

    KeyCare (smpplib ESME) --SMPP--> jasmind (SMPP server API, RabbitMQ queues, Redis)
                                      --SMPP connector--> drive_smpp (fake SMSC)

What this chain reports: ``drive_smpp`` acknowledges every ``submit_sm`` but never sends a
delivery receipt, so Jasmin is configured to send its ESME a receipt when the SMSC accepted
a message (``smpp_receipt_on_success_submit_sm_resp``: ``stat:ACCEPTD``, recorded as
"accepted by SMSC", DLR type 8) or rejected it (``UNDELIV``). No component here can report a
handset delivery (``DELIVRD``): see docs/messaging.md.

Jasmin 0.11.0, not 0.11.1: 0.11.1 fails on every ``submit_sm_resp`` (``'SubmitSM' object has
no attribute 'response'``, jookies/jasmin#1236) and so never sends an ESME any receipt.
It runs from its own virtualenv (``scripts/install-jasmin.sh``: ``KEYCARE_JASMIN_HOME``,
default /opt/keycare-jasmin), never KeyCare's. ``drive_smpp`` must reach a bearerbox as a box
on port 13001 (fixed in its code) or it exits, and it exits when its ESME disconnects: a
dummy bearerbox runs on 13001 beside it (or whatever bearerbox already listens there), and
drive_smpp is started again with Jasmin.

jasmind runs once per machine (it locks /tmp/jasmind; a killed one's stale lock is removed
at the next start). Each gateway uses its own RabbitMQ vhost (created with ``rabbitmqctl`` and deleted by
``cleanup``), free ports, a Redis database (``KEYCARE_JASMIN_REDIS_DB``, default 13) whose
Jasmin keys ``cleanup`` deletes, and a work directory holding configuration and logs.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from keycare.messaging.kannel import (
    BEARERBOX,
    _line_buffered,
    _wait_port,
    free_port,
    stop_process,
)

JASMIN_HOME = Path(os.environ.get("KEYCARE_JASMIN_HOME", "/opt/keycare-jasmin"))
DRIVE_SMPP = "/usr/lib/kannel/test/drive_smpp"
# drive_smpp connects as a box to a bearerbox on this port (fixed in its code; -c does not
# change it) and exits when it cannot: any bearerbox there will do.
DRIVE_SMPP_BOX_PORT = 13001
RABBITMQCTL = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
USERNAME = "keycare"
PASSWORD = "kc-smpp"
JCLI_USER, JCLI_PASSWORD = "jcliadmin", "jclipwd"  # Jasmin's defaults; jCli on loopback only
CONNECTOR = "fakesmsc"
REDIS_DB = int(os.environ.get("KEYCARE_JASMIN_REDIS_DB", "13"))
JASMIN_KEYS = ("dlr:*", "queue-msgid:*", "longDeliverSm:*")


def _python() -> Path:
    return JASMIN_HOME / "venv" / "bin" / "python"


def _jasmind() -> Path:
    return JASMIN_HOME / "venv" / "bin" / "jasmind.py"


def _amqp_spec() -> str:
    found = glob.glob(
        str(JASMIN_HOME / "venv/lib/python3*/site-packages/txamqp/specs/standard/amqp0-9-1*.xml")
    )
    return found[0] if found else ""


def available() -> bool:
    return (
        all(os.access(p, os.X_OK) for p in (_python(), DRIVE_SMPP, BEARERBOX, RABBITMQCTL))
        and _jasmind().exists()
        and bool(_amqp_spec())
    )


def _rabbitmqctl(*args: str) -> None:
    subprocess.run([RABBITMQCTL, "-q", *args], check=True, capture_output=True, timeout=60)


@dataclass
class JasminGateway:
    workdir: Path
    ports: dict = field(default_factory=dict)
    processes: dict = field(default_factory=dict)
    vhost: str = ""
    redis_db: int = REDIS_DB

    def __post_init__(self):
        self.workdir = Path(self.workdir)
        for name in ("smpp", "smpp_pb", "cm", "router", "jcli", "smsc", "bb_admin"):
            self.ports.setdefault(name, free_port())
        self.ports.setdefault("bb_box", DRIVE_SMPP_BOX_PORT)
        self.ports.setdefault("bb_fake", free_port())
        self.vhost = self.vhost or f"keycare-jasmin-{secrets.token_hex(4)}"
        self._vhost_made = False

    @property
    def smpp_url(self) -> str:
        """``KEYCARE_SMS_GATEWAY_URL`` for KeyCare's SMPP transport."""
        return f"smpp://{USERNAME}:{PASSWORD}@127.0.0.1:{self.ports['smpp']}"

    @property
    def etc(self) -> Path:
        return self.workdir / "etc" / "jasmin"

    @property
    def logs(self) -> Path:
        return self.workdir / "var" / "log" / "jasmin"

    def write_config(self) -> None:
        for d in (self.etc / "store", self.logs):
            d.mkdir(parents=True, exist_ok=True)
        p = self.ports
        (self.etc / "jasmin.cfg").write_text(
            f"""[smpp-server]
bind = 127.0.0.1
port = {p["smpp"]}
[smpp-server-pb]
bind = 127.0.0.1
port = {p["smpp_pb"]}
[client-management]
bind = 127.0.0.1
port = {p["cm"]}
[router]
bind = 127.0.0.1
port = {p["router"]}
[jcli]
bind = 127.0.0.1
port = {p["jcli"]}
[amqp-broker]
host = 127.0.0.1
port = 5672
vhost = {self.vhost}
spec = {_amqp_spec()}
[redis-client]
host = 127.0.0.1
port = 6379
dbid = {self.redis_db}
[dlr]
smpp_receipt_on_success_submit_sm_resp = True
""",
            encoding="utf-8",
        )
        # drive_smpp connects to a bearerbox as a box (it exits without one): a dummy one.
        w = self.workdir
        (w / "smsc.conf").write_text(
            f"""group = core
admin-port = {p["bb_admin"]}
admin-password = {PASSWORD}
smsbox-port = {p["bb_box"]}
box-allow-ip = 127.0.0.1
admin-allow-ip = 127.0.0.1
log-file = "{w}/smsc-bearerbox.log"
log-level = 2

group = smsbox
bearerbox-host = 127.0.0.1

group = smsc
smsc = fake
smsc-id = unused
port = {p["bb_fake"]}
connect-allow-ip = 127.0.0.1
""",
            encoding="utf-8",
        )

    # --- processes ----------------------------------------------------------------------

    def start(self, timeout: float = 60) -> JasminGateway:
        """Start what is not running (the fake SMSC, then Jasmin) and configure Jasmin: the
        ESME account, the connector to the SMSC and the route; return once it is bound."""
        if not (self.etc / "jasmin.cfg").exists():
            self.write_config()
        if not self._vhost_made:
            _rabbitmqctl("add_vhost", self.vhost)
            _rabbitmqctl("set_permissions", "-p", self.vhost, "guest", ".*", ".*", ".*")
            self._vhost_made = True
        if not self._alive("bearerbox") and not _listening(self.ports["bb_box"]):
            self._spawn("bearerbox", [BEARERBOX, str(self.workdir / "smsc.conf")])
            _wait_port(self.ports["bb_box"], timeout, "bearerbox (for drive_smpp)")
        if not self._alive("drive_smpp"):
            self._spawn(
                "drive_smpp",
                [
                    *_line_buffered(),
                    DRIVE_SMPP,
                    "-c",
                    str(self.workdir / "smsc.conf"),
                    "-p",
                    str(self.ports["smsc"]),
                    "-m",
                    "0",
                ],
            )
            # Not by connecting: drive_smpp exits when a connection to it closes.
            _wait_listening(self.ports["smsc"], timeout, "drive_smpp")
        if not self._alive("jasmind"):
            _break_stale_lock()
            self._spawn(
                "jasmind",
                [
                    str(_python()),
                    str(_jasmind()),
                    "-c",
                    str(self.etc / "jasmin.cfg"),
                    "--disable-http-api",
                    "--enable-dlr-lookup",
                    "--enable-dlr-thrower",
                ],
                env={**os.environ, "ROOT_PATH": str(self.workdir), "LOG_PATH": str(self.logs)},
            )
            _wait_port(self.ports["jcli"], timeout, "Jasmin jCli")
            _wait_port(self.ports["smpp"], timeout, "Jasmin SMPP server")
            self.configure()
            self._wait_bound(timeout)
        return self

    def configure(self) -> None:
        """The ESME account, the SMPP client connector to the fake SMSC, the default MT
        route (Jasmin keeps them in memory: done at every start)."""
        p = self.ports
        out = jcli(
            p["jcli"],
            [
                "group -a",
                "gid keycare",
                "ok",
                "user -a",
                f"username {USERNAME}",
                f"password {PASSWORD}",
                "gid keycare",
                f"uid {USERNAME}",
                "ok",
                "smppccm -a",
                f"cid {CONNECTOR}",
                "host 127.0.0.1",
                f"port {p['smsc']}",
                "username keycare",
                "password smsc",
                "bind transmitter",  # drive_smpp binds transmitters and receivers only
                "submit_throughput 0",
                "ok",
                f"smppccm -1 {CONNECTOR}",
                "mtrouter -a",
                "type DefaultRoute",
                f"connector smppc({CONNECTOR})",
                "rate 0",
                "order 0",
                "ok",
            ],
        )
        for expected in ("Successfully added User", "Successfully started connector"):
            if expected not in out:
                raise RuntimeError(f"Jasmin configuration failed ({expected!r} missing):\n{out}")

    def _wait_bound(self, timeout: float) -> None:
        log = self.logs / f"default-{CONNECTOR}.log"
        deadline = time.monotonic() + timeout
        start = self._bound_count(log)
        while time.monotonic() < deadline:
            if self._bound_count(log) > start or self._connector_bound():
                return
            time.sleep(0.1)
        raise RuntimeError(f"Jasmin's connector did not bind to drive_smpp (see {self.workdir})")

    def _connector_bound(self) -> bool:
        out = jcli(self.ports["jcli"], ["smppccm -l"])
        return bool(re.search(rf"#{CONNECTOR}\s+started\s+BOUND_TX", out))

    @staticmethod
    def _bound_count(log: Path) -> int:
        if not log.exists():
            return 0
        return log.read_text(errors="replace").count("Bind succeeded")

    def stop(self, names=("jasmind", "drive_smpp", "bearerbox"), sig=signal.SIGTERM) -> None:
        for name in names:
            stop_process(self.processes.pop(name, None), sig, timeout=15)

    def kill_gateway(self, sig=signal.SIGKILL) -> None:
        """The gateway goes down: Jasmin is killed (drive_smpp exits when its ESME goes and
        is started again with Jasmin)."""
        self.stop(("jasmind",), sig=sig)
        self.stop(("drive_smpp",))

    def cleanup(self) -> None:
        self.stop()
        if self._vhost_made:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                _rabbitmqctl("delete_vhost", self.vhost)
            self._vhost_made = False
        _delete_redis_keys(self.redis_db)
        shutil.rmtree(self.workdir, ignore_errors=True)

    # --- what the fake SMSC got -----------------------------------------------------------

    def smsc_submits(self) -> int:
        """submit_sm PDUs drive_smpp received (one per message part), over all its runs."""
        log = self.workdir / "drive_smpp.out"
        if not log.exists():
            return 0
        with log.open("rb") as f:
            return sum(1 for line in f if b"Handling SMPP PDU of type submit_sm" in line)

    def smsc_recipients(self) -> list[str]:
        """Recipients of the parts Jasmin handed to the SMSC and the SMSC accepted (Jasmin's
        messages.log), one per part, repeats kept."""
        log = self.logs / "messages.log"
        if not log.exists():
            return []
        found = []
        for line in log.read_text(errors="replace").splitlines():
            if f"SMS-MT [cid:{CONNECTOR}]" in line and "ESME_ROK" in line:
                match = re.search(r"\[to:b?'?(\d+)'?\]", line)
                if match:
                    found.append(match.group(1))
        return found

    def wait_smsc(self, n: int, timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while (count := self.smsc_submits()) < n and time.monotonic() < deadline:
            time.sleep(0.1)
        return count

    def _alive(self, name: str) -> bool:
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    def _spawn(self, name, argv, env=None) -> None:
        out = open(self.workdir / f"{name}.out", "ab")  # noqa: SIM115
        self.processes[name] = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env=env,
        )
        out.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


JASMIND_LOCK = Path("/tmp/jasmind.lock")  # nosec B108 - jasmind's own fixed lock path, one per machine


def _jasmind_running() -> bool:
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(cmdline, "rb") as f:
                if b"jasmind.py" in f.read():
                    return True
        except OSError:
            continue
    return False


def _break_stale_lock() -> None:
    """jasmind runs once per machine (it locks /tmp/jasmind) and a killed one leaves its lock:
    removed when no jasmind runs; another one running is an error."""
    if not JASMIND_LOCK.exists():
        return
    if _jasmind_running():
        raise RuntimeError("another jasmind runs on this machine (Jasmin allows one at a time)")
    inode = JASMIND_LOCK.stat().st_ino
    for other in JASMIND_LOCK.parent.iterdir():  # the lock's unique file, same inode
        with contextlib.suppress(OSError):
            if other != JASMIND_LOCK and other.is_file() and other.stat().st_ino == inode:
                other.unlink()
    JASMIND_LOCK.unlink(missing_ok=True)


def _wait_listening(port: int, timeout: float, what: str) -> None:
    """Until a socket listens on ``port`` (read from /proc/net/tcp, no connection made)."""
    deadline = time.monotonic() + timeout
    needle = f":{port:04X} 00000000:0000 0A"
    while time.monotonic() < deadline:
        with open("/proc/net/tcp") as f:
            if any(needle in line for line in f):
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout:.0f} s")


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def jcli(port: int, commands: list[str], timeout: float = 15) -> str:
    """Run jCli commands over its telnet port; everything it answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        buffer = b""

        def until(*prompts: bytes, anywhere: bool = False) -> bytes:
            nonlocal buffer

            def seen() -> bool:
                text = buffer.rstrip()
                return any((p in text) if anywhere else text.endswith(p) for p in prompts)

            deadline = time.monotonic() + timeout
            while not seen():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"jCli did not answer: {buffer[-300:]!r}")
                chunk = s.recv(65536)
                if not chunk:
                    break
                buffer += chunk
            out, buffer = buffer, b""
            return out

        until(b"Authentication required.", b"Username:", anywhere=True)
        s.sendall(JCLI_USER.encode() + b"\r\n")
        until(b"Password:")
        s.sendall(JCLI_PASSWORD.encode() + b"\r\n")
        answers = [until(b"jcli :")]
        for command in commands:
            s.sendall(command.encode() + b"\r\n")
            answers.append(until(b"jcli :", b">"))
        s.sendall(b"quit\r\n")
    return b"".join(answers).decode("utf-8", "replace")


def _delete_redis_keys(db: int) -> None:
    """Jasmin's keys in its Redis database (DLR mappings), nothing else."""
    try:
        import redis

        client = redis.Redis(host="127.0.0.1", port=6379, db=db, socket_timeout=5)
        for pattern in JASMIN_KEYS:
            keys = list(client.scan_iter(pattern, count=1000))
            for start in range(0, len(keys), 1000):
                client.delete(*keys[start : start + 1000])
        client.close()
    except Exception:  # noqa: S110 - Redis down: nothing to clean
        pass
