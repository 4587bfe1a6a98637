"""The churn-risk model registry as the application sees it: where it lives, and the
audited promotion an administrator makes from the models page or the command line.

The registry itself (files under ``KEYCARE_HOME/models``) is keycare.engine.risk.registry;
this module adds the Django side: the configured location, the acting user, the audit event.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from keycare.access import roles
from keycare.access.querysets import user_scope
from keycare.core.audit import record
from keycare.engine.risk import registry
from keycare.errors import UserError


def models_dir() -> Path:
    """``KEYCARE_HOME/models`` -- where `keycare run` looks by default (beside the runs dir)."""
    return Path(settings.KEYCARE_RUNS_DIR).parent / "models"


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
        pointer = registry.promote(directory, version, by=by, reason=reason[:500])
        record(
            actor,
            "risk.model.promote",
            object_type="risk.model",
            object_id=version,
            previous=pointer["previous"],
            reason=reason[:500],
        )
    return pointer
