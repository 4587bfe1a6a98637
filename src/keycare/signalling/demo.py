"""Demo step of the signalling app: the last day of synthetic signalling, consumed.

The demo runs on the embedded default, where no broker need be running: the day's events go
through the consumer's own gate → detect → commit in process (``Consumer.feed``), batch by
batch on their arrival times, as the Redis consumer would have taken them live. The real-time
detections, their urgent tasks and SMS, and the per-minute figures of the operations page
(实时信令监控) are what a live consumer leaves behind.
"""

from __future__ import annotations

from keycare.core.demo_steps import DemoContext, DemoStep

DEMO_STREAM = "demo:signalling"
HOURS = 24


def signalling_hour(context: DemoContext) -> None:
    from datetime import UTC, datetime, timedelta

    from keycare.customers.models import Customer
    from keycare.signalling.consumer import Consumer
    from keycare.synth.signalling import generate

    subs = list(Customer.objects.order_by("id").values_list("subscriber_id", flat=True))
    if not subs:
        print("   尚无客户，跳过 (no customers: skipped)", flush=True)
        return
    # The last day as the consumer took it: landings abroad on the flight-arrival waves, a
    # burst of phones going off, home location updates, duplicates and late events.
    start = datetime.now(UTC) - timedelta(hours=HOURS, minutes=5)
    stream = generate(
        subs,
        start=start,
        hours=HOURS,
        seed=22,
        travel_rate=0.1,
        burst_size=max(10, len(subs) // 50),
        home_updates_per_hour=0.5,
        late_rate=0.01,
    )
    # What had arrived by now (a late event or a phone back on later is still to come).
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    stream = [(a, e) for a, e in stream if a <= now_ms]
    consumer = Consumer(None, DEMO_STREAM, "demo", batch=2000)
    consumer.setup(broker=False)
    consumer.feed([e for _, e in stream], arrivals=[a for a, _ in stream])
    print(f"   {len(stream)} 条信令 (events): {consumer.gate.counts}", flush=True)


DEMO_STEPS = [
    DemoStep("after_loadrun", "实时信令 real-time signalling (in process)", signalling_hour)
]
