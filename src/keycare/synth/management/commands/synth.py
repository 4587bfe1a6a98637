"""``keycare synth``: write a synthetic operator's delivery per the data contract."""

import sys

from keycare.core.commands import KeycareCommand
from keycare.synth.generator import DEFAULT_AS_OF, generate, parse_as_of


class Command(KeycareCommand):
    help = (
        "Write a synthetic Jiangsu operator (subscribers, bills, usage, events, call circle, "
        "organisation, managers, key accounts) per the data contract. Same arguments -> "
        "byte-identical files."
    )

    def add_arguments(self, parser):
        parser.add_argument("--subscribers", type=int, required=True, help="number of subscribers")
        parser.add_argument(
            "--months", type=int, default=7, help="closed bill months of history (2-36, default 7)"
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument(
            "--out",
            required=True,
            help="output directory (missing, empty or a previous synth output)",
        )
        parser.add_argument(
            "--as-of",
            default=DEFAULT_AS_OF.isoformat(),
            help=f"business date YYYY-MM-DD (default {DEFAULT_AS_OF.isoformat()}, fixed for reproducibility)",
        )
        parser.add_argument(
            "--format", default="parquet", dest="fmt", help="parquet (default) or csv"
        )

    def run(self, *args, **options):
        as_of = parse_as_of(options["as_of"])
        with _progress(options.get("verbosity", 1)) as report:
            manifest = generate(
                options["out"],
                subscribers=options["subscribers"],
                months=options["months"],
                seed=options["seed"],
                as_of=as_of,
                fmt=options["fmt"],
                progress=report,
            )
        rows = ", ".join(f"{name} {f['rows']:,}" for name, f in manifest["files"].items())
        self.stdout.write(
            f"synth: wrote {options['out']} (business date {manifest['business_date']}): {rows}"
        )


class _progress:
    """A rich progress bar on a terminal; nothing otherwise."""

    def __init__(self, verbosity: int):
        self.enabled = verbosity > 0 and sys.stderr.isatty()
        self.bar = None
        self.task = None

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("synth"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} subscribers"),
            TimeElapsedColumn(), transient=True,
        )  # fmt: skip
        self.bar.start()
        return self.report

    def report(self, done: int, total: int) -> None:
        if self.task is None:
            self.task = self.bar.add_task("synth", total=total)
        self.bar.update(self.task, completed=done)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False
