"""Consent and legal basis per purpose (PIPL): reading who opted out, and recording a choice.

Every proactive contact from a moment -- the daily run's tasks and SMS, the real-time path's
tasks and SMS -- is personalised marketing in the sense of Art. 24 (it is pushed on the
strength of automated profiling), so a customer who refused it gets none of them.
"""

from __future__ import annotations

from collections.abc import Iterable

from keycare.customers.models import ConsentPurpose, ConsentRecord


def opted_out(purpose: str, customer_ids: Iterable[int] | None = None) -> set[int]:
    """Customers (of ``customer_ids``, or all) who opted out of ``purpose``."""
    rows = ConsentRecord.objects.filter(purpose=purpose, opted_out=True)
    if customer_ids is not None:
        rows = rows.filter(customer_id__in=list(customer_ids))
    return set(rows.values_list("customer_id", flat=True))


def opted_out_of_marketing(customer_ids: Iterable[int] | None = None) -> set[int]:
    return opted_out(ConsentPurpose.MARKETING, customer_ids)
