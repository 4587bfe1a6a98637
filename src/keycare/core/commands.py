"""Base class for KeyCare management commands: user errors become one line and exit code 2.

A command that uses the database says so with ``needs_database``:

``None``       it never touches the database (catalog, synth, risk).
``"prepare"``  it sets the database up itself when needed: applies pending migrations and
               imports the built-in key moments (``keycare syncmoments``) when the database
               was just migrated or holds none. Idempotent; on an up-to-date database it
               costs one look at the migration plan and one query.
``"migrate"``  like ``prepare`` without importing the moments: commands that need none
               (load, users) and ``syncmoments``, which is the import.
``"require"``  it only runs on a database that is already set up (commands started by the
               application or cron: runjob, escalate); otherwise one line says what to run.

Per command: run, loadrun prepare; load, users, syncmoments migrate; runjob, escalate
require; catalog, synth, risk need no database; demo migrates and syncs as steps of its own.

Whatever prepares the database reports it on stderr, so ``--json`` output stays the last
line of stdout.
"""

from __future__ import annotations

from django.apps import apps
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

from keycare.errors import UserError

DATABASE_NEEDS = (None, "prepare", "migrate", "require")
SETUP_HINT = "keycare migrate && keycare syncmoments"


class KeycareCommand(BaseCommand):
    """Subclasses implement ``run(*args, **options)`` instead of ``handle``."""

    needs_database: str | None = None

    def handle(self, *args, **options):
        try:
            self.ready_database()
            return self.run(*args, **options)
        except UserError as exc:
            raise CommandError(str(exc), returncode=UserError.exit_code) from exc

    def run(self, *args, **options):  # pragma: no cover - abstract
        raise NotImplementedError

    def ready_database(self) -> None:
        need = self.needs_database
        if need not in DATABASE_NEEDS:
            raise ValueError(f"needs_database must be one of {DATABASE_NEEDS}, got {need!r}")
        if need is None:
            return
        try:
            pending = pending_migrations()
            if need == "require":
                if pending:
                    raise UserError(
                        f"数据库尚未初始化或需要升级，请先运行 {SETUP_HINT} "
                        f"(database not set up or out of date: run {SETUP_HINT} first)"
                    )
                return
            if pending:
                call_command("migrate", verbosity=0, interactive=False)
                self.stderr.write(
                    f"数据库已初始化: 应用迁移 {len(pending)} 项 "
                    f"(database prepared: {len(pending)} migrations applied)"
                )
            if need == "prepare":
                self._sync_moments(just_migrated=bool(pending))
        except DatabaseError as exc:
            raise UserError(
                f"无法使用数据库 (cannot use the database): {_first_line(exc)}; "
                "请检查 DATABASE_URL / KEYCARE_HOME (check DATABASE_URL / KEYCARE_HOME)"
            ) from exc

    def _sync_moments(self, just_migrated: bool) -> None:
        # By name, not by import: the moments app sits above core (docs/architecture.md).
        moments = apps.get_model("moments", "MomentDefinition")
        if not just_migrated and moments.objects.exists():
            return
        call_command("syncmoments", stdout=self.stderr)


# --- command-line values ----------------------------------------------------------------


def parse_fraction(text: str) -> float:
    """A share given as 0..1 or as a percentage (``--quarantine-limit 5%``)."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise UserError(f"--quarantine-limit: {text!r} 不是数字 (not a number)") from None
    if not 0 <= value <= 1:
        raise UserError(f"--quarantine-limit: {text!r} 应在 0 到 1 (或 0% 到 100%) 之间")
    return value


def parse_int(text: str, option: str, low: int, high: int) -> int:
    try:
        value = int(str(text))
    except ValueError:
        raise UserError(f"{option}: {text!r} 不是整数 (not an integer)") from None
    if not low <= value <= high:
        raise UserError(f"{option}: {value} 应在 {low} 到 {high} 之间 (out of range)")
    return value


def pending_migrations(using: str = DEFAULT_DB_ALIAS) -> list:
    """The migrations not yet applied to the database (an empty list when up to date)."""
    connection = connections[using]
    executor = MigrationExecutor(connection)
    return executor.migration_plan(executor.loader.graph.leaf_nodes())


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
