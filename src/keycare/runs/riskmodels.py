"""Where the churn-risk model registry lives for the application (``KEYCARE_HOME/models``).

The registry itself is keycare.engine.risk.registry; the audited promotion is
keycare.runs.actions.promote_model."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from keycare.engine.risk import DEFAULT_HIGH_RISK


def models_dir() -> Path:
    """``KEYCARE_HOME/models`` -- where `keycare run` looks by default (beside the runs dir)."""
    return Path(settings.KEYCARE_RUNS_DIR).parent / "models"


def risk_tasks_threshold(text: str | None = None) -> float | None:
    """The risk at or above which customers without a moment become calls in spare capacity:
    ``text`` (a command option), else the KEYCARE_RISK_TASKS_ABOVE setting; None: off."""
    from keycare.core.commands import parse_fraction

    value = text if text else getattr(settings, "KEYCARE_RISK_TASKS_ABOVE", None)
    return parse_fraction(str(value)) if value not in (None, "") else None


def high_risk_threshold() -> float:
    """The churn risk from which a customer counts as high-risk: the high-risk list's default
    threshold and the risk from which the daily run gives scores their reasons
    (KEYCARE_HIGH_RISK, 0..1)."""
    return float(getattr(settings, "KEYCARE_HIGH_RISK", DEFAULT_HIGH_RISK))
