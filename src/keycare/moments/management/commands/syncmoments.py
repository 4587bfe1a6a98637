"""`keycare syncmoments`: import the built-in key-moment definitions (idempotent)."""

from keycare.core.commands import KeycareCommand
from keycare.moments.actions import sync_builtin_definitions


class Command(KeycareCommand):
    help = "Import the built-in key-moment definitions into the database (existing ones untouched)."
    needs_database = "migrate"  # it is the import of the moments

    def run(self, *args, **options):
        result = sync_builtin_definitions(actor=None)
        self.stdout.write(
            f"关键时刻定义: 新增 {result['created']}，已存在 {result['existing']} "
            f"(created {result['created']}, existing {result['existing']})"
        )
