"""keycare sms_worker: the Celery worker that sends the outbox (tasks queued by sms_send)."""

from __future__ import annotations

from keycare.core.commands import KeycareCommand, parse_int
from keycare.errors import UserError
from keycare.messaging import queue


class Command(KeycareCommand):
    help = "run the Celery worker that sends SMS (needs KEYCARE_SMS_BROKER, e.g. Redis)"
    needs_database = "require"

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", default="2", help="worker threads")
        parser.add_argument(
            "--listen",
            action="store_true",
            help="also receive delivery reports on KEYCARE_SMS_DLR_URL's port",
        )

    def run(self, *args, **options):
        concurrency = parse_int(options["concurrency"], "--concurrency", 1, 64)
        queue.configure()
        if queue.eager():
            raise UserError(
                "未配置消息队列 KEYCARE_SMS_BROKER (e.g. redis://127.0.0.1:6379/0)；"
                "没有队列时用 keycare sms_send 直接发送"
            )
        listener = None
        if options["listen"]:
            from keycare.messaging.management.commands.sms_send import _listener

            listener = _listener()
        try:
            queue.app.worker_main(
                [
                    "worker",
                    "--queues",
                    queue.app.conf.task_default_queue,
                    "--pool",
                    "threads",
                    "--concurrency",
                    str(concurrency),
                    "--loglevel",
                    "INFO",
                    "--without-gossip",
                    "--without-mingle",
                ]
            )
        finally:
            if listener is not None:
                listener.stop()
