"""``keycare catalog``: print the unified customer view catalog or the data contract."""

from keycare.catalog.delivery import load_contract
from keycare.catalog.fields import load_catalog
from keycare.catalog.render import FORMATS, render_catalog, render_contract
from keycare.core.commands import KeycareCommand


class Command(KeycareCommand):
    help = (
        "Print the unified customer view field catalog (客户统一视图) as md, csv or json; "
        "with --contract, print the input data contract instead."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=FORMATS, default="md", help="output format")
        parser.add_argument(
            "--contract", action="store_true", help="print the data contract (data-format)"
        )

    def run(self, *args, **options):
        catalog = load_catalog()
        fmt = options["format"]
        if options["contract"]:
            text = render_contract(load_contract(), catalog, fmt)
        else:
            text = render_catalog(catalog, fmt)
        self.stdout.write(text, ending="")
