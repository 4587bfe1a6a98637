"""Benchmark: send N SMS through a real Kannel gateway on loopback (issue 16: >= 500/s
sustained for 100k messages, none lost when the gateway is killed and restarted mid-run).

    PYTHONPATH=src .venv/bin/python benchmarks/sms_send.py [--messages 100000] [--batch 500]
        [--concurrency 16] [--kill-at 50000] [--home /tmp/kc-sms-bench]
        [--listener thread|process] [--senders N] [--profile] [--transport http|smpp]

A fresh database gets N customers and one queued message each: SQLite under --home, or the
PostgreSQL database DATABASE_URL names (dropped and created again: give it a database of its
own, e.g. postgres://postgres@127.0.0.1:5432/kc_sms_bench). Kannel (bearerbox + smsbox +
fakesmsc) starts on free ports with the receipt listener -- a thread of this process
(``--listener thread``) or ``keycare sms_receipts`` in its own process, as deployed
(``--listener process``). The outbox is sent batch by batch (claim, send-time rules,
concurrent HTTP submits, record): in this process (``--senders 0``) or by N sender
processes (``--senders N``; claims are exclusive, so they share the queue). With --kill-at K the gateway is stopped once K messages are
claimed and restarted 3 s later; sending resumes when it is back. Reported: submit rate
(messages handed to the gateway per second of sending), end-to-end rate (until every
delivery receipt is recorded), messages the SMSC received, duplicates, final states.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--kill-at", type=int, default=0)
    parser.add_argument("--home", default="/tmp/kc-sms-bench")
    parser.add_argument(
        "--profile", action="store_true", help="report wall time per phase and CPU per process"
    )
    parser.add_argument(
        "--listener",
        choices=("thread", "process"),
        default="thread",
        help="receipt listener in a thread of the sender, or `keycare sms_receipts` alone",
    )
    parser.add_argument(
        "--senders", type=int, default=0, help="sender processes (0: send in this process)"
    )
    parser.add_argument(
        "--transport",
        choices=("http", "smpp"),
        default="http",
        help="http: Kannel sendsms; smpp: KeyCare's SMPP client through Jasmin + drive_smpp "
        "(in-process sender; receipts are the SMSC's ACCEPTD, docs/messaging.md)",
    )
    parser.add_argument("--role", default="main", help=argparse.SUPPRESS)  # a sender process
    parser.add_argument("--gateway-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--dlr-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--status-url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    home = Path(args.home)
    os.environ["KEYCARE_HOME"] = str(home)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keycare.config.settings")
    if args.role == "sender":
        return _sender_process(args)
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    _fresh_postgres()
    import django

    django.setup()
    from django.core.management import call_command

    t0 = time.monotonic()
    call_command("migrate", verbosity=0)
    print(f"migrated in {time.monotonic() - t0:.1f} s", flush=True)
    t0 = time.monotonic()
    _fill(args.messages)
    print(f"outbox filled: {args.messages} messages in {time.monotonic() - t0:.1f} s", flush=True)
    result = _send_smpp(args, home) if args.transport == "smpp" else _send(args, home)
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


def _fresh_postgres() -> None:
    """DATABASE_URL's PostgreSQL database dropped and created again (none: SQLite)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        return
    import dj_database_url
    import psycopg
    from psycopg import sql

    db = dj_database_url.parse(url)
    name = db["NAME"]
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"] or "postgres",
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _fill(n: int) -> None:
    from datetime import date

    from keycare.customers.models import Customer
    from keycare.messaging.models import SmsMessage
    from keycare.moments.models import MomentDefinition
    from keycare.org.models import City, County, Grid, Province

    province = Province.objects.create(code="JS", name="江苏省")
    city = City.objects.create(code="C025", name="南京市", province=province)
    county = County.objects.create(code="X025", name="玄武区", city=city)
    grid = Grid.objects.create(code="G025", name="一网格", county=county, city=city)
    # The service window all day, so the benchmark measures sending, not the clock.
    MomentDefinition.objects.create(
        code="N01", name_zh="免打扰", name_en="DND", category="no_service", cycle="daily",
        priority=100, channel="call", sms_allowed=False, strategy="", script="",
        sms_template="", condition={}, current_version=1,
        thresholds={"service_start": "00:00", "service_end": "00:00"},
    )  # fmt: skip
    day = date(2026, 11, 22)
    for start in range(0, n, 5000):
        customers = Customer.objects.bulk_create(
            Customer(
                subscriber_id=f"B{i:08d}",
                msisdn=f"139{i:08d}",
                name="客户",
                join_date=day,
                city=city,
                county=county,
                grid=grid,
                brand="gotone",
                plan_code="P188",
                plan_fee=188,
                payment_type="postpaid",
                status="active",
                status_date=day,
                value_tier="mid_high",
                attributes={},
                row_hash=str(i),
            )  # fmt: skip
            for i in range(start, min(start + 5000, n))
        )
        SmsMessage.objects.bulk_create(
            SmsMessage(
                customer=c,
                city=city,
                business_date=day,
                moment_codes=["A04"],
                recipient=c.msisdn,
                text="尊敬的客户，您的账户余额不足，请及时充值，以免影响使用。",
                idempotency_key=f"bench:{c.subscriber_id}",
            )  # fmt: skip
            for c in customers
        )


