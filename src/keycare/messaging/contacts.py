"""Delivered SMS as contacts made: a source of the contact log (``keycare.tasks.contacts``),
registered in ``MessagingConfig.ready()``. The daily run's cool-down and the sender's
frequency cap (``rules.SendRules.contacted``) both read it."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import date

from keycare.messaging.models import SmsMessage, SmsState


def delivered_sms(
    since: date,
    until: date,
    subscribers: Collection[str] | None = None,
    customer_ids: Collection[int] | None = None,
) -> Iterable[tuple[str, date, str]]:
    """Messages the handset received (delivery receipt 1), dated by their business date --
    the run calendar's day, as reached calls are -- one per customer and day."""
    rows = SmsMessage.objects.filter(
        state=SmsState.DELIVERED, business_date__gte=since, business_date__lt=until
    )
    if customer_ids is not None:  # the index sms_customer_sent (customer, state, ...)
        rows = rows.filter(customer_id__in=list(customer_ids))
    elif subscribers is not None:
        rows = rows.filter(customer__subscriber_id__in=list(subscribers))
    rows = rows.values_list("customer__subscriber_id", "business_date").distinct()
    for subscriber_id, day in rows.iterator(chunk_size=5000):
        yield subscriber_id, day, "sms"
