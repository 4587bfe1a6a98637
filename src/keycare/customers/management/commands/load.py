"""``keycare load DIR``: load a delivery into the application (thin; see customers.loader)."""

from keycare.core.commands import KeycareCommand
from keycare.customers import actions


class Command(KeycareCommand):
    help = (
        "Load the organisation, managers, key accounts, customer archive and assignments "
        "from a delivery directory (one transaction; re-loading is idempotent)."
    )
    needs_database = "migrate"  # writes the archive; needs no key moments

    def add_arguments(self, parser):
        parser.add_argument("directory", help="delivery directory (contract files)")

    def run(self, *args, **options):
        verbose = options["verbosity"] >= 2
        progress = (lambda msg: self.stderr.write(f"  {msg}")) if verbose else None
        batch = actions.load(options["directory"], progress=progress)
        self.stdout.write(actions.summary(batch))
