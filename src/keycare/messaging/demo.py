"""Demo step of the messaging app: send the demo run's SMS tasks.

What a demo user sees on 短信发送记录 afterwards: the whole life of a message. The step sends
in-process (no broker) through

- the gateway in ``KEYCARE_SMS_GATEWAY_URL`` when one is configured, else
- a local Kannel with its fake SMSC, started for the step on free loopback ports and stopped
  after it (Debian packages kannel, kannel-extras), so messages reach 已送达 with their
  submit and delivery receipts;
- with neither, nothing is sent: the messages wait as 待发送 and the step says how to send them.

The send-time rules apply at the real clock: outside the service window (09:00-21:00 Beijing
time by default) the messages are 已拦截 (非服务时段) and go out on the next ``keycare
sms_send`` inside the window; customers on the DND list or contacted recently are held.
"""

from __future__ import annotations

import os
import shutil
import time

from django.conf import settings

from keycare.core.demo_steps import DemoContext, DemoStep

RECEIPT_WAIT_SECONDS = 30


def send_demo_sms(context: DemoContext) -> None:
    from keycare.messaging import kannel
    from keycare.messaging.gateway import GatewayConfig, KannelClient
    from keycare.messaging.receipts import ReceiptListener
    from keycare.messaging.sender import Sender, due_count, send_all, state_counts

    due = due_count()
    if not due:
        print("   没有待发送的短信", flush=True)
        return
    gateway, status_url = None, os.environ.get("KEYCARE_SMS_STATUS_URL", "")
    if os.environ.get("KEYCARE_SMS_GATEWAY_URL"):
        url = os.environ["KEYCARE_SMS_GATEWAY_URL"]
    elif kannel.available():
        gateway = kannel.KannelGateway(settings.KEYCARE_HOME / "kannel-demo")
        gateway.write_config()
        gateway.start()
        url, status_url = gateway.sendsms_url, gateway.status_url
        print("   已启动本地短信网关 (Kannel + fake SMSC, 回环地址)", flush=True)
    else:
        print(
            f"   未配置短信网关，也未安装 Kannel：{due} 条短信保持“待发送”；"
            "配置 KEYCARE_SMS_GATEWAY_URL 后运行 keycare sms_send 发送",
            flush=True,
        )
        return
    listener = ReceiptListener().start()
    config = GatewayConfig.from_url(url, dlr_url=listener.url, status_url=status_url)
    sender = Sender(KannelClient(config))
    try:
        summary = send_all(sender, progress=_progress)
        _wait_for_receipts(summary.sent, listener)
    finally:
        sender.close()
        listener.stop()
        if gateway is not None:
            gateway.cleanup()
            shutil.rmtree(gateway.workdir, ignore_errors=True)
    counts = {k: v for k, v in state_counts().items() if v}
    print(f"   短信: {counts}（{summary.rate:.0f} 条/秒）", flush=True)


def _progress(summary, claimed, total) -> None:
    if claimed >= total or summary.batches % 5 == 0:
        print(f"   发送 {claimed}/{total}，已提交 {summary.sent}，拦截 {summary.held}", flush=True)


def _wait_for_receipts(sent: int, listener) -> None:
    deadline = time.monotonic() + RECEIPT_WAIT_SECONDS
    while time.monotonic() < deadline and listener.counts.get("delivered", 0) < sent:
        time.sleep(0.2)


DEMO_STEPS = [DemoStep("after_loadrun", "发送短信任务 sms send", send_demo_sms)]
