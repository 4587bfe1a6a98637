"""``keycare users``: create or reset the demo users, one per role; passwords shown once."""

import os
from pathlib import Path

from keycare.core.commands import KeycareCommand
from keycare.errors import UserError
from keycare.managers.actions import create_demo_users


class Command(KeycareCommand):
    help = "Create (or reset) the demo users, one per role, with new random passwords printed once."
    needs_database = "migrate"  # creates users; needs no key moments

    def add_arguments(self, parser):
        parser.add_argument(
            "--password-file",
            help="write the logins with passwords to this file (mode 600) instead of stdout",
        )

    def run(self, *args, **options):
        logins = create_demo_users()
        rows = [("username", "role", "scope", "password")]
        rows += [(x.username, x.role, x.scope, x.password) for x in logins]
        if path := options.get("password_file"):
            _write_private(Path(path), _table(rows))
            self.stdout.write(_table([row[:3] for row in rows]))
            self.stdout.write(f"passwords written to {path}")
        else:
            self.stdout.write(_table(rows))
        self.stdout.write("这些密码只显示一次 (passwords are shown once; re-run to reset them)")


def _table(rows) -> str:
    widths = [max(_width(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            str(cell) + " " * (w - _width(str(cell))) for cell, w in zip(row, widths, strict=True)
        ).rstrip()
        for row in rows
    )


def _width(text: str) -> int:
    """Display width: CJK characters take two columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _write_private(path: Path, text: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        raise UserError(f"{path}: cannot write password file ({exc.strerror})") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    os.chmod(path, 0o600)
