"""Where the churn-risk model registry lives for the application (``KEYCARE_HOME/models``).

The registry itself is keycare.engine.risk.registry; the audited promotion is
keycare.runs.actions.promote_model."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


def models_dir() -> Path:
    """``KEYCARE_HOME/models`` -- where `keycare run` looks by default (beside the runs dir)."""
    return Path(settings.KEYCARE_RUNS_DIR).parent / "models"
