"""Unmasking one customer's personal data: its own permission, a typed reason, an audit event.

``unmask_customer`` is the only way any page or endpoint shows personal data in clear. It is
called for one customer already found through ``restrict()`` (so out of scope stays 404), and:

- without ``access.unmask_personal_data`` records an ``unmask_denied`` event and raises
  ``PermissionDenied`` (403);
- with it, checks the reason (at least ``MIN_REASON_LENGTH`` characters after trimming) and
  records an ``unmask`` event naming the fields shown and the reason, then returns the clear
  values for that one response only (nothing is stored in the session; pages answer no-store).

The task page's dial action and the CTI call list show one field (the number) under their own
rules (``keycare.tasks.actions.dial_task``, the CTI feed); they hand the value out through the
same ``reveal``, so every clear value leaves with an audit event naming what was shown and why.
"""

from __future__ import annotations

import re

from django.core.exceptions import PermissionDenied

from keycare.access.masking import scrub_text
from keycare.core.audit import record
from keycare.errors import UserError

UNMASK_PERMISSION = "access.unmask_personal_data"
UNMASK_FIELDS = ("name", "msisdn", "id_number", "address", "birth_date")
MIN_REASON_LENGTH = 10
MAX_REASON_LENGTH = 500
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def can_unmask(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_perm(UNMASK_PERMISSION))


def clean_reason(reason) -> str:
    """The reason as it will be audited; a ``UserError`` naming what is wrong otherwise."""
    text = _CONTROL_RE.sub("", str(reason or "")).strip()
    if len(text) < MIN_REASON_LENGTH:
        raise UserError(
            f"请填写查看明文的理由（至少 {MIN_REASON_LENGTH} 个字，当前 {len(text)} 个字）"
        )
    if len(text) > MAX_REASON_LENGTH:
        raise UserError(f"理由过长（最多 {MAX_REASON_LENGTH} 个字，当前 {len(text)} 个字）")
    return text


def deny_unless_allowed(actor, customer, *, ip: str | None = None, channel: str = "web") -> None:
    """Raise ``PermissionDenied`` (after auditing the attempt) unless ``actor`` may unmask."""
    if not can_unmask(actor):
        record(actor, "unmask_denied", customer, ip=ip, channel=channel)
        raise PermissionDenied("无权查看明文信息 You may not unmask personal data")


def unmask_customer(actor, customer, reason, *, ip: str | None = None, channel: str = "web"):
    """{field: clear value} for ``customer``; audited. See the module docstring."""
    deny_unless_allowed(actor, customer, ip=ip, channel=channel)
    reason = clean_reason(reason)
    return reveal(actor, "unmask", customer, UNMASK_FIELDS, reason=reason, ip=ip, channel=channel)


def reveal(
    actor,
    action: str,
    customer,
    fields,
    *,
    obj=None,
    reason: str = "",
    ip: str | None = None,
    channel: str = "web",
    **detail,
) -> dict[str, str]:
    """{field: clear value} of ``customer``, after recording ``action`` on ``obj`` (default the
    customer) with the fields shown and the reason. The caller has checked the right to see
    them; this is where every clear value is audited and read."""
    # The reason is free text: a number typed into it must not reach the audit log in clear.
    record(
        actor,
        action,
        customer if obj is None else obj,
        ip=ip,
        channel=channel,
        fields=list(fields),
        reason=scrub_text(reason),
        **detail,
    )
    return clear_values(customer, fields)


def clear_values(customer, fields) -> dict[str, str]:
    """The clear ``fields`` of one customer; only for callers that audit them (``reveal``, or
    one event covering a whole list, as the CTI feed does)."""
    return {field: _text(getattr(customer, field, "")) for field in fields}


def _text(value) -> str:
    if value is None:
        return ""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
