"""Load a delivery into the application: organisation, managers, key accounts, the customer
archive, memberships and assignments. Bulk and idempotent.

The archive holds every high-value individual subscriber (``value_tier = mid_high``), every
member of a key account, and every subscriber already archived (so a downgrade to ``mass`` is
recorded as a change rather than lost). Churned subscribers go to the retained archive.

Change detection never reads rows one by one: each customer's delivered record is hashed; the
hashes of all archived customers are read once into a dict, and only rows whose hash differs
are fetched (in batches) to compute the field-level history.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from django.db import transaction
from django.utils import timezone

from keycare.core import audit
from keycare.customers import bulk
from keycare.customers.delivery import Delivery, open_delivery
from keycare.customers.models import Archive, Assignment, Customer, CustomerHistory, LoadBatch
from keycare.engine.ingest import DEFAULT_QUARANTINE_LIMIT
from keycare.errors import UserError
from keycare.keyaccounts import loader as ka_loader
from keycare.keyaccounts.models import KeyAccountMember
from keycare.org.actions import ensure_default_departments
from keycare.org.models import City, County, Grid, Manager, Province

FILES = [
    "org",
    "managers",
    "key_accounts",
    "key_account_members",
    "assignments",
    "subscribers",
]
# Read too when delivered: the optional key-account archive files.
READ_FILES = FILES + ka_loader.ARCHIVE_FILES
BATCH = 5000
UPDATE_BATCH = 1000

# Customer fields taken from the subscribers file as they are (column == field name).
PLAIN_FIELDS = [
    "msisdn",
    "name",
    "id_number",
    "gender",
    "birth_date",
    "address",
    "join_date",
    "brand",
    "plan_code",
    "plan_fee",
    "payment_type",
    "status",
    "status_date",
    "value_tier",
    "star_level",
    "credit_score",
    "points",
]
TEXT_FIELDS = {"id_number", "gender", "address"}  # stored as "" when absent
# Foreign keys: field -> (subscribers column, path of the referenced code for reading back).
CODE_FIELDS = {
    "city": ("city_id", "city__code"),
    "county": ("county_id", "county__code"),
    "grid": ("grid_id", "grid__code"),
    "key_account": ("key_account_id", "key_account__key_account_id"),
    "manager": (None, "manager__manager_id"),  # from assignments
}
RECORD_FIELDS = [*PLAIN_FIELDS, *CODE_FIELDS, "archive"]
# Database columns written for a customer (besides subscriber_id and created_at).
CUSTOMER_COLUMNS = [
    *PLAIN_FIELDS,
    *(f"{name}_id" for name in CODE_FIELDS),
    "archive",
    "attributes",
    "row_hash",
    "updated_at",
]
NOT_ATTRIBUTES = {"subscriber_id", *PLAIN_FIELDS, *(c for c, _ in CODE_FIELDS.values() if c)}


@dataclass
class LoadCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    retained: int = 0
    other: dict = field(default_factory=dict)


def load_delivery(
    directory: str | Path,
    actor=None,
    *,
    progress: Callable | None = None,
    quarantine_limit: float = DEFAULT_QUARANTINE_LIMIT,
):
    """Load one delivery directory in one transaction; returns the LoadBatch.

    The files are read by the run's ingest: rows breaking the contract are quarantined
    (reported per file in ``LoadBatch.counts["quarantine"]``) and the rest is loaded.
    """
    say = progress or (lambda _msg: None)
    say("checking the delivery against the data contract")
    with open_delivery(directory, READ_FILES, quarantine_limit) as delivery:
        return _load(directory, delivery, actor, say)


def _load(directory, delivery: Delivery, actor, say) -> LoadBatch:
    say("reading small files")
    org = delivery.table("org")
    managers = delivery.table("managers")
    key_accounts = delivery.table("key_accounts")
    members = delivery.table("key_account_members")
    assignments = delivery.table("assignments")
    existing = _existing_customers()
    say(f"{len(existing)} customers already archived; reading subscribers")
    member_ids = set(members["subscriber_id"].to_pylist())
    subscribers = _archive_rows(delivery, member_ids | existing.keys())
    _check_references(delivery, org, managers, key_accounts, members, assignments, subscribers)
    archive = ka_loader.archive_tables(
        lambda name: delivery.table(name).to_pylist(), set(delivery.files)
    )
    _check_archive_references(delivery, key_accounts, archive)
    _check_members_archived(delivery, member_ids, subscribers, existing)
    checksums = delivery.checksums()
    with transaction.atomic():
        batch = LoadBatch.objects.create(
            source_dir=str(Path(directory).resolve()),
            business_date=delivery.business_date,
            checksums=checksums,
            by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        counts = LoadCounts()
        say("organisation, managers, key accounts")
        codes = _sync_org(org.to_pylist(), counts)
        # A first load brings the departments work orders go to (none yet: the defaults).
        counts.other["departments_created"] = ensure_default_departments(actor)
        codes["manager"] = _sync_managers(managers.to_pylist(), codes, counts)
        codes["key_account"] = _sync_key_accounts(key_accounts.to_pylist(), codes, counts)
        say(f"customers ({subscribers.num_rows})")
        loader = CustomerLoader(batch, codes, existing, _assignment_map(assignments), counts)
        loader.load(subscribers, _membership_map(members), say)
        _sync_members(members.to_pylist(), codes["key_account"], loader.customer_pks, counts)
        say("key-account archive: revenue, products, key persons, contracts")
        ka_loader.sync_archive(archive, codes["key_account"], loader.customer_pks, counts.other)
        counts.other["absent"] = len(existing.keys() - loader.seen)
        counts.other["quarantine"] = delivery.quarantine_summary()
        counts.other["assignments_outside_archive"] = assignments.num_rows - sum(
            sid in loader.customer_pks for sid in assignments["subscriber_id"].to_pylist()
        )
        _finish(batch, counts, actor)
    return batch


def _finish(batch: LoadBatch, counts: LoadCounts, actor) -> None:
    batch.created, batch.updated = counts.created, counts.updated
    batch.unchanged, batch.retained = counts.unchanged, counts.retained
    batch.counts = counts.other
    batch.finished_at = timezone.now()
    batch.save()
    audit.record(
        actor,
        "load",
        batch,
        source_dir=batch.source_dir,
        business_date=batch.business_date.isoformat() if batch.business_date else None,
        created=batch.created,
        updated=batch.updated,
        unchanged=batch.unchanged,
        retained=batch.retained,
        **counts.other,
    )


# --- reading -------------------------------------------------------------------------------


def _existing_customers() -> dict[str, tuple[int, str]]:
    rows = Customer.objects.values_list("subscriber_id", "pk", "row_hash")
    return {sid: (pk, digest) for sid, pk, digest in rows.iterator(chunk_size=20_000)}


def _archive_rows(delivery: Delivery, also: set[str]) -> pa.Table:
    """Subscribers that belong in the archive (filtered by the engine: the file may be huge)."""
    delivery.register(
        "_archive_also", pa.table({"subscriber_id": pa.array(sorted(also), pa.string())})
    )
    return delivery.table(
        "subscribers",
        where="value_tier = 'mid_high' "
        "OR subscriber_id IN (SELECT subscriber_id FROM _archive_also)",
    )


def _check_references(delivery, org, managers, key_accounts, members, assignments, subs):
    grids, counties = set(org["grid_id"].to_pylist()), set(org["county_id"].to_pylist())
    cities = set(org["city_id"].to_pylist())
    manager_ids = set(managers["manager_id"].to_pylist())
    account_ids = set(key_accounts["key_account_id"].to_pylist())
    checks = [
        ("managers", managers, "city_id", cities),
        ("managers", managers, "grid_id", grids),
        ("key_accounts", key_accounts, "city_id", cities),
        ("key_accounts", key_accounts, "manager_id", manager_ids),
        ("key_account_members", members, "key_account_id", account_ids),
        ("assignments", assignments, "manager_id", manager_ids),
        ("subscribers", subs, "city_id", cities),
        ("subscribers", subs, "county_id", counties),
        ("subscribers", subs, "grid_id", grids),
        ("subscribers", subs, "key_account_id", account_ids),
    ]
    for name, table, column, known in checks:
        if column not in table.column_names:
            continue
        unknown = {v for v in table[column].to_pylist() if v is not None} - known
        if unknown:
            raise UserError(
                f"{delivery.paths[name]}: column {column} has {len(unknown)} unknown value(s), "
                f"e.g. {sorted(unknown)[0]!r}"
            )


def _check_archive_references(delivery, key_accounts, archive: dict[str, list[dict]]):
    known = set(key_accounts["key_account_id"].to_pylist())
    for name, rows in archive.items():
        unknown = {r["key_account_id"] for r in rows} - known
        if unknown:
            raise UserError(
                f"{delivery.paths[name]}: column key_account_id has {len(unknown)} unknown "
                f"value(s), e.g. {sorted(unknown)[0]!r}"
            )


def _check_members_archived(delivery, member_ids: set, subscribers: pa.Table, existing: dict):
    archived = set(subscribers["subscriber_id"].to_pylist()) | existing.keys()
    if unknown := member_ids - archived:
        raise UserError(
            f"{delivery.paths['key_account_members']}: {len(unknown)} member(s) not in "
            f"{delivery.paths['subscribers'].name}, e.g. {sorted(unknown)[0]!r}"
        )


def _assignment_map(assignments: pa.Table) -> dict[str, tuple[str, date]]:
    return {
        row["subscriber_id"]: (row["manager_id"], row["assigned_date"])
        for row in assignments.to_pylist()
    }


def _membership_map(members: pa.Table) -> dict[str, str]:
    """subscriber -> a key account they belong to (for subscribers without key_account_id)."""
    # Descending, so that for several memberships the smallest key account id wins.
    ordered = members.sort_by([("key_account_id", "descending")])
    return dict(
        zip(
            ordered["subscriber_id"].to_pylist(),
            ordered["key_account_id"].to_pylist(),
            strict=True,
        )
    )


# --- small reference tables ------------------------------------------------------------------


def _sync(model, key: str, wanted: dict[str, dict], counts: LoadCounts, label: str):
    """Create or update ``model`` rows keyed by ``key`` to match ``wanted``; {key: pk}."""
    existing = {getattr(obj, key): obj for obj in model.objects.all()}
    new, changed = [], []
    for code, values in wanted.items():
        obj = existing.get(code)
        if obj is None:
            new.append(model(**{key: code}, **values))
        elif any(getattr(obj, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(obj, name, value)
            changed.append(obj)
    model.objects.bulk_create(new, batch_size=BATCH)
    if changed:
        model.objects.bulk_update(changed, list(next(iter(wanted.values()))), UPDATE_BATCH)
    counts.other[label] = {"created": len(new), "updated": len(changed), "total": len(wanted)}
    return dict(model.objects.values_list(key, "pk"))


def _sync_org(rows: list[dict], counts: LoadCounts) -> dict[str, dict[str, int]]:
    provinces = {r["province_id"]: {"name": r["province_name"]} for r in rows}
    province_pk = _sync(Province, "code", provinces, counts, "provinces")
    cities = {
        r["city_id"]: {"name": r["city_name"], "province_id": province_pk[r["province_id"]]}
        for r in rows
    }
    city_pk = _sync(City, "code", cities, counts, "cities")
    counties = {
        r["county_id"]: {"name": r["county_name"], "city_id": city_pk[r["city_id"]]} for r in rows
    }
    county_pk = _sync(County, "code", counties, counts, "counties")
    grids = {
        r["grid_id"]: {
            "name": r["grid_name"],
            "county_id": county_pk[r["county_id"]],
            "city_id": city_pk[r["city_id"]],
        }
        for r in rows
    }
    grid_pk = _sync(Grid, "code", grids, counts, "grids")
    return {"city": city_pk, "county": county_pk, "grid": grid_pk}


def _sync_managers(rows: list[dict], codes: dict, counts: LoadCounts) -> dict[str, int]:
    wanted = {
        r["manager_id"]: {
            "name": r["name"],
            "mobile": r["mobile"],
            "city_id": codes["city"][r["city_id"]],
            "grid_id": codes["grid"].get(r.get("grid_id")),
            "role": r["role"],
            "daily_capacity": r["daily_capacity"],
            "active": r["active"],
        }
        for r in rows
    }
    return _sync(Manager, "manager_id", wanted, counts, "managers")


def _sync_key_accounts(rows: list[dict], codes: dict, counts: LoadCounts) -> dict[str, int]:
    return ka_loader.sync_key_accounts(rows, codes, counts.other)


def _sync_members(rows: list[dict], account_pk: dict, customer_pk: dict, counts: LoadCounts):
    wanted = {
        (account_pk[r["key_account_id"]], customer_pk[r["subscriber_id"]]): (
            r["role"],
            r["joined_date"],
        )
        for r in rows
    }
    existing = {
        (ka, cust): (pk, role, joined)
        for pk, ka, cust, role, joined in KeyAccountMember.objects.values_list(
            "pk", "key_account_id", "customer_id", "role", "joined_date"
        ).iterator(chunk_size=20_000)
    }
    new = [
        (ka, c, role, joined)
        for (ka, c), (role, joined) in wanted.items()
        if (ka, c) not in existing
    ]
    changed = [
        (existing[k][0], *v) for k, v in wanted.items() if k in existing and existing[k][1:] != v
    ]
    gone = [pk for k, (pk, *_rest) in existing.items() if k not in wanted]
    columns = ["key_account_id", "customer_id", "role", "joined_date"]
    bulk.insert_rows(KeyAccountMember, columns, new)
    bulk.update_rows(KeyAccountMember, ["role", "joined_date"], changed)
    for chunk in _chunks(gone, BATCH):
        KeyAccountMember.objects.filter(pk__in=chunk).delete()
    counts.other["key_account_members"] = {
        "created": len(new),
        "updated": len(changed),
        "removed": len(gone),
        "total": len(wanted),
    }


# --- the archive -----------------------------------------------------------------------------


class CustomerLoader:
    """Creates and updates customers batch by batch, with history and assignment periods."""

    def __init__(self, batch: LoadBatch, codes: dict, existing: dict, assigned: dict, counts):
        self.batch, self.codes, self.existing = batch, codes, existing
        self.assigned, self.counts = assigned, counts
        self.customer_pks = {sid: pk for sid, (pk, _h) in existing.items()}
        self.seen: set[str] = set()
        self.today = batch.business_date or timezone.localdate()
        self.now = timezone.now()
        self.history = 0
        self.assignment_changes = 0

    def load(self, subscribers: pa.Table, membership: dict[str, str], say) -> None:
        done = 0
        for chunk in subscribers.to_batches(max_chunksize=BATCH):
            core = chunk.select([c for c in chunk.schema.names if c in NOT_ATTRIBUTES])
            attributes = _attribute_rows(chunk)
            records = [
                self._record(row, attrs, membership)
                for row, attrs in zip(core.to_pylist(), attributes, strict=True)
            ]
            self._load_records(records)
            done += len(records)
            say(f"customers {done}/{subscribers.num_rows}")
        self.counts.other["history"] = self.history
        self.counts.other["assignment_changes"] = self.assignment_changes

    def _record(self, row: dict, attributes: dict, membership: dict[str, str]) -> dict:
        sid = row["subscriber_id"]
        record = {name: _clean(row.get(name), name) for name in PLAIN_FIELDS}
        for name, (column, _path) in CODE_FIELDS.items():
            record[name] = row.get(column) if column else None
        record["key_account"] = record["key_account"] or membership.get(sid)
        manager, assigned_date = self.assigned.get(sid, (None, None))
        record["manager"] = manager
        record["archive"] = Archive.RETAINED if row["status"] == "churned" else Archive.ACTIVE
        record["attributes"] = attributes
        record["attributes_json"] = json.dumps(attributes, sort_keys=True, ensure_ascii=False)
        record["subscriber_id"], record["assigned_date"] = sid, assigned_date
        record["row_hash"] = _hash(record)
        return record

    def _load_records(self, records: list[dict]) -> None:
        new, changed = [], []
        for record in records:
            sid = record["subscriber_id"]
            self.seen.add(sid)
            self.counts.retained += record["archive"] == Archive.RETAINED
            known = self.existing.get(sid)
            if known is None:
                new.append(record)
            elif known[1] != record["row_hash"]:
                changed.append((known[0], record))
            else:
                self.counts.unchanged += 1
        self._create(new)
        self._update(changed)

    def _create(self, records: list[dict]) -> None:
        if not records:
            return
        columns = ["subscriber_id", *CUSTOMER_COLUMNS, "created_at"]
        bulk.insert_rows(
            Customer,
            columns,
            [(r["subscriber_id"], *self._values(r), self.now) for r in records],
        )
        ids = [r["subscriber_id"] for r in records]
        self.customer_pks.update(
            Customer.objects.filter(subscriber_id__in=ids).values_list("subscriber_id", "pk")
        )
        self._start_assignments(
            (self.customer_pks[r["subscriber_id"]], r) for r in records if r["manager"]
        )
        self.counts.created += len(records)

    def _update(self, changed: list[tuple[int, dict]]) -> None:
        if not changed:
            return
        old_rows = self._old_records([pk for pk, _r in changed])
        rows, history, moved = [], [], []
        for pk, record in changed:
            diff = _diff(old_rows[pk], record)
            rows.append((pk, *self._values(record)))
            if not diff:  # same data, different hash recipe: refresh the hash only
                self.counts.unchanged += 1
                continue
            self.counts.updated += 1
            history.append((pk, self.batch.pk, self.now, json.dumps(diff, ensure_ascii=False)))
            if "manager" in diff:
                moved.append((pk, record))
        bulk.update_rows(Customer, CUSTOMER_COLUMNS, rows)
        bulk.insert_rows(CustomerHistory, ["customer_id", "load_id", "at", "changes"], history)
        self.history += len(history)
        self._move_assignments(moved)

    def _values(self, record: dict) -> tuple:
        """Values of CUSTOMER_COLUMNS for a record."""
        ids = tuple(self.codes[name].get(record[name]) for name in CODE_FIELDS)
        plain = tuple(record[name] for name in PLAIN_FIELDS)
        return (
            *plain,
            *ids,
            record["archive"],
            record["attributes_json"],
            record["row_hash"],
            self.now,
        )

    def _old_records(self, pks: list[int]) -> dict[int, dict]:
        paths = {name: path for name, (_col, path) in CODE_FIELDS.items()}
        rows = Customer.objects.filter(pk__in=pks).values(
            "pk", *PLAIN_FIELDS, "archive", "attributes", *paths.values()
        )
        out = {}
        for row in rows:
            for name, path in paths.items():
                row[name] = row.pop(path)
            out[row.pop("pk")] = row
        return out

    def _move_assignments(self, moved: list[tuple[int, dict]]) -> None:
        """Close the current period of customers whose manager changed; open the new one."""
        if not moved:
            return
        ends = {pk: record["assigned_date"] or self.today for pk, record in moved}
        current = Assignment.objects.filter(customer_id__in=list(ends), end_date__isnull=True)
        closing = [
            (pk, max(ends[customer], start))
            for pk, customer, start in current.values_list("pk", "customer_id", "start_date")
        ]
        bulk.update_rows(Assignment, ["end_date"], closing)
        self._start_assignments([(pk, r) for pk, r in moved if r["manager"]])
        self.assignment_changes += len(moved)

    def _start_assignments(self, starts: Iterable[tuple[int, dict]]) -> None:
        periods = [
            (
                pk,
                self.codes["manager"][record["manager"]],
                record["assigned_date"] or self.today,
                None,
                self.batch.pk,
            )
            for pk, record in starts
        ]
        columns = ["customer_id", "manager_id", "start_date", "end_date", "load_id"]
        bulk.insert_rows(Assignment, columns, periods)


def _attribute_rows(chunk: pa.RecordBatch) -> list[dict]:
    """The non-core columns of each row as JSON-ready dicts, converted column by column."""
    names = [c for c in chunk.schema.names if c not in NOT_ATTRIBUTES]
    columns = [_json_ready(chunk.column(c)) for c in names]
    table = pa.table(columns, names=names)
    return [{k: v for k, v in row.items() if v is not None} for row in table.to_pylist()]


def _json_ready(values: pa.Array) -> pa.Array:
    kind = values.type
    if pa.types.is_temporal(kind):
        return pc.cast(values, pa.string())
    if pa.types.is_decimal(kind):
        values, kind = pc.cast(values, pa.float64()), pa.float64()
    if pa.types.is_floating(kind):
        return pc.if_else(pc.is_finite(values), values, pa.scalar(None, kind))
    return values


# --- values ----------------------------------------------------------------------------------


def _clean(value, name: str):
    if name == "plan_fee":
        return _money(value)
    if value is None and name in TEXT_FIELDS:
        return ""
    return value


def _money(value) -> Decimal | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _json_value(value):
    """A JSON-safe form of a delivered value (dates as ISO strings, NaN as absent)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _hash(record: dict) -> str:
    payload = {name: _json_value(record[name]) for name in RECORD_FIELDS}
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False) + record["attributes_json"]
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def _diff(old: dict, new: dict) -> dict[str, list]:
    """Changed fields as {field: [old, new]}; attributes per key as ``attributes.<key>``."""
    changes = {
        name: [_json_value(old[name]), _json_value(new[name])]
        for name in RECORD_FIELDS
        if _json_value(old[name]) != _json_value(new[name])
    }
    old_attrs, new_attrs = old["attributes"] or {}, new["attributes"]
    for key in sorted(old_attrs.keys() | new_attrs.keys()):
        if old_attrs.get(key) != new_attrs.get(key):
            changes[f"attributes.{key}"] = [old_attrs.get(key), new_attrs.get(key)]
    return changes


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
