"""The data contract loader: parsing, validation and the catalog extension of subscribers."""

from pathlib import Path

import pytest
import yaml

from keycare.catalog.contract import DEFAULT_CONTRACT_PATH, load_core_contract
from keycare.catalog.delivery import load_contract
from keycare.catalog.fields import load_catalog
from keycare.errors import UserError

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def test_contract_files_and_keys():
    contract = load_contract()
    assert contract.version == 1
    assert contract.table_files == [
        "org",
        "managers",
        "subscribers",
        "bills",
        "usage_weekly",
        "events",
        "call_circle",
        "assignments",
        "key_accounts",
        "key_account_members",
        "key_account_revenue",
        "key_account_products",
        "key_persons",
        "key_account_contracts",
        "key_account_faults",
    ]
    assert contract.files["manifest"].format == "json"
    assert contract.files["bills"].key == ["subscriber_id", "bill_month"]
    msisdn = contract.files["subscribers"].columns["msisdn"]
    assert msisdn.required and msisdn.personal and msisdn.pattern == "^1[3-9][0-9]{9}$"
    assert contract.files["subscribers"].columns["plan_fee"].range == (0, 10000)
    assert "complaint" in contract.files["events"].columns["event_type"].enum
    assert load_contract() is contract  # default load is cached


def test_subscribers_carry_the_extended_catalog_fields_after_the_core_ones():
    contract = load_contract()
    core = load_core_contract().files["subscribers"]
    spec = contract.files["subscribers"]
    extended = [f for f in load_catalog().extended_fields if f.source == "subscribers"]
    assert spec.core_columns == list(core.columns)
    assert spec.extended_columns == [f.column for f in extended]
    assert list(spec.columns) == list(core.columns) + [f.column for f in extended]
    for f in extended:
        col = spec.columns[f.column]
        assert col.extended and not col.required
        assert (col.type, col.personal, col.enum, col.range) == (
            f.type,
            f.personal,
            f.enum,
            f.range,
        )
    assert spec.columns["id_type"].enum[0] == "id_card"
    assert spec.columns["data_5g_share_m1"].range == (0, 1)
    assert spec.columns["email"].personal
    # Files that do not extend from the catalog are untouched.
    assert contract.files["bills"] == load_core_contract().files["bills"]


def _contract_data():
    return yaml.load(DEFAULT_CONTRACT_PATH.read_text(encoding="utf-8"), Loader=LOADER)


def _expect_error(tmp_path: Path, data, *needles):
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(UserError) as info:
        load_core_contract(path)
    message = str(info.value)
    for needle in needles:
        assert needle in message, message


def test_unknown_type(tmp_path):
    data = _contract_data()
    data["files"]["bills"]["fields"]["total_fee"]["type"] = "money"
    _expect_error(tmp_path, data, "'bills'", "'total_fee'", "money")


def test_key_column_must_exist_and_be_required(tmp_path):
    data = _contract_data()
    data["files"]["bills"]["key"] = ["subscriber_id", "month"]
    _expect_error(tmp_path, data, "'bills'", "'month'")
    data = _contract_data()
    data["files"]["bills"]["fields"]["bill_month"]["required"] = False
    _expect_error(tmp_path, data, "'bills'", "'bill_month'", "required")


@pytest.mark.parametrize(
    "column, key, value, needle",
    [
        ("name", "range", [0, 1], "range"),
        ("plan_fee", "range", [10, 1], "above maximum"),
        ("plan_fee", "range", [1], "[min, max]"),
        ("msisdn", "pattern", "^1[", "invalid pattern"),
        ("brand", "enum", ["gotone", "gotone"], "duplicate"),
        ("brand", "enum", [], "non-empty"),
        ("dnd", "required", "yes", "true or false"),
        ("brand", "colour", "red", "unknown key"),
    ],
)
def test_bad_column_definitions(tmp_path, column, key, value, needle):
    data = _contract_data()
    data["files"]["subscribers"]["fields"][column][key] = value
    _expect_error(tmp_path, data, "'subscribers'", f"'{column}'", needle)


def test_file_level_problems(tmp_path):
    data = _contract_data()
    data["files"]["bills"]["format"] = "xml"
    _expect_error(tmp_path, data, "'bills'", "format")
    data = _contract_data()
    del data["files"]["bills"]["key"]
    _expect_error(tmp_path, data, "'bills'", "key")
    data = _contract_data()
    data["version"] = "one"
    _expect_error(tmp_path, data, "version")


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(UserError, match="cannot read"):
        load_core_contract(tmp_path / "nope.yaml")
    bad = tmp_path / "contract.yaml"
    bad.write_text("files: {bills: [", encoding="utf-8")
    with pytest.raises(UserError, match="invalid YAML"):
        load_core_contract(bad)
