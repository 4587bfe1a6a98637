"""Model quality and stability: out-of-time metrics, champion/challenger rule, PSI drift.

Metrics take sample weights because training rows are a stratified sample (all churners up to
a cap, a fraction of the others): a row's weight is the inverse of its stratum's sampling rate,
so lift and precision describe the whole base, not the sample. AUC is unchanged by sampling
within each class but is computed weighted too, for the same figures everywhere.

- AUC of the score;
- top-decile lift: churn rate among the 10% (by weight) highest scores / overall churn rate;
- precision at capacity: churn rate among the ``capacity`` highest-scored customers, the
  number of calls the managers can make in a day -- what a day's calling list actually finds.

Champion/challenger: a challenger is promoted when it is not worse than the champion on the
same out-of-time month: AUC no more than ``AUC_TOLERANCE`` lower and precision at capacity no
more than ``PRECISION_TOLERANCE`` lower (see docs/risk.md).

PSI (population stability index) compares today's distribution of the score and of each
numeric input with the training sample's, over the training deciles:
``sum((today - train) * ln(today / train))``; below 0.1 stable, 0.1-0.25 moderate shift,
above ``PSI_ALERT`` (0.25) an alert shown on the run page.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

AUC_TOLERANCE = 0.005
PRECISION_TOLERANCE = 0.01
PSI_WARN = 0.1
PSI_ALERT = 0.25
PSI_BINS = 10
_EPS = 1e-4


def _weights(y, weights) -> np.ndarray:
    return np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)


def _top_by_weight(score, w, budget: float) -> np.ndarray:
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    cumulative = np.cumsum(w[order])
    return order[: max(1, int(np.searchsorted(cumulative, budget, side="right")))]


def quality(y, score, weights=None, capacity: int | None = None) -> dict:
    """AUC, top-decile lift and precision at capacity of ``score`` against labels ``y``."""
    y = np.asarray(y, dtype=int)
    w = _weights(y, weights)
    base = float((y * w).sum() / w.sum())
    top = _top_by_weight(score, w, 0.1 * w.sum())
    result = {
        "rows": int(len(y)),
        "population": round(float(w.sum())),
        "churn_rate": round(base, 5),
        "auc": round(float(roc_auc_score(y, score, sample_weight=w)), 4)
        if 0 < y.sum() < len(y)
        else None,
        "lift_top_decile": round(float((y[top] * w[top]).sum() / w[top].sum()) / base, 3)
        if base
        else None,
    }
    if capacity:
        picked = _top_by_weight(score, w, float(capacity))
        result["capacity"] = int(capacity)
        result["precision_at_capacity"] = round(
            float((y[picked] * w[picked]).sum() / w[picked].sum()), 4
        )
    return result


def not_worse(challenger: dict, champion: dict | None) -> tuple[bool, str]:
    """The promotion rule; returns (promote?, the reason in Chinese and English)."""
    if not champion:
        return True, "尚无在用模型，新模型直接启用 (no champion yet)"
    auc_ok = (challenger.get("auc") or 0) >= (champion.get("auc") or 0) - AUC_TOLERANCE
    p_new = challenger.get("precision_at_capacity")
    p_old = champion.get("precision_at_capacity")
    precision_ok = p_new is None or p_old is None or p_new >= p_old - PRECISION_TOLERANCE
    figures = (
        f"AUC {challenger.get('auc')} vs {champion.get('auc')}, "
        f"容量精确率 precision@capacity {p_new} vs {p_old}"
    )
    if auc_ok and precision_ok:
        return True, f"新模型不差于在用模型 (challenger not worse): {figures}"
    return False, f"新模型劣于在用模型，未启用 (challenger worse, kept champion): {figures}"


# --------------------------------------------------------------------------- drift


def reference(values, weights=None) -> dict | None:
    """Decile edges of a training distribution and the (weighted) share in each bin."""
    v = np.asarray(values, dtype=float)
    w = _weights(v, weights)
    keep = ~np.isnan(v)
    if keep.sum() < PSI_BINS:
        return None
    edges = np.unique(np.quantile(v[keep], np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
    shares = _shares(v, w, edges)
    return {"edges": edges.tolist(), "shares": shares.tolist()}


def _shares(v: np.ndarray, w: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Weighted share per bin; missing values are a bin of their own (the last)."""
    missing = np.isnan(v)
    bins = np.where(missing, len(edges) + 1, np.searchsorted(edges, v, side="right"))
    counts = np.bincount(bins, weights=w, minlength=len(edges) + 2)
    return counts / max(w.sum(), _EPS)


def psi(ref: dict, values) -> float:
    v = np.asarray(values, dtype=float)
    expected = np.asarray(ref["shares"], dtype=float)
    actual = _shares(v, np.ones(len(v)), np.asarray(ref["edges"], dtype=float))
    expected, actual = np.maximum(expected, _EPS), np.maximum(actual, _EPS)
    return float(((actual - expected) * np.log(actual / expected)).sum())


def drift(references: dict, columns: dict) -> dict:
    """PSI of each column with a reference; ``alert`` when the score or any input passes
    PSI_ALERT. ``columns``: name -> today's values."""
    values = {
        name: round(psi(ref, columns[name]), 4)
        for name, ref in references.items()
        if ref and name in columns
    }
    inputs = {k: v for k, v in values.items() if k != "score"}
    worst = max(inputs.items(), key=lambda kv: kv[1]) if inputs else (None, 0.0)
    alerts = sorted(k for k, v in values.items() if v > PSI_ALERT)
    return {
        "score_psi": values.get("score"),
        "max_input_psi": worst[1],
        "max_input": worst[0],
        "inputs": inputs,
        "threshold": PSI_ALERT,
        "alert": bool(alerts),
        "alerts": alerts,
    }
