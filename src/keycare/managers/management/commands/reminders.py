"""``keycare reminders digest``: send the day's reminder digest to the managers who opted in.

    keycare reminders digest                       # today, SMS (outbox) and e-mail
    keycare reminders digest --date 2026-12-07 --channel sms

Idempotent per manager, day and channel: a second run the same day sends nothing again. SMS
digests go into the outbox (``keycare sms send`` delivers them); e-mails go through Django's
e-mail backend (``KEYCARE_EMAIL_BACKEND``).
"""

from __future__ import annotations

from datetime import date

from keycare.core.commands import KeycareCommand
from keycare.errors import UserError
from keycare.managers.models import DigestChannel


class Command(KeycareCommand):
    help = "Send the account managers' daily reminder digest (SMS through the outbox, e-mail)."
    needs_database = "require"  # from cron, on a set-up database

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        digest = sub.add_parser("digest", help="send the day's digest to the opted-in managers")
        digest.add_argument("--date", help="YYYY-MM-DD (default: today)")
        digest.add_argument("--channel", choices=DigestChannel.values, help="only this channel")

    def run(self, *args, **options):
        from keycare.managers.digest import send_digests

        day = None
        if raw := options.get("date"):
            try:
                day = date.fromisoformat(raw)
            except ValueError as error:
                raise UserError(f"--date 须为 YYYY-MM-DD，不是 {raw!r}") from error
        channels = (options["channel"],) if options.get("channel") else tuple(DigestChannel.values)
        s = send_digests(None, day, channels)
        self.stdout.write(
            f"{s.day} 提醒摘要：短信 {s.sent['sms']}，邮件 {s.sent['email']}，"
            f"当日已发 {s.already}，无提醒 {s.empty}，无账号 {s.no_account}，无邮箱 {s.no_address}"
        )
