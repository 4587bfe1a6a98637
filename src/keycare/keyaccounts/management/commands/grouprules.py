"""``keycare grouprules RULE``: compute a key-account service rule in force over every active
group and write it (credit ratings, key-customer levels, potential key accounts), or earn a
month's points (``points [--month YYYY-MM]``); ``--preview`` only says what would change."""

import json

from keycare.core.commands import KeycareCommand
from keycare.errors import UserError
from keycare.keyaccounts import rules
from keycare.keyaccounts.actions import apply_rule, earn_points

COMPUTED = ("credit", "definition", "potential")


class Command(KeycareCommand):
    help = "Compute a key-account service rule (credit, definition, potential) or earn points."
    needs_database = "require"

    def add_arguments(self, parser):
        parser.add_argument("rule", choices=[*COMPUTED, "points", "preferential"])
        parser.add_argument(
            "--preview", action="store_true", help="show the changes, write nothing"
        )
        parser.add_argument("--month", help="points: the month to earn (default the last closed)")
        parser.add_argument("--reason", default="按现行服务规则定期计算")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def run(self, *args, **options):
        kind = options["rule"]
        version, data = rules.current(kind)
        if options["preview"]:
            result = {"version": version, **rules.module(kind).preview(data)}
        elif kind == "points":
            result = earn_points(None, options["month"])
        elif kind in COMPUTED:
            result = apply_rule(None, kind, reason=options["reason"])
        else:
            raise UserError(f"{kind} 规则无需计算，只能 --preview")
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False, default=str))
            return
        self.stdout.write(f"{kind} (rule v{version}): " + ", ".join(
            f"{k} {v}" for k, v in result.items() if not isinstance(v, list | dict)
        ))  # fmt: skip
