"""Write audit events. Every action that must be audited calls ``record`` inside its transaction."""

from __future__ import annotations

from typing import Any

from keycare.core.models import AuditEvent


def record(
    actor,
    action: str,
    obj: Any = None,
    *,
    object_type: str = "",
    object_id: str = "",
    ip: str | None = None,
    **detail: Any,
) -> AuditEvent:
    """Append one audit event. ``actor`` may be None for system actions (batch loads)."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEvent.objects.create(
        actor=actor if authenticated else None,
        actor_name=actor.get_username() if authenticated else (str(actor) if actor else "system"),
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        detail=detail,
        ip=ip,
    )
