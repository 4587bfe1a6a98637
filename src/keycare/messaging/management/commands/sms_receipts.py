"""keycare sms_receipts: receive the gateway's delivery reports (Kannel's dlr-url callbacks)."""

from __future__ import annotations

import time

from keycare.core.commands import KeycareCommand, parse_int
from keycare.messaging.receipts import ReceiptListener


class Command(KeycareCommand):
    help = "receive SMS delivery reports from the gateway (Kannel dlr-url) until interrupted"
    needs_database = "require"

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="13014")

    def run(self, *args, **options):
        port = parse_int(options["port"], "--port", 1, 65535)
        listener = ReceiptListener(options["host"], port).start()
        self.stdout.write(f"接收短信回执: {listener.url} (Ctrl-C 结束)")
        try:
            while True:
                time.sleep(5)
                if listener.recorded:
                    self.stderr.write(
                        f"\r已接收回执 {listener.recorded} 条 {listener.counts}", ending=""
                    )
        finally:
            listener.stop()