def _send(args, home: Path) -> dict:
    from keycare.messaging import kannel
    from keycare.messaging.gateway import GatewayConfig, KannelClient
    from keycare.messaging.receipts import ReceiptListener
    from keycare.messaging.sender import Sender, state_counts

    gateway = kannel.KannelGateway(home / "kannel")
    gateway.write_config()
    gateway.start()
    children: dict = {}  # name -> Popen (listener and sender processes)
    if args.listener == "process":
        port = kannel.free_port()
        children["sms_receipts"] = subprocess.Popen(
            [sys.executable, "-m", "keycare.cli", "sms_receipts", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=open(home / "sms_receipts.log", "w"),  # noqa: SIM115
        )
        kannel._wait_port(port, 60, "receipt listener")
        listener, dlr_url = None, f"http://127.0.0.1:{port}/dlr"
    else:
        listener = ReceiptListener().start()
        dlr_url = listener.url
    config = GatewayConfig.from_url(
        gateway.sendsms_url, dlr_url=dlr_url, status_url=gateway.status_url
    )
    config = GatewayConfig(**{**config.__dict__, "concurrency": args.concurrency})
    sender = phases = None
    if args.senders:
        for n in range(args.senders):
            children[f"sender{n + 1}"] = _spawn_sender(args, gateway, dlr_url)
        for name, child in children.items():
            if name.startswith("sender"):
                assert child.stdout.readline().strip() == "ready", name
    else:
        sender = Sender(KannelClient(config), rate=0)
        phases = _time_phases(sender, listener) if args.profile else None
    cpu_before = _cpu(gateway, children)
    killed = threading.Event()

    def kill_if_due(claimed):
        if args.kill_at and claimed >= args.kill_at and not killed.is_set():
            killed.set()
            gateway.kill_gateway()
            print("  gateway killed; restarting in 3 s", flush=True)
            threading.Timer(3, gateway.start).start()

    def progress(summary, claimed, total):
        if summary.batches % 20 == 0 or claimed >= total:
            print(f"  {claimed}/{total} submitted {summary.sent} {summary.rate:.0f}/s", flush=True)
        kill_if_due(claimed)

    started = time.monotonic()
    if sender is not None:
        rounds = _send_until_done(sender, args.batch, progress)
    else:
        senders = {k: c for k, c in children.items() if k.startswith("sender")}
        for child in senders.values():
            child.stdin.write("go\n")
            child.stdin.flush()
        reports = {}
        last_print = 0.0
        while any(c.poll() is None for c in senders.values()):
            claimed = args.messages - _queued_count()
            kill_if_due(claimed)
            if time.monotonic() - last_print > 10:
                last_print = time.monotonic()
                print(f"  {claimed}/{args.messages} claimed", flush=True)
            time.sleep(0.2)
        for name, child in senders.items():
            lines = child.stdout.read().strip().splitlines()
            reports[name] = json.loads(lines[-1]) if lines else {}
        rounds = sum(r.get("rounds", 0) for r in reports.values())
        sent = sum(r.get("sent", 0) for r in reports.values())
    submit_done = time.monotonic() - started
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and _delivered(listener) < args.messages:
        time.sleep(0.5)
    end_to_end = time.monotonic() - started
    cpu_after = _cpu(gateway, children)
    if listener is not None:
        listener.stop()
        receipts = listener.counts
    else:
        children["sms_receipts"].terminate()
        children["sms_receipts"].wait(30)
        receipts = _receipt_counts()
    if sender is not None:
        sender.close()
        sent = sender.sent
    recipients = gateway.wait_delivered(args.messages, timeout=10)
    gateway.stop()
    states = {k: v for k, v in state_counts().items() if v}
    cpu = {k: round(v - cpu_before.get(k, 0), 1) for k, v in cpu_after.items()}
    if args.senders:
        for name, report in reports.items():
            cpu[name] = report.get("cpu", 0)
            for label, seconds in (report.get("phases") or {}).items():
                phases = phases or {}
                phases[label] = phases.get(label, 0.0) + seconds
    return {
        "messages": args.messages,
        "submitted": sent,
        "send_rounds": rounds,
        "senders": args.senders or "in-process",
        "listener": args.listener,
        "concurrency": args.concurrency,
        "batch": args.batch,
        "submit_seconds": round(submit_done, 1),
        "submit_rate": round(args.messages / submit_done, 1),
        "end_to_end_seconds": round(end_to_end, 1),
        "end_to_end_rate": round(_delivered(None) / end_to_end, 1),
        "smsc_received": len(recipients),
        "smsc_distinct": len(set(recipients)),
        "duplicates": len(recipients) - len(set(recipients)),
        "receipts": receipts,
        "states": states,
        "killed_at": args.kill_at or None,
        "cpu_seconds": cpu,
        "phase_seconds": {k: round(v, 1) for k, v in phases.items()} if phases else None,
        "load_average": os.getloadavg(),
        "database": os.environ.get("DATABASE_URL", "sqlite").split("@")[-1],
        "python": sys.version.split()[0],
    }


def _send_smpp(args, home: Path) -> dict:
    """The SMPP transport through Jasmin (its SMPP server) and Kannel's drive_smpp (SMSC):
    in-process sender; done when every message has its "accepted by SMSC" receipt."""
    import signal

    import psutil

    from keycare.messaging import jasmin
    from keycare.messaging.sender import Sender, state_counts
    from keycare.messaging.smpp import SmppClient, SmppConfig

    gateway = jasmin.JasminGateway(home / "jasmin")
    gateway.start()
    try:
        client = SmppClient(SmppConfig.from_url(gateway.smpp_url))
        sender = Sender(client, rate=0)
        killed = threading.Event()

        def cpu() -> dict:
            out = {"keycare": psutil.Process().cpu_times()}
            for name, process in gateway.processes.items():
                with contextlib.suppress(psutil.Error):
                    out[name] = psutil.Process(process.pid).cpu_times()
            return {k: v.user + v.system for k, v in out.items()}

        cpu_before = cpu()

        def progress(summary, claimed, total):
            if summary.batches % 20 == 0 or claimed >= total:
                print(
                    f"  {claimed}/{total} submitted {summary.sent} {summary.rate:.0f}/s", flush=True
                )
            if args.kill_at and claimed >= args.kill_at and not killed.is_set():
                killed.set()
                gateway.kill_gateway(signal.SIGKILL)
                print("  jasmind killed; restarting in 3 s", flush=True)
                threading.Timer(3, gateway.start).start()

        started = time.monotonic()
        rounds = _send_until_done(sender, args.batch, progress)
        submit_done = time.monotonic() - started
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and client.counts.get("receipts", 0) < args.messages:
            time.sleep(0.2)
        end_to_end = time.monotonic() - started
        cpu_after = cpu()
        sender.close()
        time.sleep(1)
        smsc = gateway.smsc_submits()
        recipients = gateway.smsc_recipients()
        states = {k: v for k, v in state_counts().items() if v}
        return {
            "transport": "smpp",
            "messages": args.messages,
            "submitted": sender.sent,
            "send_rounds": rounds,
            "window": client.config.window,
            "batch": args.batch,
            "submit_seconds": round(submit_done, 1),
            "submit_rate": round(args.messages / submit_done, 1),
            "end_to_end_seconds": round(end_to_end, 1),
            "end_to_end_rate": round(client.counts.get("receipts", 0) / end_to_end, 1),
            "smsc_submit_sm": smsc,
            "smsc_distinct": len(set(recipients)),
            "duplicates": len(recipients) - len(set(recipients)),
            "receipts": client.counts,
            "states": states,
            "killed_at": args.kill_at or None,
            "cpu_seconds": {k: round(v - cpu_before.get(k, 0), 1) for k, v in cpu_after.items()},
            "load_average": os.getloadavg(),
            "database": os.environ.get("DATABASE_URL", "sqlite").split("@")[-1],
        }
    finally:
        gateway.cleanup()


def _send_until_done(sender, batch: int, progress) -> int:
    """send_all again while the gateway was down or retries wait; the number of rounds."""
    from keycare.messaging.sender import due_count, send_all

    rounds = 0
    while True:
        summary = send_all(sender, batch=batch, progress=progress)
        rounds += 1
        sender.sent = getattr(sender, "sent", 0) + summary.sent
        if summary.stopped != "gateway_down" and not due_count() and not _waiting_retries():
            return rounds
        time.sleep(0.5)  # gateway down or retries not due yet


def _spawn_sender(args, gateway, dlr_url: str) -> subprocess.Popen:
    argv = [
        sys.executable,
        __file__,
        "--role=sender",
        f"--home={args.home}",
        f"--batch={args.batch}",
        f"--concurrency={args.concurrency}",
        f"--gateway-url={gateway.sendsms_url}",
        f"--dlr-url={dlr_url}",
        f"--status-url={gateway.status_url}",
    ]
    if args.profile:
        argv.append("--profile")
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _sender_process(args) -> int:
    """One sender process: waits for "go" on stdin, sends until nothing is left, prints a
    JSON line (messages submitted, send rounds, CPU seconds, phase times)."""
    import resource

    import django

    django.setup()
    from keycare.messaging.gateway import GatewayConfig, KannelClient
    from keycare.messaging.sender import Sender

    config = GatewayConfig.from_url(
        args.gateway_url, dlr_url=args.dlr_url, status_url=args.status_url
    )
    config = GatewayConfig(**{**config.__dict__, "concurrency": args.concurrency})
    sender = Sender(KannelClient(config), rate=0)
    phases = _time_phases(sender, None) if args.profile else None
    print("ready", flush=True)
    sys.stdin.readline()
    rounds = _send_until_done(sender, args.batch, None)
    sender.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report = {
        "sent": getattr(sender, "sent", 0),
        "rounds": rounds,
        "cpu": round(usage.ru_utime + usage.ru_stime, 1),
        "phases": phases,
    }
    print(json.dumps(report), flush=True)
    return 0


def _queued_count() -> int:
    from keycare.messaging.models import SmsMessage, SmsState

    return SmsMessage.objects.filter(state=SmsState.QUEUED).count()


def _delivered(listener) -> int:
    if listener is not None:
        return listener.counts.get("delivered", 0)
    from keycare.messaging.models import SmsMessage, SmsState

    return SmsMessage.objects.filter(state=SmsState.DELIVERED).count()


def _receipt_counts() -> dict:
    from keycare.messaging.models import SmsReceipt

    return {"receipts": SmsReceipt.objects.count()}


def _cpu(gateway, children=None) -> dict:
    """CPU seconds (user + system) of this process, of the Kannel processes and of the
    listener process so far (sender processes report their own)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    found = {"python": usage.ru_utime + usage.ru_stime}
    tick = os.sysconf("SC_CLK_TCK")
    processes = {**gateway.processes, **{k: v for k, v in (children or {}).items()}}
    for name, process in processes.items():
        if name.startswith("sender"):
            continue
        try:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[name] = (int(fields[11]) + int(fields[12])) / tick
    return found


def _time_phases(sender, listener) -> dict:
    """Wrap the sender's steps to add up their wall time (the benchmark only)."""
    from keycare.messaging import actions

    phases: dict = {}

    def timed(owner, name, label):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            t0 = time.monotonic()
            try:
                return original(*args, **kwargs)
            finally:
                phases[label] = phases.get(label, 0.0) + time.monotonic() - t0

        setattr(owner, name, wrapper)

    timed(actions, "claim_due", "claim")
    timed(actions, "release_due", "release")
    timed(sender, "_apply_rules", "rules")
    timed(sender.client, "submit_many", "http_submit")
    timed(actions, "record_submissions", "record_submissions")
    if listener is not None:
        timed(actions, "record_receipts", "record_receipts (listener thread)")
    return phases


def _waiting_retries() -> bool:
    from keycare.messaging.models import SmsMessage, SmsState

    return SmsMessage.objects.filter(state=SmsState.QUEUED).exists()


if __name__ == "__main__":
    sys.exit(main())
