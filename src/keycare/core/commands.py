"""Base class for KeyCare management commands: user errors become one line and exit code 2."""

from django.core.management.base import BaseCommand, CommandError

from keycare.errors import UserError


class KeycareCommand(BaseCommand):
    """Subclasses implement ``run(*args, **options)`` instead of ``handle``."""

    def handle(self, *args, **options):
        try:
            return self.run(*args, **options)
        except UserError as exc:
            raise CommandError(str(exc), returncode=UserError.exit_code) from exc

    def run(self, *args, **options):  # pragma: no cover - abstract
        raise NotImplementedError
