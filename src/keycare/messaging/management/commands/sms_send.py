"""keycare sms_send: send the due messages of the outbox (短信发送).

Without ``KEYCARE_SMS_BROKER`` (the embedded default) it sends in this process, batch by
batch, with progress on the terminal. With a broker it puts send tasks on the Celery queue for
``keycare sms_worker`` and, with ``--wait``, follows the outbox until they are done. Run it
from cron every few minutes; messages waiting for a retry or for the service window are
picked up by a later run.
"""

from __future__ import annotations

import json
import math
import time

from keycare.core.commands import KeycareCommand, parse_int
from keycare.errors import UserError
from keycare.messaging import actions, queue
from keycare.messaging.gateway import GatewayNotConfigured
from keycare.messaging.models import SmsState
from keycare.messaging.sender import BATCH_SIZE, Sender, due_count, send_all, state_counts


class Command(KeycareCommand):
    help = "send the SMS outbox's due messages through the gateway (progress on the terminal)"
    needs_database = "require"

    def add_arguments(self, parser):
        parser.add_argument("--batch", default=str(BATCH_SIZE), help="messages per batch")
        parser.add_argument("--limit", help="send at most this many messages")
        parser.add_argument(
            "--listen",
            action="store_true",
            help="also receive delivery reports (on KEYCARE_SMS_DLR_URL's port) while sending",
        )
        parser.add_argument(
            "--wait", default="0", help="seconds to wait for receipts (or queued tasks) after"
        )
        parser.add_argument("--json", action="store_true", help="last stdout line: JSON summary")

    def run(self, *args, **options):
        batch = parse_int(options["batch"], "--batch", 1, 10_000)
        limit = parse_int(options["limit"], "--limit", 1, 10**9) if options["limit"] else None
        wait = parse_int(options["wait"], "--wait", 0, 86_400)
        expired = actions.expire_stale()
        if expired:
            self.stderr.write(f"已过期 {expired} 条（超过有效期仍未发出）")
        queue.configure()
        if queue.eager():
            summary = self._send_here(batch, limit, options["listen"], wait)
        else:
            summary = self._enqueue(batch, limit, wait)
        summary["states"] = state_counts()
        self.stdout.write(
            "短信状态: "
            + "，".join(f"{SmsState(s).label} {n}" for s, n in summary["states"].items() if n)
        )
        if options["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False))

    def _send_here(self, batch, limit, listen, wait) -> dict:
        try:
            sender = Sender.from_env()
        except GatewayNotConfigured as exc:
            due = due_count()
            self.stdout.write(f"{exc}；待发送 {due} 条")
            return {"mode": "in_process", "gateway": False, "due": due}
        listener = _listener() if listen else None
        try:
            summary = send_all(sender, batch=batch, limit=limit, progress=self._progress)
            if listener is not None and wait:
                _wait_receipts(listener, wait)
        finally:
            sender.close()
            if listener is not None:
                listener.stop()
        if summary.stopped == "gateway_down":
            self.stdout.write("短信网关不可用：未发出的短信留在队列中，网关恢复后下次运行再发")
        self.stdout.write(
            f"已提交网关 {summary.sent} 条，拦截 {summary.held} 条，失败 {summary.failed} 条，"
            f"待重试 {summary.retry} 条；{summary.seconds:.1f} 秒，{summary.rate:.0f} 条/秒"
        )
        return {"mode": "in_process", "gateway": True, **summary.__dict__, "rate": summary.rate}

    def _progress(self, summary, claimed, total):
        self.stderr.write(
            f"\r发送中 {claimed}/{total}  已提交 {summary.sent}  拦截 {summary.held}  "
            f"{summary.rate:.0f} 条/秒",
            ending="\n" if claimed >= total else "",
        )
        self.stderr.flush()

    def _enqueue(self, batch, limit, wait) -> dict:
        due = due_count() if limit is None else min(limit, due_count())
        tasks = math.ceil(due / batch) if due else 0
        try:
            for _ in range(tasks):
                queue.send_due.delay(batch)
        except Exception as exc:  # kombu raises several types for an unreachable broker
            raise UserError(
                f"无法连接消息队列 KEYCARE_SMS_BROKER (broker unreachable): {exc}"
            ) from None
        self.stdout.write(
            f"已入队 {tasks} 个发送任务（{due} 条待发送），由 keycare sms_worker 处理"
        )
        deadline = time.monotonic() + wait
        while wait and time.monotonic() < deadline and due_count():
            counts = state_counts()
            self.stderr.write(
                f"\r待发送 {counts['queued']}  发送中 {counts['sending']}  "
                f"已提交 {counts['submitted']}  已送达 {counts['delivered']}",
                ending="",
            )
            time.sleep(1)
        return {"mode": "queue", "tasks": tasks, "due": due}


def _listener():
    import os
    from urllib.parse import urlsplit

    from keycare.messaging.receipts import ReceiptListener

    url = urlsplit(os.environ.get("KEYCARE_SMS_DLR_URL", ""))
    if not url.port:
        raise UserError(
            "--listen 需要 KEYCARE_SMS_DLR_URL 指定端口 (e.g. http://127.0.0.1:13014/dlr)"
        )
    return ReceiptListener(url.hostname or "127.0.0.1", url.port).start()


def _wait_receipts(listener, seconds: int) -> None:
    """Until no submitted message waits for its delivery report, or ``seconds`` passed."""
    from keycare.messaging.models import SmsMessage

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with actions.db_turn():
            waiting = SmsMessage.objects.filter(state=SmsState.SUBMITTED).count()
        if not waiting:
            return
        time.sleep(0.5)
