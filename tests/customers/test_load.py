"""``keycare load``: counts, idempotency, history, assignments, retained archive, bad input."""

from __future__ import annotations

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from keycare.core.models import AuditEvent
from keycare.customers import loader
from keycare.customers.models import Assignment, Customer, CustomerHistory, LoadBatch
from keycare.keyaccounts.models import KeyAccount, KeyAccountMember
from keycare.org.models import City, County, Department, Grid, Manager, Province

pytestmark = pytest.mark.django_db

ARCHIVED = ["S001", "S002", "S003", "S004", "S005", "S006", "S007", "S009"]


def load(path) -> str:
    out = StringIO()
    call_command("load", str(path), stdout=out)
    return out.getvalue()


def snapshot() -> dict:
    return {
        model.__name__: model.objects.count()
        for model in (
            Province,
            City,
            County,
            Grid,
            Manager,
            KeyAccount,
            KeyAccountMember,
            Customer,
            CustomerHistory,
            Assignment,
        )
    }


def test_load_into_empty_database(delivery):
    output = load(delivery.path)

    assert snapshot() == {
        "Province": 1,
        "City": 2,
        "County": 4,
        "Grid": 4,
        "Manager": 3,
        "KeyAccount": 2,
        "KeyAccountMember": 3,
        "Customer": 8,
        "CustomerHistory": 0,
        "Assignment": 6,
    }
    assert sorted(Customer.objects.values_list("subscriber_id", flat=True)) == ARCHIVED
    assert "8 created, 0 updated, 0 unchanged, 1 in the retained archive" in output
    batch = LoadBatch.objects.get()
    assert (batch.created, batch.updated, batch.unchanged, batch.retained) == (8, 0, 0, 1)
    assert batch.business_date == date(2026, 11, 22)
    assert set(batch.checksums) == {f"{name}.parquet" for name in loader.FILES}
    assert batch.counts["assignments_outside_archive"] == 1
    event = AuditEvent.objects.get(action="load")
    assert event.detail["created"] == 8 and event.object_id == str(batch.pk)


def test_first_load_brings_the_default_departments_once(delivery):
    """A work order needs a department: the first load creates the defaults (province-wide and
    per city); later loads leave the administrators' list alone."""
    load(delivery.path)
    departments = set(Department.objects.values_list("name", "city__code"))
    cities = set(City.objects.values_list("code", flat=True))
    assert {("网络部", None), ("账务中心", None), ("政企部", None)} <= departments
    assert {(name, code) for name in ("家宽装维", "营业厅") for code in cities} <= departments
    assert LoadBatch.objects.get().counts["departments_created"] == len(departments) == 3 + 2 * 2
    Department.objects.filter(name="网络部").update(active=False)
    Department.objects.filter(name="营业厅").delete()
    load(delivery.path)
    assert Department.objects.count() == 5 and not Department.objects.get(name="网络部").active
    assert AuditEvent.objects.filter(action="department.defaults").count() == 1


def test_loaded_values(delivery):
    load(delivery.path)

    s001 = Customer.objects.get(subscriber_id="S001")
    assert s001.city.name == "南京市" and s001.grid.code == "G0251"
    assert s001.manager.manager_id == "M001"
    assert s001.key_account.key_account_id == "K001"  # from membership: no key_account_id
    assert str(s001.plan_fee) == "188.00"
    assert s001.attributes["balance"] == 53.5 and s001.attributes["vip_card"] == "gold"
    assert "msisdn" not in s001.attributes and "city_id" not in s001.attributes
    assert Customer.objects.get(subscriber_id="S007").value_tier == "mass"
    assert Customer.objects.get(subscriber_id="S009").archive == "retained"
    assert Customer.objects.filter(archive="active").count() == 7
    assert KeyAccountMember.objects.get(customer__subscriber_id="S007").role == "key_person"
    current = Assignment.objects.get(customer=s001)
    assert current.end_date is None and current.start_date == date(2026, 1, 1)


def test_loading_twice_changes_nothing(delivery):
    load(delivery.path)
    before = snapshot()
    hashes = dict(Customer.objects.values_list("subscriber_id", "row_hash"))

    output = load(delivery.path)

    assert snapshot() == before
    assert dict(Customer.objects.values_list("subscriber_id", "row_hash")) == hashes
    assert "0 created, 0 updated, 8 unchanged" in output
    assert LoadBatch.objects.count() == 2 and AuditEvent.objects.filter(action="load").count() == 2


