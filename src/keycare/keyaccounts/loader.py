"""Loading the key-account archive from a delivery (called by ``keycare load``).

``sync_key_accounts`` keeps the groups, writing every changed field to the change history;
``sync_archive`` keeps the optional archive files (revenue, products, key persons, contracts):
a file that was not delivered leaves what is stored as it is, a delivered one replaces it
(rows created, updated and removed by key). Bulk: one read of what is stored per file.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from django.utils import timezone

from keycare.keyaccounts.models import (
    ChangeSource,
    KeyAccount,
    KeyAccountArchive,
    KeyAccountChange,
    KeyAccountContract,
    KeyAccountProduct,
    KeyAccountRevenue,
    KeyPerson,
    read_tier,
)

ARCHIVE_FILES = [
    "key_account_revenue",
    "key_account_products",
    "key_persons",
    "key_account_contracts",
]
BATCH = 2000
# Delivered fields of a group whose changes go to the history (the rest are reference codes).
TRACKED = [
    "name",
    "industry",
    "delivered_tier",
    "manager_id",
    "annual_revenue",
    "credit_rating",
    "status",
    "employees",
    "strategic",
    "address",
]


def _money(value) -> Decimal | None:
    return None if value is None else Decimal(str(round(value, 2)))


def _group_values(r: dict, codes: dict) -> dict:
    status = r["status"]
    values = {
        "name": r["name"],
        "industry": r["industry"],
        "delivered_tier": read_tier(r.get("tier")),
        "city_id": codes["city"][r["city_id"]],
        "manager_id": codes["manager"].get(r.get("manager_id")),
        "annual_revenue": _money(r.get("annual_revenue")),
        "credit_rating": r.get("credit_rating") or "",
        "points": r.get("points"),
        "status": status,
        "archive": KeyAccountArchive.RETAINED if status == "churned" else KeyAccountArchive.ACTIVE,
        "created_date": r["created_date"],
    }
    # Columns an older delivery does not carry keep what is stored (a manager may have set them).
    for name in ("employees", "strategic", "address"):
        if r.get(name) is not None:
            values[name] = r[name]
    return values


def sync_key_accounts(rows: list[dict], codes: dict, counts: dict) -> dict[str, int]:
    """Create or update the groups of a delivery; {key_account_id: pk}.

    A new group starts at its delivered tier (KeyCare's own comes with ``keycare tiers``);
    a changed field of a stored group is written to its history and bumps its version.
    """
    existing = {ka.key_account_id: ka for ka in KeyAccount.objects.all()}
    new, changed, history = [], [], []
    update_fields = {"version", "updated_at"}
    now = timezone.now()
    for r in rows:
        values = _group_values(r, codes)
        ka = existing.get(r["key_account_id"])
        if ka is None:
            new.append(
                KeyAccount(
                    key_account_id=r["key_account_id"],
                    tier=values["delivered_tier"] or "C",
                    **values,
                )
            )
            continue
        diffs = {n: (getattr(ka, n), v) for n, v in values.items() if getattr(ka, n) != v}
        if not diffs:
            continue
        ka.version += 1
        ka.updated_at = now
        update_fields.update(diffs)
        for name, (old, value) in diffs.items():
            setattr(ka, name, value)
            if name in TRACKED:
                history.append(_change(ka, name, old, value, ChangeSource.LOAD))
        changed.append(ka)
    KeyAccount.objects.bulk_create(new, batch_size=BATCH)
    if changed:
        KeyAccount.objects.bulk_update(changed, sorted(update_fields), batch_size=BATCH)
    KeyAccountChange.objects.bulk_create(history, batch_size=BATCH)
    counts["key_accounts"] = {
        "created": len(new),
        "updated": len(changed),
        "total": len(rows),
        "changes": len(history),
    }
    return dict(KeyAccount.objects.values_list("key_account_id", "pk"))


def _change(ka, name, old, new, source, by=None, reason="") -> KeyAccountChange:
    return KeyAccountChange(
        key_account=ka,
        version=ka.version,
        source=source,
        field=name,
        old_value="" if old is None else str(old),
        new_value="" if new is None else str(new),
        by=by,
        reason=reason,
    )


# --- the optional archive files ---------------------------------------------------------------


def _revenue(r, account_pk, _customer_pk) -> tuple:
    return (
        (account_pk[r["key_account_id"]], r["month"]),
        {"total_revenue": _money(r["total_revenue"]), "info_revenue": _money(r["info_revenue"])},
    )


def _product(r, account_pk, _customer_pk) -> tuple:
    values = {k: r.get(k) for k in PRODUCT_FIELDS}
    values["monthly_fee"] = _money(r.get("monthly_fee"))
    values["key_account_id"] = account_pk[r["key_account_id"]]
    return (r["product_id"],), values


def _person(r, account_pk, customer_pk) -> tuple:
    values = {k: r.get(k) or "" for k in ("role", "name", "title", "mobile", "attitude")}
    values.update(
        key_account_id=account_pk[r["key_account_id"]],
        birth_date=r.get("birth_date"),
        influence=r.get("influence"),
        customer_id=customer_pk.get(r.get("subscriber_id")),
    )
    return (r["person_id"],), values


def _contract(r, account_pk, _customer_pk) -> tuple:
    values = {k: r.get(k) for k in CONTRACT_FIELDS}
    values["amount"] = _money(r.get("amount"))
    values["key_account_id"] = account_pk[r["key_account_id"]]
    return (r["contract_id"],), values


PRODUCT_FIELDS = [
    "product_type",
    "name",
    "informatization",
    "bandwidth_mbps",
    "quantity",
    "sla_availability",
    "sla_response_minutes",
    "sla_restore_hours",
    "start_date",
    "end_date",
    "status",
]
CONTRACT_FIELDS = [
    "title",
    "contract_type",
    "signed_date",
    "start_date",
    "end_date",
    "renewal_date",
    "status",
]
# file -> (model, key fields, row -> (key, values))
SPECS: dict[str, tuple] = {
    "key_account_revenue": (KeyAccountRevenue, ("key_account_id", "month"), _revenue),
    "key_account_products": (KeyAccountProduct, ("product_id",), _product),
    "key_persons": (KeyPerson, ("person_id",), _person),
    "key_account_contracts": (KeyAccountContract, ("contract_id",), _contract),
}


def sync_archive(
    tables: dict[str, list[dict]], account_pk: dict, customer_pk: dict, counts: dict
) -> None:
    """Replace the stored rows of each delivered archive file (``tables``: file -> rows)."""
    for name, rows in tables.items():
        model, key_fields, read = SPECS[name]
        wanted = dict(read(r, account_pk, customer_pk) for r in rows)
        counts[name] = _replace(model, key_fields, wanted)
    if "key_persons" in tables:
        _link_reports(tables["key_persons"])


def _replace(model, key_fields: tuple, wanted: dict[tuple, dict]) -> dict:
    columns = list(next(iter(wanted.values()))) if wanted else []
    stored = {
        tuple(row[f] for f in key_fields): row
        for row in model.objects.values("pk", *key_fields, *columns).iterator(chunk_size=20_000)
    }
    new = [
        model(**dict(zip(key_fields, key, strict=True)), **values)
        for key, values in wanted.items()
        if key not in stored
    ]
    changed = [
        model(pk=stored[key]["pk"], **dict(zip(key_fields, key, strict=True)), **values)
        for key, values in wanted.items()
        if key in stored and any(stored[key][c] != v for c, v in values.items())
    ]
    gone = [row["pk"] for key, row in stored.items() if key not in wanted]
    model.objects.bulk_create(new, batch_size=BATCH)
    if changed:
        model.objects.bulk_update(changed, columns, batch_size=BATCH)
    for start in range(0, len(gone), BATCH):
        model.objects.filter(pk__in=gone[start : start + BATCH]).delete()
    return {
        "created": len(new),
        "updated": len(changed),
        "removed": len(gone),
        "total": len(wanted),
    }


def _link_reports(rows: list[dict]) -> None:
    """Point each key person at the person they report to (same group only)."""
    pk = dict(KeyPerson.objects.values_list("person_id", "pk"))
    group = dict(KeyPerson.objects.values_list("person_id", "key_account_id"))
    links = []
    for r in rows:
        boss = r.get("reports_to")
        target = pk.get(boss) if boss and group.get(boss) == group.get(r["person_id"]) else None
        links.append(KeyPerson(pk=pk[r["person_id"]], reports_to_id=target))
    KeyPerson.objects.bulk_update(links, ["reports_to"], batch_size=BATCH)


def archive_tables(
    table: Callable[[str], list[dict]], delivered: set[str]
) -> dict[str, list[dict]]:
    """The archive files that were delivered, as rows (a missing optional file is skipped)."""
    return {name: table(name) for name in ARCHIVE_FILES if name in delivered}
