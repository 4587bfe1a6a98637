"""The contact log: contacts actually made, which the daily run's cool-down counts.

An allocation decision is not a contact -- a call may not connect, an SMS may bounce. Before
each run (``keycare.runs.prerun``) the contacts of the window before the business date are
written to ``<runs dir>/contact_log/contacts.parquet`` (keycare.engine.history), which the
run reads and records as an input (its sha256 is part of the run id).

Sources:
* reached calls: outcomes recorded as 已接通 (reached), dated by the task's business date
  (the day the contact was allocated for, so the cool-down follows the run calendar even
  when an outcome is keyed in a day later);
* any source another app registers with ``register_contact_source`` -- the messaging app
  adds delivered SMS from its delivery receipts this way (dated by the message's business
  date, like calls).

The SMS sender's frequency cap reads the same sources (``contact_dates``) for the customers of
a batch, so the allocation's cool-down and the send-time cap count the same contacts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa

from keycare.engine.history import CONTACT_LOG_SCHEMA, write_contact_log
from keycare.tasks.models import ContactResult, Outcome

# How far back the log reaches: the longest cool-down the allocation settings accept.
CONTACT_LOG_DAYS = 90

# source(since, until, subscribers=None, customer_ids=None) -> (subscriber_id, contact_date,
# channel) for since <= date < until, of ``subscribers`` only when given (None: everybody);
# ``customer_ids``, when given, are the same customers' ids: a source filters by them (its
# foreign-key index) instead of joining customers by subscriber id.
ContactSource = Callable[..., Iterable[tuple[str, date, str]]]
SOURCES: list[ContactSource] = []


def register_contact_source(source: ContactSource) -> None:
    """Add a source of contacts made (e.g. delivered SMS); idempotent."""
    if source not in SOURCES:
        SOURCES.append(source)


def reached_calls(
    since: date,
    until: date,
    subscribers: Collection[str] | None = None,
    customer_ids: Collection[int] | None = None,
) -> Iterable[tuple[str, date, str]]:
    """Outcomes recorded as reached, one per task (several attempts are one contact)."""
    rows = Outcome.objects.filter(
        contact_result=ContactResult.REACHED,
        task__business_date__gte=since,
        task__business_date__lt=until,
    )
    if customer_ids is not None:
        rows = rows.filter(task__customer_id__in=list(customer_ids))
    elif subscribers is not None:
        rows = rows.filter(task__customer__subscriber_id__in=list(subscribers))
    rows = rows.values_list("task__customer__subscriber_id", "task__business_date").distinct()
    for subscriber_id, day in rows.iterator(chunk_size=5000):
        yield subscriber_id, day, "call"


register_contact_source(reached_calls)


def contacts_between(since: date, until: date) -> pa.Table:
    """All sources' contacts in [since, until), deduplicated, in the log's schema."""
    seen: set[tuple[str, date, str]] = set()
    for source in SOURCES:
        seen.update((str(s), d, str(c)) for s, d, c in source(since, until) if s and d)
    ids, days, channels = zip(*sorted(seen), strict=True) if seen else ((), (), ())
    return pa.table(
        {"subscriber_id": list(ids), "contact_date": list(days), "channel": list(channels)},
        schema=CONTACT_LOG_SCHEMA,
    )


def contact_dates(
    subscribers: Collection[str], since: date, customer_ids: Collection[int] | None = None
) -> dict[str, set[date]]:
    """The contact dates from ``since`` on (no end: contacts after the run count too) of
    ``subscribers``, from every source -- the send-time frequency cap's view of the log.
    ``customer_ids``: the same customers' ids when the caller has them (the sources then read
    by customer id, an index, instead of joining customers by subscriber id)."""
    found: dict[str, set[date]] = defaultdict(set)
    if not subscribers:
        return found
    for source in SOURCES:
        rows = source(since, date.max, subscribers=subscribers, customer_ids=customer_ids)
        for subscriber, day, _channel in rows:
            if subscriber and day:
                found[str(subscriber)].add(day)
    return found


def export_contact_log(business_date: date, runs_dir: Path) -> dict:
    """Write the contacts of the ``CONTACT_LOG_DAYS`` before ``business_date`` (a run step)."""
    since = business_date - timedelta(days=CONTACT_LOG_DAYS)
    write_contact_log(runs_dir, contacts_between(since, business_date))
    return {}
