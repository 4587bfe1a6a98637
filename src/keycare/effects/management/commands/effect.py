"""``keycare effect``: treated vs control per moment (and campaign, tactic, manager, city)."""

import json
from datetime import date

from keycare.core.commands import KeycareCommand
from keycare.engine.effect import HORIZONS, METRICS, evaluate
from keycare.errors import UserError


class Command(KeycareCommand):
    help = (
        "Evaluate the service's effect against the control group at 30/60/90 days: uplift on "
        "churn, downgrade, bill change and repeat complaints with 95% intervals. --json: the "
        "last stdout line is JSON with per-moment {code, treated, control, uplift, ci_low, "
        "ci_high}."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="evaluation date YYYY-MM-DD (default: the last day)")
        parser.add_argument(
            "--sim",
            help="a `keycare simulate` output directory (default: the application's decisions "
            "and outcomes)",
        )
        parser.add_argument("--horizon", type=int, default=HORIZONS[0], choices=HORIZONS)
        parser.add_argument("--metric", default="churn", choices=METRICS)
        parser.add_argument(
            "--load", action="store_true", help="also store the evaluation for the 效果评估 page"
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        # A simulation directory needs no database; the application's data and --load do.
        if options.get("load"):
            self.needs_database = "prepare"
        elif not options.get("sim"):
            self.needs_database = "require"
        else:
            self.needs_database = None
        return super().handle(*args, **options)

    def run(self, *args, **options):
        as_of = _parse_date(options.get("date"))
        if not options.get("sim"):
            options["sim"] = str(_export_app(as_of))
        report = evaluate(options["sim"], as_of)
        if options["load"]:
            from keycare.effects.actions import load_report

            stored = load_report(None, options["sim"], as_of)
            self.stdout.write(f"effect: loaded report {stored.pk} ({stored.rows.count():,} rows)")
        horizon, metric = options["horizon"], options["metric"]
        moments = report.moments(horizon, metric)
        self.stdout.write(
            f"effect: {options['sim']} as of {report.as_of}, {metric} at {horizon} days "
            "(uplift = treated - control)"
        )
        for m in moments:
            self.stdout.write(
                f"  {m['code']:<4} treated {m['treated']:>8,} control {m['control']:>7,} "
                f"uplift {_fmt(m['uplift'])} [{_fmt(m['ci_low'])}, {_fmt(m['ci_high'])}]"
            )
        if options["json"]:
            payload = {
                "date": report.as_of.isoformat(),
                "horizon": horizon,
                "metric": metric,
                "moments": moments,
                "qini": report.qini,
            }
            self.stdout.write(json.dumps(payload, ensure_ascii=False))


def _export_app(as_of):
    """The application's decisions and outcomes as an effect source under the data dir."""
    from pathlib import Path

    from django.conf import settings

    from keycare.effects.export import export_source

    name = f"app-{as_of.isoformat()}" if as_of else "app-latest"
    return export_source(Path(settings.KEYCARE_DATA_DIR) / "effects" / name)


def _parse_date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"--date: '{text}' is not a date (YYYY-MM-DD)") from None


def _fmt(value) -> str:
    return "   n/a " if value is None else f"{value:+.4f}"
