"""Writes to the customer archive. Each runs in one transaction and writes its audit event."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.db import transaction

from keycare.core.audit import record
from keycare.customers.loader import load_delivery
from keycare.customers.models import ConsentPurpose, ConsentRecord, LegalBasis, LoadBatch
from keycare.engine.ingest import DEFAULT_QUARANTINE_LIMIT


def load(
    directory: str | Path,
    actor=None,
    progress: Callable[[str], None] | None = None,
    quarantine_limit: float = DEFAULT_QUARANTINE_LIMIT,
):
    """Load a delivery directory (``keycare load DIR``); returns the ``LoadBatch``.

    Rows breaking the data contract are quarantined, as by ``keycare run``. Raises
    ``keycare.errors.UserError`` (and writes nothing) when the delivery is incomplete or
    unreadable, or a file's quarantined share exceeds ``quarantine_limit``.
    """
    return load_delivery(directory, actor, progress=progress, quarantine_limit=quarantine_limit)


def summary(batch: LoadBatch) -> str:
    """One line for people: what the load changed."""
    other = batch.counts
    return (
        f"load {batch.pk} ({batch.business_date or 'no business date'}): customers "
        f"{batch.created} created, {batch.updated} updated, {batch.unchanged} unchanged, "
        f"{batch.retained} in the retained archive; "
        f"{other.get('managers', {}).get('total', 0)} managers, "
        f"{other.get('key_accounts', {}).get('total', 0)} key accounts, "
        f"{other.get('key_account_members', {}).get('total', 0)} members, "
        f"{other.get('assignment_changes', 0)} assignment changes"
    )


def quarantine_lines(batch: LoadBatch) -> list[str]:
    """One line per delivered file: rows in, loaded, quarantined (by rule, first rows)."""
    lines = []
    for name, f in (batch.counts.get("quarantine") or {}).items():
        line = (
            f"{name}: 读入 {f['rows_in']} 行, 接受 {f['accepted']} 行, 隔离 {f['quarantined']} 行 "
            f"(rows in {f['rows_in']}, accepted {f['accepted']}, quarantined {f['quarantined']})"
        )
        if f["quarantined"]:
            rules = ", ".join(f"{rule} {n}" for rule, n in f["by_rule"].items())
            shown = f["row_numbers"]
            more = ", ..." if f["quarantined"] > len(shown) else ""
            line += f": {rules}; rows {', '.join(map(str, shown))}{more}"
        lines.append(line)
    return lines


def record_consent(
    actor, customer, purpose: str, *, basis: str, opted_out: bool, source: str = ""
) -> ConsentRecord:
    """Record the basis for ``purpose`` and whether the customer opted out (audited)."""
    if purpose not in ConsentPurpose.values or basis not in LegalBasis.values:
        raise ValueError(f"unknown purpose {purpose!r} or basis {basis!r}")
    with transaction.atomic():
        row, _ = ConsentRecord.objects.update_or_create(
            customer=customer,
            purpose=purpose,
            defaults={"basis": basis, "opted_out": opted_out, "source": source[:64]},
        )
        record(actor, "privacy.consent", row, purpose=purpose, basis=basis, opted_out=opted_out)
    return row
