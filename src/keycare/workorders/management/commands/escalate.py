"""`keycare escalate`: escalate every open work order whose SLA has passed (run from cron).

Idempotent: an order is escalated once (its status becomes 已升级), so running it every few
minutes is safe. Each escalation writes an audit event with the system as actor.
"""

import json

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from keycare.core.commands import KeycareCommand
from keycare.errors import UserError
from keycare.workorders.actions import escalate_overdue_work_orders


class Command(KeycareCommand):
    help = "Escalate open work orders whose SLA deadline has passed (safe to run every minute)."
    needs_database = "require"  # run from cron on a set-up database

    def add_arguments(self, parser):
        parser.add_argument(
            "--now", default=None, help="treat this ISO time as now (for replays and tests)"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON line")

    def run(self, *args, **opts):
        now = _parse_now(opts["now"]) if opts["now"] else timezone.now()
        escalated = escalate_overdue_work_orders(None, now=now)
        if opts["json"]:
            self.stdout.write(json.dumps({"escalated": escalated, "now": now.isoformat()}))
        else:
            self.stdout.write(f"已升级超时工单 {escalated} 个 (escalated {escalated} work orders)")


def _parse_now(raw: str):
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None:
        raise UserError(f"--now {raw!r} is not an ISO date-time (e.g. 2026-11-23T15:30)")
    return timezone.make_aware(value) if timezone.is_naive(value) else value
