"""keycare sms_gateway: a local Kannel gateway on loopback with the fake SMSC, for the demo and
development (Debian packages kannel, kannel-extras). Prints the settings to use with it."""

from __future__ import annotations

import time

from django.conf import settings

from keycare.core.commands import KeycareCommand
from keycare.errors import UserError
from keycare.messaging import kannel


class Command(KeycareCommand):
    help = "run a local Kannel SMS gateway (fake SMSC) on loopback until interrupted"
    needs_database = None

    def run(self, *args, **options):
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
