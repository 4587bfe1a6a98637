"""keycare sms_gateway: a local Kannel gateway on loopback with the fake SMSC, for the demo and
development (Debian packages kannel, kannel-extras). Prints the settings to use with it.
``--smpp``: the SMPP gateway instead (Jasmin with Kannel's drive_smpp as SMSC,
``messaging/jasmin.py``; scripts/install-jasmin.sh)."""

from __future__ import annotations

import signal
import time

from django.conf import settings

from keycare.core.commands import KeycareCommand
from keycare.errors import UserError
from keycare.messaging import jasmin, kannel


class Command(KeycareCommand):
    help = "run a local Kannel SMS gateway (fake SMSC) on loopback until interrupted"
    needs_database = None

    def add_arguments(self, parser):
        parser.add_argument(
            "--smpp", action="store_true", help="SMPP gateway (Jasmin + drive_smpp) instead"
        )

    def run(self, *args, **options):
        _stop_on_signals()
        if options.get("smpp"):
            return self._smpp()
        if not kannel.available():
            raise UserError("未安装 Kannel (apt-get install kannel kannel-extras)")
        gateway = kannel.KannelGateway(settings.KEYCARE_HOME / "kannel")
        gateway.write_config()
        gateway.start()
        self.stdout.write("本地短信网关已启动 (Kannel + fake SMSC)。在另一个终端:")
        self.stdout.write(f"  export KEYCARE_SMS_GATEWAY_URL='{gateway.sendsms_url}'")
        self.stdout.write("  export KEYCARE_SMS_DLR_URL='http://127.0.0.1:13014/dlr'")
        self.stdout.write(f"  export KEYCARE_SMS_STATUS_URL='{gateway.status_url}'")
        self.stdout.write("  keycare sms_send --listen --wait 30")
        try:
            while True:
                time.sleep(5)
                self.stderr.write(f"\rSMSC 已收到 {gateway.delivered_count()} 条", ending="")
        finally:
            gateway.stop()

    def _smpp(self):
        if not jasmin.available():
            raise UserError("未安装 Jasmin 或 drive_smpp (scripts/install-jasmin.sh)")
        gateway = jasmin.JasminGateway(settings.KEYCARE_HOME / "jasmin")
        try:
            gateway.start()
            self.stdout.write("本地 SMPP 网关已启动 (Jasmin + drive_smpp)。在另一个终端:")
            self.stdout.write(f"  export KEYCARE_SMS_GATEWAY_URL='{gateway.smpp_url}'")
            self.stdout.write("  keycare sms_send --wait 30")
            while True:
                time.sleep(5)
                self.stderr.write(f"\rSMSC 已收到 {gateway.smsc_submits()} 条", ending="")
        finally:
            gateway.cleanup()


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM (a service manager) both end the loop through its cleanup, so no
    gateway process is left behind; SIGINT is set even when the parent had it ignored (a
    process started in the background inherits that, and would then never stop on Ctrl-C)."""

    def stop(signum, frame):
        raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
