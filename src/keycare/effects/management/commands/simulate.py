"""``keycare simulate``: the closed service loop, day by day, on a synthetic operator."""

import json

from keycare.core.commands import KeycareCommand
from keycare.effects.simulation import (
    builtin_suggest,
    compare,
    compare_table,
    parse_policy,
    print_progress,
)
from keycare.errors import UserError
from keycare.synth.loop import SimConfig, simulate


class Command(KeycareCommand):
    help = (
        "Simulate the service loop day by day (deliver -> run -> allocate -> managers work the "
        "tasks -> the world reacts) on a synthetic operator with known per-moment effects; "
        "writes exposures, outcomes, contacts and the ground truth as Parquet under --out."
    )

    def add_arguments(self, parser):
        parser.add_argument("--subscribers", type=int, required=True)
        parser.add_argument("--days", type=int, default=90, help="simulated days (default 90)")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--out", required=True, help="output directory (replaced)")
        parser.add_argument(
            "--policy",
            default="",
            help="e.g. control=0.1,capacity=1.5,cap_days=7,A01.min_count=2 (default: defaults)",
        )
        parser.add_argument("--event-scale", type=float, default=1.0)
        parser.add_argument("--churn-scale", type=float, default=1.0)
        parser.add_argument("--base", help="an existing `keycare synth` delivery to start from")
        parser.add_argument(
            "--compare",
            nargs=2,
            metavar="POLICY",
            help="simulate the same world under two policies (each like --policy) side by side",
        )
        parser.add_argument("--json", action="store_true", help="last line: the manifest totals")

    def run(self, *args, **options):
        if options.get("compare"):
            return self._compare(options)
        cfg = config_from(options, parse_policy(options["policy"], "policy"))
        manifest = simulate(
            cfg,
            options["out"],
            progress=print_progress(self.stderr.write),
            suggest=builtin_suggest(),
            base=options.get("base"),
        )
        totals = manifest["totals"]
        self.stdout.write(
            f"simulate: {options['out']}: {cfg.days} days, {totals['subscribers']:,} subscribers, "
            f"{totals['calls']:,} calls, {totals['sms']:,} SMS, {totals['manager_hours']} manager-"
            f"hours, churned {totals['churned']:,} (without service {totals['churned_without_service']:,})"
        )
        if options["json"]:
            self.stdout.write(json.dumps(totals, ensure_ascii=False))

    def _compare(self, options):
        policies = [
            parse_policy(text, name) for text, name in zip(options["compare"], "AB", strict=True)
        ]
        if policies[0].name == policies[1].name:
            raise UserError(f"--compare: both policies are named '{policies[0].name}'")
        cfgs = [config_from(options, policy) for policy in policies]
        rows = compare(cfgs, options["out"], progress_write=self.stderr.write)
        for line in compare_table(rows):
            self.stdout.write(line)
        if options["json"]:
            self.stdout.write(json.dumps(rows, ensure_ascii=False))


def config_from(options: dict, policy) -> SimConfig:
    return SimConfig(
        subscribers=options["subscribers"],
        days=options["days"],
        seed=options["seed"],
        policy=policy,
        event_scale=options["event_scale"],
        churn_scale=options["churn_scale"],
    )
