"""``keycare load`` and the key-account archive: optional files, legacy tiers, history."""

from __future__ import annotations

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from customers.conftest import DeliveryBuilder
from keycare.keyaccounts.models import (
    KeyAccount,
    KeyAccountChange,
    KeyAccountContract,
    KeyAccountProduct,
    KeyAccountRevenue,
    KeyPerson,
)

pytestmark = pytest.mark.django_db
D = date.fromisoformat


def _archive_rows() -> dict[str, list[dict]]:
    product = {
        "product_id": "P1",
        "key_account_id": "K001",
        "product_type": "data_line",
        "name": "数据专线（100M）",
        "informatization": True,
        "bandwidth_mbps": 100,
        "quantity": None,
        "monthly_fee": 6000.0,
        "sla_availability": 99.95,
        "sla_response_minutes": 30,
        "sla_restore_hours": 4.0,
        "start_date": D("2024-01-01"),
        "end_date": None,
        "status": "active",
    }
    person = {
        "person_id": "KP1",
        "key_account_id": "K001",
        "role": "decision_maker",
        "name": "张总",
        "title": "总经理",
        "mobile": "13912345678",
        "birth_date": D("1970-05-06"),
        "subscriber_id": "S007",
        "reports_to": None,
        "influence": 5,
        "attitude": "supporter",
    }
    return {
        "key_account_revenue": [
            {
                "key_account_id": "K001",
                "month": m,
                "total_revenue": 100000.0,
                "info_revenue": 30000.0,
            }
            for m in ("2026-08", "2026-09", "2026-10")
        ],
        "key_account_products": [
            product,
            {
                **product,
                "product_id": "P2",
                "product_type": "vpmn",
                "name": "V网",
                "informatization": False,
            },
        ],
        "key_persons": [
            person,
            {
                **person,
                "person_id": "KP2",
                "role": "finance",
                "name": "李会计",
                "mobile": "13912345679",
                "subscriber_id": None,
                "reports_to": "KP1",
            },
        ],
        "key_account_contracts": [
            {
                "contract_id": "HT1",
                "key_account_id": "K001",
                "title": "全业务合作框架协议",
                "contract_type": "framework",
                "signed_date": D("2025-01-01"),
                "start_date": D("2025-01-10"),
                "end_date": D("2027-01-09"),
                "renewal_date": D("2026-11-10"),
                "amount": 500000.0,
                "status": "active",
            }
        ],
    }


@pytest.fixture
def delivery(tmp_path) -> DeliveryBuilder:
    builder = DeliveryBuilder(tmp_path / "delivery")
    builder.rows.update(_archive_rows())
    builder.write()
    return builder


def load(path, **options) -> str:
    out = StringIO()
    call_command("load", str(path), stdout=out, **options)
    return out.getvalue()


def test_archive_files_load_with_links(delivery):
    out = load(delivery.path)

    assert "key_persons.parquet: 读入 2 行" in out
    ka = KeyAccount.objects.get(key_account_id="K001")
    assert (ka.tier, ka.delivered_tier, ka.archive) == ("A1", "A1", "active")
    assert KeyAccountRevenue.objects.filter(key_account=ka).count() == 3
    assert set(ka.products.values_list("product_type", flat=True)) == {"data_line", "vpmn"}
    boss, finance = KeyPerson.objects.order_by("person_id")
    assert boss.customer.subscriber_id == "S007" and finance.customer is None
    assert finance.reports_to == boss
    assert KeyAccountContract.objects.get().renewal_date == D("2026-11-10")


def test_an_older_delivery_without_the_archive_files_still_loads_and_keeps_them(delivery):
    load(delivery.path)
    for name in _archive_rows():
        (delivery.path / f"{name}.parquet").unlink()

    load(delivery.path)

    assert KeyAccountProduct.objects.count() == 2 and KeyPerson.objects.count() == 2
    assert KeyAccount.objects.get(key_account_id="K002").tier == "B1"  # legacy B


def test_a_delivered_file_replaces_what_is_stored_and_changes_are_history(delivery):
    load(delivery.path)
    delivery.rows["key_account_products"].pop()
    delivery.rows["key_accounts"][0].update(tier="B", status="churned")
    delivery.write()

    load(delivery.path)

    assert list(KeyAccountProduct.objects.values_list("product_id", flat=True)) == ["P1"]
    ka = KeyAccount.objects.get(key_account_id="K001")
    assert (ka.tier, ka.delivered_tier, ka.archive, ka.version) == ("A1", "B1", "retained", 2)
    changes = {c.field: (c.old_value, c.new_value) for c in KeyAccountChange.objects.all()}
    assert changes["delivered_tier"] == ("A1", "B1")
    assert changes["status"] == ("active", "churned")
    assert all(c.source == "load" for c in KeyAccountChange.objects.all())


def test_a_bad_archive_row_is_quarantined_and_the_rest_loaded(delivery):
    delivery.rows["key_account_products"][1]["product_type"] = "telegraph"
    delivery.write()

    load(delivery.path, quarantine_limit="60%")

    assert list(KeyAccountProduct.objects.values_list("product_id", flat=True)) == ["P1"]


def test_an_unknown_group_in_an_archive_file_refuses_the_delivery(delivery):
    delivery.rows["key_account_contracts"][0]["key_account_id"] = "K999"
    delivery.write()

    with pytest.raises(CommandError) as caught:
        load(delivery.path)

    assert "key_account_contracts.parquet" in str(caught.value) and "K999" in str(caught.value)
    assert not KeyAccount.objects.exists()
