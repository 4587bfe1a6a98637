"""Writes to the customer archive. Each runs in one transaction and writes its audit event."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from keycare.customers.loader import load_delivery
from keycare.customers.models import LoadBatch


def load(directory: str | Path, actor=None, progress: Callable[[str], None] | None = None):
    """Load a delivery directory (``keycare load DIR``); returns the ``LoadBatch``.

    Raises ``keycare.errors.UserError`` (and writes nothing) when the delivery is incomplete
    or malformed.
    """
    return load_delivery(directory, actor, progress=progress)


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
