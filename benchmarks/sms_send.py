"""Benchmark: send N SMS through a real Kannel gateway on loopback (issue 16: >= 500/s
sustained for 100k messages, none lost when the gateway is killed and restarted mid-run).

    PYTHONPATH=src .venv/bin/python benchmarks/sms_send.py [--messages 100000] [--batch 500]
        [--concurrency 16] [--kill-at 50000] [--home /tmp/kc-sms-bench]

A fresh embedded database (SQLite under --home, or DATABASE_URL) gets N customers and one
queued message each; Kannel (bearerbox + smsbox + fakesmsc) starts on free ports with the
receipt listener; the outbox is sent in-process batch by batch (claim, send-time rules,
concurrent HTTP submits, record). With --kill-at K the gateway is stopped once K messages are
claimed and restarted 3 s later; sending resumes when it is back. Reported: submit rate
(messages handed to the gateway per second of sending), end-to-end rate (until every
delivery receipt is recorded), messages the SMSC received, duplicates, final states.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
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
    args = parser.parse_args()
    home = Path(args.home)
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    os.environ["KEYCARE_HOME"] = str(home)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keycare.config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    t0 = time.monotonic()
    _fill(args.messages)
    print(f"outbox filled: {args.messages} messages in {time.monotonic() - t0:.1f} s", flush=True)
    result = _send(args, home)
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


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
    from keycare.messaging.sender import Sender, send_all, state_counts

    gateway = kannel.KannelGateway(home / "kannel")
    gateway.write_config()
    gateway.start()
    listener = ReceiptListener().start()
    config = GatewayConfig.from_url(
        gateway.sendsms_url, dlr_url=listener.url, status_url=gateway.status_url
    )
    config = GatewayConfig(**{**config.__dict__, "concurrency": args.concurrency})
    sender = Sender(KannelClient(config), rate=0)
    phases = _time_phases(sender) if args.profile else None
    cpu_before = _cpu(gateway)
    killed = threading.Event()

    def progress(summary, claimed, total):
        if summary.batches % 20 == 0 or claimed >= total:
            print(f"  {claimed}/{total} submitted {summary.sent} {summary.rate:.0f}/s", flush=True)
        if args.kill_at and claimed >= args.kill_at and not killed.is_set():
            killed.set()
            gateway.kill_gateway()
            print("  gateway killed; restarting in 3 s", flush=True)
            threading.Timer(3, gateway.start).start()

    started = time.monotonic()
    sent, seconds, rounds = 0, 0.0, 0
    while True:
        summary = send_all(sender, batch=args.batch, progress=progress)
        sent += summary.sent
        seconds += summary.seconds
        rounds += 1
        if summary.stopped != "gateway_down":
            from keycare.messaging.sender import due_count

            if not due_count() and not _waiting_retries():
                break
        time.sleep(0.5)  # gateway down or retries not due yet
    submit_done = time.monotonic() - started
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and listener.counts.get("delivered", 0) < args.messages:
        time.sleep(0.5)
    end_to_end = time.monotonic() - started
    cpu_after = _cpu(gateway)
    listener.stop()
    sender.close()
    recipients = gateway.wait_delivered(args.messages, timeout=10)
    gateway.stop()
    states = {k: v for k, v in state_counts().items() if v}
    cpu = {k: round(v - cpu_before.get(k, 0), 1) for k, v in cpu_after.items()}
    return {
        "messages": args.messages,
        "submitted": sent,
        "send_rounds": rounds,
        "submit_seconds": round(submit_done, 1),
        "submit_rate": round(args.messages / submit_done, 1),
        "end_to_end_seconds": round(end_to_end, 1),
        "end_to_end_rate": round(listener.counts.get("delivered", 0) / end_to_end, 1),
        "smsc_received": len(recipients),
        "smsc_distinct": len(set(recipients)),
        "duplicates": len(recipients) - len(set(recipients)),
        "receipts": listener.counts,
        "states": states,
        "killed_at": args.kill_at or None,
        "cpu_seconds": cpu,
        "phase_seconds": {k: round(v, 1) for k, v in phases.items()} if phases else None,
        "load_average": os.getloadavg(),
        "database": os.environ.get("DATABASE_URL", "sqlite").split("@")[-1],
        "python": sys.version.split()[0],
    }


def _cpu(gateway) -> dict:
    """CPU seconds (user + system) of this process and of the Kannel processes so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    found = {"python": usage.ru_utime + usage.ru_stime}
    tick = os.sysconf("SC_CLK_TCK")
    for name, process in gateway.processes.items():
        try:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[name] = (int(fields[11]) + int(fields[12])) / tick
    return found


def _time_phases(sender) -> dict:
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
    timed(actions, "record_receipts", "record_receipts (listener thread)")
    return phases


def _waiting_retries() -> bool:
    from keycare.messaging.models import SmsMessage, SmsState

    return SmsMessage.objects.filter(state=SmsState.QUEUED).exists()


if __name__ == "__main__":
    sys.exit(main())
