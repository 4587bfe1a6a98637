"""``keycare signalling produce|consume``: the real-time path on Redis Streams."""

from __future__ import annotations

from datetime import UTC, datetime

from keycare.core.commands import KeycareCommand
from keycare.customers.models import Customer
from keycare.errors import UserError
from keycare.signalling.actions import purge
from keycare.signalling.consumer import DEFAULT_STREAM, Consumer, client, produce
from keycare.synth.signalling import generate


class Command(KeycareCommand):
    help = "Real-time moments from network signalling: produce a synthetic stream, or consume it."
    needs_database = "require"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        p = sub.add_parser(
            "produce", help="XADD a synthetic signalling stream for the loaded customers"
        )
        p.add_argument("--hours", type=int, default=24, help="event-time span (default 24)")
        p.add_argument(
            "--rate", type=float, default=0, help="events per second (default 0: flat out)"
        )
        p.add_argument("--seed", type=int, default=7)
        p.add_argument("--burst", type=int, default=0, help="phones in one power-off burst")
        p.add_argument(
            "--start", default="", help="event-time start, ISO (default: now minus --hours)"
        )
        c = sub.add_parser("consume", help="read the stream as a consumer group, detect, act")
        c.add_argument(
            "--name", default="consumer-1", help="consumer name (keep it across restarts)"
        )
        c.add_argument("--batch", type=int, default=1000)
        c.add_argument("--idle-stop", type=float, default=0, help="stop after N s without events")
        g = sub.add_parser(
            "purge", help="delete location data older than the retention period (PIPL)"
        )
        g.add_argument(
            "--days", type=int, default=0, help="retention in days (default: the setting)"
        )
        for q in (p, c):
            q.add_argument("--stream", default=DEFAULT_STREAM)
            q.add_argument("--redis", default=None, help="redis URL (default settings)")

    def run(self, *args, **options):
        self.verbosity = options.get("verbosity", 1)
        if options["action"] == "purge":
            if options["days"] < 0:
                raise UserError("--days: must be 1 or more")
            counts = purge(None, options["days"] or None)
            return self.stdout.write(
                f"purged location data older than {counts['days']} days: "
                f"{counts['states']} states deleted, {counts['detections']} detections minimised"
            )
        r = client(options["redis"])
        if options["action"] == "produce":
            return self._produce(r, options)
        consumer = Consumer(r, options["stream"], options["name"], options["batch"])
        consumer.setup()
        total = consumer.run(idle_stop=options["idle_stop"], progress=self._progress)
        self.stdout.write(f"consumed {total} entries; gate {consumer.gate.counts}")

    def _progress(self, total, gate):
        if self.verbosity:
            self.stderr.write(f"\rconsumed {total} · {gate.counts}", ending="")

    def _produce(self, r, options):
        subs = list(Customer.objects.values_list("subscriber_id", flat=True))
        if not subs:
            raise UserError("no customers loaded: run 'keycare load' (or the demo) first")
        try:
            start = datetime.fromisoformat(options["start"]) if options["start"] else None
        except ValueError as exc:
            raise UserError(f"--start: not an ISO date-time: {options['start']!r}") from exc
        now = datetime.now(UTC)
        start = start or datetime.fromtimestamp(now.timestamp() - options["hours"] * 3600, UTC)
        events = generate(
            subs,
            start=start,
            hours=options["hours"],
            seed=options["seed"],
            burst_size=options["burst"],
        )
        n = produce(r, options["stream"], (e for _, e in events), rate=options["rate"])
        self.stdout.write(f"produced {n} events on {options['stream']}")
