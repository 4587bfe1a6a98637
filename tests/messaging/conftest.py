"""A real Kannel gateway on loopback (bearerbox + smsbox + fakesmsc) on free ports, with the
receipt listener, for the gateway tests; started per test and stopped after."""

from __future__ import annotations

import pytest

from factories import set_service_window
from keycare.messaging import kannel
from keycare.messaging.gateway import GatewayConfig, KannelClient
from keycare.messaging.receipts import ReceiptListener
from keycare.messaging.sender import Sender


@pytest.fixture
def gateway(tmp_path):
    if not kannel.available():
        pytest.fail("Kannel is not installed: run scripts/install-system-deps.sh")
    gw = kannel.KannelGateway(tmp_path / "kannel")
    gw.write_config()
    gw.start()
    yield gw
    gw.cleanup()


@pytest.fixture
def receipts(transactional_db):
    listener = ReceiptListener().start()
    yield listener
    listener.stop()


@pytest.fixture
def sender(gateway, receipts, monkeypatch):
    """A sender through the gateway at any hour (the service window made all-day)."""
    set_service_window("00:00", "00:00")
    config = GatewayConfig.from_url(
        gateway.sendsms_url, dlr_url=receipts.url, status_url=gateway.status_url
    )
    monkeypatch.setenv("KEYCARE_SMS_GATEWAY_URL", gateway.sendsms_url)
    monkeypatch.setenv("KEYCARE_SMS_DLR_URL", receipts.url)
    sender = Sender(KannelClient(config), rate=2000)
    yield sender
    sender.close()
