"""Writes of the runs app: one transaction each, taking the acting user, audited."""

from __future__ import annotations

from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _

from keycare.access import roles
from keycare.access.querysets import user_scope
from keycare.core.audit import record
from keycare.engine.risk import registry
from keycare.errors import UserError
from keycare.runs.riskmodels import models_dir

REASON_MAX = 500


def can_promote(user) -> bool:
    """The model decides the whole province's calling lists: province administrators only."""
    role, _scope = user_scope(user)
    return role == roles.ROLE_PROVINCE_ADMIN


def promote_model(actor, version: str, reason: str, *, directory: Path | None = None) -> dict:
    """Make ``version`` the champion the daily run scores with; audited."""
    if actor is not None and not can_promote(actor):
        raise UserError(_("只有省级管理员可以启用风险模型"))
    reason = (reason or "").strip()
    if not reason:
        raise UserError(_("请填写启用原因"))
    directory = directory or models_dir()
    by = actor.get_username() if actor is not None else "command line"
    with transaction.atomic():
        # The audit row first: if the pointer cannot be written, the transaction rolls back.
        record(
            actor,
            "risk.model.promote",
            object_type="risk.model",
            object_id=version,
            version=version,
            reason=reason[:REASON_MAX],
        )
        pointer = registry.promote(directory, version, by=by, reason=reason[:REASON_MAX])
    return pointer
