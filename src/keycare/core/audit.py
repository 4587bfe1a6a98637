"""Write audit events. Every action that must be audited calls ``record`` inside its transaction."""

from __future__ import annotations

from typing import Any

from keycare.core.models import AuditEvent

# Object types written before the apps were split (docs/architecture.md): the same rows under
# their old app label. Audit events are append-only, so readers translate instead.
_MOVED = {
    "workorders": {
        "runs": ("run", "quarantinerow", "detection", "suppression", "runrequest"),
        "tasks": ("servicetask", "taskmoment", "allocationdecision", "outcome", "appointment"),
        "campaigns": ("segment", "campaign", "campaignmanager", "campaigntask"),
        "org": ("department",),
    },
    "customers": {"org": ("province", "city", "county", "grid")},
    "managers": {"org": ("manager", "staffprofile")},
}
MOVED_OBJECT_TYPES = {
    f"{old}.{model}": f"{new}.{model}"
    for old, targets in _MOVED.items()
    for new, models in targets.items()
    for model in models
}


def current_object_type(object_type: str) -> str:
    """The object type as the code names it today (an old label is translated)."""
    return MOVED_OBJECT_TYPES.get(object_type, object_type)


def object_type_aliases(object_type: str) -> list[str]:
    """Every label events of this object type may carry: today's and the one before a move."""
    current = current_object_type(object_type)
    return [current, *(old for old, new in MOVED_OBJECT_TYPES.items() if new == current)]


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
