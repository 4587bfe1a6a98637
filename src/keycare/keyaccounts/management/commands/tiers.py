"""``keycare tiers``: score every key account and place it in A1/A2/B1/B2/C under the tier
policy in force (``--preview``: only say how many would move)."""

import json

from keycare.core.commands import KeycareCommand
from keycare.keyaccounts import tiers
from keycare.keyaccounts.actions import apply_tiers


class Command(KeycareCommand):
    help = "Score the key accounts and set their tiers (A1/A2/B1/B2/C) under the policy in force."
    needs_database = "require"

    def add_arguments(self, parser):
        parser.add_argument("--preview", action="store_true", help="show the moves, write nothing")
        parser.add_argument(
            "--reason",
            default="按现行分层策略定期评定",
            help="reason recorded with each tier change",
        )
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def run(self, *args, **options):
        version, policy = tiers.current()
        if options["preview"]:
            result = {"policy_version": version, **tiers.preview(policy)}
        else:
            result = apply_tiers(None, reason=options["reason"], progress=self._say)
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
            return
        moves = "; ".join(f"{m['from']}->{m['to']} {m['count']}" for m in result.get("moves", []))
        self.stdout.write(
            f"tiers (policy v{version}): {result['groups']} groups, {result['moved']} move"
            + (f" ({moves})" if moves else "")
            + ("" if options["preview"] else " — written")
        )

    def _say(self, message: str) -> None:
        self.stderr.write(message)
