"""docs/catalog.md and docs/data-format.md are the generator's output, never hand edits."""

from pathlib import Path

from keycare.catalog.delivery import load_contract
from keycare.catalog.fields import load_catalog
from keycare.catalog.render import MIN_HISTORY, deepest_windows, render_catalog, render_contract

DOCS = Path(__file__).resolve().parents[2] / "docs"
REGENERATE = (
    "regenerate with: keycare catalog > docs/catalog.md && "
    "keycare catalog --contract > docs/data-format.md"
)


def test_catalog_md_is_up_to_date():
    expected = render_catalog(load_catalog(), "md")
    assert (DOCS / "catalog.md").read_text(encoding="utf-8") == expected, REGENERATE


def test_data_format_md_is_up_to_date():
    expected = render_contract(load_contract(), load_catalog(), "md")
    assert (DOCS / "data-format.md").read_text(encoding="utf-8") == expected, REGENERATE


def test_data_format_explains_the_delivery():
    text = (DOCS / "data-format.md").read_text(encoding="utf-8")
    for needle in [
        "manifest.json",
        "business_date",
        "encodings",
        "UTF-8",
        "YYYY-MM-DD HH:MM:SS",
        "Asia/Shanghai",
        "YYYY-MM",
        "quarantined",
        "### `subscribers`",
        "`email`",
    ]:
        assert needle in text, needle


def test_minimum_history_covers_the_deepest_catalog_window():
    deepest = deepest_windows(load_catalog())
    assert set(deepest) <= set(MIN_HISTORY) | {"key_account_members"}
    for name, (offset, unit) in deepest.items():
        if name in MIN_HISTORY:
            assert MIN_HISTORY[name][0] > offset, (name, offset, unit)
