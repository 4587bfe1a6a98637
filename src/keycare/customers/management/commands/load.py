"""``keycare load DIR``: load a delivery into the application (thin; see customers.loader)."""

from keycare.core.commands import KeycareCommand, parse_fraction
from keycare.customers import actions


class Command(KeycareCommand):
    help = (
        "Load the organisation, managers, key accounts, customer archive and assignments "
        "from a delivery directory (one transaction; re-loading is idempotent). Rows breaking "
        "the data contract are quarantined and reported per file, as by `keycare run`."
    )
    needs_database = "migrate"  # writes the archive; needs no key moments

    def add_arguments(self, parser):
        parser.add_argument("directory", help="delivery directory (contract files)")
        parser.add_argument(
            "--quarantine-limit",
            default="0.05",
            help="highest share of quarantined rows per file, 0..1 or a percentage (default 5%%)",
        )

    def run(self, *args, **options):
        verbose = options["verbosity"] >= 2
        progress = (lambda msg: self.stderr.write(f"  {msg}")) if verbose else None
        batch = actions.load(
            options["directory"],
            progress=progress,
            quarantine_limit=parse_fraction(options["quarantine_limit"]),
        )
        self.stdout.write(actions.summary(batch))
        for line in actions.quarantine_lines(batch):
            self.stdout.write(f"  {line}")