def test_csv_delivery_equals_parquet_delivery(delivery, tmp_path):
    csv = delivery.copy(tmp_path / "csv")
    csv.write(fmt="csv")
    load(csv.path)
    assert Customer.objects.count() == 8

    output = load(delivery.path)  # the same data as Parquet: nothing to change

    assert "0 created, 0 updated, 8 unchanged" in output
    assert CustomerHistory.objects.count() == 0


def test_changed_plan_is_one_update_and_one_history_row(delivery):
    load(delivery.path)
    delivery.subscriber("S002").update(plan_code="GT288", plan_fee=288.0)
    delivery.write()

    output = load(delivery.path)

    assert "0 created, 1 updated, 7 unchanged" in output
    history = CustomerHistory.objects.get()
    assert history.customer.subscriber_id == "S002"
    assert history.changes == {"plan_code": ["GT188", "GT288"], "plan_fee": ["188.00", "288.00"]}
    assert history.load == LoadBatch.objects.order_by("-pk").first()
    assert Customer.objects.get(subscriber_id="S002").plan_code == "GT288"

    load(delivery.path)
    assert CustomerHistory.objects.count() == 1


def test_attribute_change_is_recorded_per_key(delivery):
    load(delivery.path)
    delivery.subscriber("S003")["balance"] = -20.0
    delivery.write()

    load(delivery.path)

    assert CustomerHistory.objects.get().changes == {"attributes.balance": [55.5, -20.0]}


def test_churned_subscriber_moves_to_retained_archive(delivery):
    load(delivery.path)
    delivery.subscriber("S003").update(status="churned", status_date=date(2026, 11, 20))
    delivery.write()

    output = load(delivery.path)

    s003 = Customer.objects.get(subscriber_id="S003")
    assert s003.archive == "retained"
    assert "1 updated" in output and "2 in the retained archive" in output
    assert CustomerHistory.objects.get().changes["archive"] == ["active", "retained"]


def test_downgraded_customer_stays_archived_with_history(delivery):
    load(delivery.path)
    delivery.subscriber("S006")["value_tier"] = "mass"
    delivery.write()

    load(delivery.path)

    assert Customer.objects.get(subscriber_id="S006").value_tier == "mass"
    assert CustomerHistory.objects.get().changes == {"value_tier": ["mid_high", "mass"]}


def test_reassignment_closes_the_old_period(delivery):
    load(delivery.path)
    for row in delivery.rows["assignments"]:
        if row["subscriber_id"] == "S001":
            row.update(manager_id="M002", assigned_date=date(2026, 11, 1))
    delivery.rows["assignments"] = [
        r for r in delivery.rows["assignments"] if r["subscriber_id"] != "S002"
    ]
    delivery.write()

    load(delivery.path)

    periods = list(Assignment.objects.filter(customer__subscriber_id="S001").order_by("pk"))
    assert [(p.manager.manager_id, p.start_date, p.end_date) for p in periods] == [
        ("M001", date(2026, 1, 1), date(2026, 11, 1)),
        ("M002", date(2026, 11, 1), None),
    ]
    s002 = Customer.objects.get(subscriber_id="S002")
    assert s002.manager is None
    assert Assignment.objects.get(customer=s002).end_date == date(2026, 11, 22)
    assert CustomerHistory.objects.filter(changes__has_key="manager").count() == 2

    load(delivery.path)
    assert Assignment.objects.count() == 7


def test_membership_changes(delivery):
    load(delivery.path)
    delivery.rows["key_account_members"] = [
        {**m, "role": "key_person"} if m["subscriber_id"] == "S001" else m
        for m in delivery.rows["key_account_members"]
        if m["subscriber_id"] != "S004"
    ]
    delivery.write()

    load(delivery.path)

    members = dict(KeyAccountMember.objects.values_list("customer__subscriber_id", "role"))
    assert members == {"S001": "key_person", "S007": "key_person"}


def _drop_column(delivery, name, column):
    for row in delivery.rows[name]:
        row.pop(column)
    delivery.write()


def _corrupt(delivery, name):
    (delivery.path / f"{name}.parquet").write_bytes(b"PAR1 this is not parquet")


