"""A Redis restart under the consumer: a private redis-server (appendonly, free port) is
stopped mid-stream and started again; the consumer reconnects and ends with exactly the
detections of an uninterrupted run."""

import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis

from factories import make_customer
from keycare.messaging.models import SmsMessage
from keycare.signalling.consumer import GROUP, Consumer, produce
from keycare.signalling.models import RealtimeDetection, SignalState
from keycare.synth.signalling import generate
from keycare.tasks.models import ServiceTask


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    def __init__(self, directory):
        self.dir, self.port, self.proc = directory, _free_port(), None

    def start(self):
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir"]
        cmd += [str(self.dir), "--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)


@pytest.fixture
def broker(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    if server.proc.poll() is None:
        server.stop()


def _drain(consumer):
    while consumer.step(block_ms=50):
        pass


def test_consumer_survives_a_broker_restart(broker, org, manager):
    subs = [make_customer(org["C025"], f"S{i:04d}", manager).subscriber_id for i in range(200)]
    start = datetime.now(UTC) - timedelta(minutes=20)
    events = [e for _, e in generate(subs, start=start, hours=60, travel_rate=0.2, burst_size=30)]
    r = redis.Redis(port=broker.port, socket_timeout=5)
    produce(r, "s", events)
    consumer = Consumer(r, "s", "c1", batch=50)
    consumer.setup()
    for _ in range(len(events) // 150):  # about a third of the stream
        consumer.step(block_ms=50)
    before = RealtimeDetection.objects.count()
    broker.stop()
    assert consumer.step_safely(block_ms=50) == 0  # the broker is gone: nothing read or lost
    assert consumer.reconnects == 1 and consumer.cursor == "0"
    broker.start()  # appendonly: the stream, the group and its pending entries come back
    assert r.xlen("s") == len(events) and r.xpending("s", GROUP)["pending"] == 0
    _drain(consumer)
    assert r.xpending("s", GROUP)["pending"] == 0
    got = sorted(
        RealtimeDetection.objects.values_list("customer__subscriber_id", "moment", "window")
    )

    # The reference: one uninterrupted consumer on a fresh state, over the same events.
    for model in (RealtimeDetection, SignalState, SmsMessage, ServiceTask):
        model.objects.all().delete()
    produce(r, "ref", events)
    reference = Consumer(r, "ref", "ref")
    reference.setup()
    _drain(reference)
    want = sorted(
        RealtimeDetection.objects.values_list("customer__subscriber_id", "moment", "window")
    )
    assert 0 < before < len(got) and len(want) > 20
    assert got == want and len(got) == len(set(got))
