"""`keycare syncmoments`: import the built-in key-moment definitions and the tactics library
(`moments/tactics.yaml`). Both are idempotent."""

from keycare.core.commands import KeycareCommand
from keycare.moments.actions import sync_builtin_definitions, sync_builtin_tactics


class Command(KeycareCommand):
    help = (
        "Import the built-in key-moment definitions (existing ones untouched) and the tactics "
        "library (a new version only when the shipped file changed)."
    )
    needs_database = "migrate"  # it is the import of the moments

    def run(self, *args, **options):
        result = sync_builtin_definitions(actor=None)
        self.stdout.write(
            f"关键时刻定义: 新增 {result['created']}，已存在 {result['existing']} "
            f"(created {result['created']}, existing {result['existing']})"
        )
        tactics = sync_builtin_tactics(actor=None)
        if tactics["created"]:
            self.stdout.write(
                f"保有战术库: 新版本 v{tactics['version']} (tactics library: new version)"
            )
        else:
            self.stdout.write(
                f"保有战术库: 无变化 v{tactics['version']} (tactics library: unchanged)"
            )
