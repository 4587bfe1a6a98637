"""What every workflow write shares: the errors a user sees, and optimistic locking.

A versioned row (a task, a work order) changes only through ``versioned_update``:
``UPDATE ... WHERE id=? AND version=? AND <state> IN (...)``, bumping the version. When no row
matches, someone else changed it first (``StaleTaskError``) or its state forbids the change
(``IllegalTransitionError``), and the message says which.
"""

from __future__ import annotations

from django.db.models import F
from django.utils import timezone

from keycare.errors import UserError


class WorkflowError(UserError):
    """A workflow request that cannot be carried out; the message is shown to the user."""


class StaleTaskError(WorkflowError):
    """Someone else changed the task (or work order) since the user loaded it."""


class IllegalTransitionError(WorkflowError):
    """The requested change is not allowed from the row's current state."""


def versioned_update(
    obj, version, *, state_field: str, from_states, action: str, noun: str, **fields
):
    """Apply ``fields`` if ``obj`` is still at ``version`` and in one of ``from_states``.

    Always bumps the version, so two writers working from the same version cannot both win.
    ``noun`` names the row in messages (任务, 工单); ``action`` is what the user tried.
    """
    model = type(obj)
    expected = obj.version if version is None else int(version)
    updated = model.objects.filter(
        pk=obj.pk, version=expected, **{f"{state_field}__in": from_states}
    ).update(version=F("version") + 1, updated_at=timezone.now(), **fields)
    if updated:
        # Only what this update wrote: any other change would have bumped the version first.
        obj.refresh_from_db(fields=["version", "updated_at", *fields])
        return
    current = model.objects.filter(pk=obj.pk).values("version", state_field).first()
    if current is None:
        raise WorkflowError(f"这个{noun}已不存在")
    labels = dict(model._meta.get_field(state_field).flatchoices)
    label = labels.get(current[state_field], current[state_field])
    if current["version"] != expected:
        raise StaleTaskError(f"这个{noun}已被他人更新（当前状态：{label}），请刷新后重试")
    raise IllegalTransitionError(f"{noun}当前状态为“{label}”，不能{action}")


def check_choice(value, choices, what: str) -> None:
    if value not in choices.values:
        allowed = "、".join(f"{c.value}（{c.label}）" for c in choices)
        raise WorkflowError(f"{what}无效：{value!r}；可选：{allowed}")


def user_or_none(actor):
    return actor if getattr(actor, "is_authenticated", False) else None
