"""The one way personal data is shown: pages, the API and exports take their values from here,
already masked on the server. A template never decides what to mask; it prints what it gets.

- ``masked_customer``: a customer's personal fields (name, number, ID, address, birth date)
  masked by field (``masking.FIELD_MASKS``), from a model instance or a ``values()`` row;
- ``free_text``: what people type (notes, titles, descriptions) with any mobile or ID number
  inside it masked;
- ``customer_text``: a customer's own words (complaint texts) as ``free_text``, with their
  own name and address masked too where they say them;
- ``masked_value``: one value of a named field (catalog or model field code).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keycare.access.masking import FIELD_MASKS, mask_field, scrub_text

IDENTITY = ("name", "msisdn")
PERSONAL_FIELDS = tuple(FIELD_MASKS)


def masked_customer(source: Any, fields=IDENTITY, *, prefix: str = "") -> dict[str, str]:
    """``fields`` of one customer, masked. ``prefix`` reads ``values()`` rows of another model
    (``customer__name``); the keys of the result are the bare field names."""
    if isinstance(source, Mapping):
        return {f: mask_field(f, source.get(prefix + f)) for f in fields}
    return {f: mask_field(f, getattr(source, prefix + f, None)) for f in fields}


def masked_value(code: str, value: Any, *, personal: bool = False) -> Any:
    """``value`` of field ``code``, masked if the field is personal: by its own masker, or,
    for a field the catalog marks ``personal`` without one, keeping only the first character."""
    if code in FIELD_MASKS or not personal:
        return mask_field(code, value)
    if value is None or value == "":
        return ""
    text = str(value)
    return text[:1] + "*" * max(len(text) - 1, 1)


def free_text(value: Any) -> str:
    return scrub_text(str(value)) if value is not None else ""


def customer_text(value: Any, customer) -> str:
    """``free_text`` of what ``customer`` said, with their own name and address (as the
    archive holds them) masked where the text repeats them."""
    text = free_text(value)
    for field in ("name", "address"):
        own = getattr(customer, field, None)
        if own and len(own) >= 2 and own in text:
            text = text.replace(own, mask_field(field, own))
    return text