def _missing_file(delivery, name):
    (delivery.path / f"{name}.parquet").unlink()


def _set(delivery, file, index, **values):
    delivery.rows[file][index].update(values)
    delivery.write()


def _add(delivery, file, values):
    delivery.rows[file].append(values)
    delivery.write()


BAD_DELIVERIES = {
    "missing file": (lambda d: _missing_file(d, "key_accounts"), "key_accounts.parquet"),
    "corrupt parquet": (lambda d: _corrupt(d, "subscribers"), "subscribers.parquet"),
    "missing column": (lambda d: _drop_column(d, "subscribers", "plan_code"), "plan_code"),
    # One bad row in ten is a 10% quarantine: above the default limit of 5%, as for the run.
    "quarantine above the limit": (
        lambda d: _set(d, "subscribers", 0, brand="other"),
        "subscribers.parquet 隔离率 10.00%",
    ),
    "unknown city": (lambda d: _set(d, "subscribers", 1, city_id="C999"), "C999"),
    "bad manifest": (
        lambda d: (d.path / "manifest.json").write_text("{not json"),
        "manifest.json",
    ),
}


@pytest.mark.parametrize("case", BAD_DELIVERIES)
def test_bad_delivery_is_refused_and_loads_nothing(delivery, case):
    spoil, expected = BAD_DELIVERIES[case]
    spoil(delivery)

    with pytest.raises(CommandError) as caught:
        load(delivery.path)

    assert caught.value.returncode == 2
    assert expected in str(caught.value) and "\n" not in str(caught.value)
    assert set(snapshot().values()) == {0}
    assert not LoadBatch.objects.exists() and not AuditEvent.objects.exists()


QUARANTINED_ROWS = {
    "bad enum": (lambda d: _set(d, "subscribers", 5, brand="other"), "subscribers", 6, "enum"),
    "null required": (  # a fourth manager, whom nothing refers to
        lambda d: _add(
            d, "managers", {**d.rows["managers"][0], "manager_id": "M004", "name": None}
        ),
        "managers",
        4,
        "required",
    ),
    "duplicate id": (
        lambda d: _set(d, "subscribers", 7, subscriber_id="S006"),
        "subscribers",
        8,
        "duplicate_key",
    ),
}


@pytest.mark.parametrize("case", QUARANTINED_ROWS)
def test_a_row_breaking_the_contract_is_quarantined_and_the_rest_loaded(delivery, case):
    spoil, file, row_number, rule = QUARANTINED_ROWS[case]
    spoil(delivery)
    out = StringIO()

    call_command("load", str(delivery.path), quarantine_limit="50%", stdout=out)

    batch = LoadBatch.objects.get()
    report = batch.counts["quarantine"][f"{file}.parquet"]
    rows_in = len(delivery.rows[file])
    assert report == {
        "rows_in": rows_in,
        "accepted": rows_in - 1,
        "quarantined": 1,
        "by_rule": {rule: 1},
        "row_numbers": [row_number],
    }
    others = [f for name, f in batch.counts["quarantine"].items() if name != f"{file}.parquet"]
    assert len(others) == len(loader.FILES) - 1 and not any(f["quarantined"] for f in others)
    assert f"{file}.parquet: 读入 {rows_in} 行, 接受 {rows_in - 1} 行, 隔离 1 行" in out.getvalue()
    assert f"{rule} 1; rows {row_number}" in out.getvalue()
    assert Customer.objects.filter(subscriber_id="S006").exists() == (case != "bad enum")
    assert Manager.objects.filter(manager_id="M004").exists() is False
    assert Manager.objects.count() == 3
    assert Customer.objects.count() == (7 if case == "bad enum" else 8)


def test_missing_directory(tmp_path):
    with pytest.raises(CommandError) as caught:
        load(tmp_path / "nowhere")
    assert caught.value.returncode == 2 and "nowhere" in str(caught.value)


def test_failure_half_way_rolls_everything_back(delivery, monkeypatch):
    load(delivery.path)
    before = snapshot()
    delivery.subscriber("S002")["plan_code"] = "GT288"
    delivery.write()

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(loader, "_sync_members", explode)
    with pytest.raises(RuntimeError):
        load(delivery.path)

    assert snapshot() == before
    assert Customer.objects.get(subscriber_id="S002").plan_code == "GT188"
    assert LoadBatch.objects.count() == 1
