"""``keycare risk evaluate``: the default model and the seed score on any churn table.

Stratified K-fold (default 5, seed 42): in each fold the default RiskModel (with its
calibration) and the SeedScore baseline are fitted on the training part and score the held-out
part; metrics are computed on the pooled out-of-fold scores:
- auc: ROC AUC of the model's raw scores (ranking quality);
- lift_top_decile: churn rate among the 10% highest scores / overall churn rate;
- accuracy: calibrated probability >= 0.5 against the label.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from keycare.engine.risk.model import fit_chosen
from keycare.engine.risk.seed_score import SeedScore
from keycare.engine.risk.tabular import FeatureSpec, categorical_levels, infer_spec
from keycare.errors import UserError


def read_table(path: Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt", ".gz"):
            return pd.read_csv(path, low_memory=False)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot be read as {suffix[1:]} ({exc})") from exc
    raise UserError(f"{path}: unsupported format {suffix or '(none)'}; use .csv or .parquet")


def label_vector(frame: pd.DataFrame, label: str, positive: str) -> np.ndarray:
    if label not in frame.columns:
        raise UserError(
            f"label column {label!r} not found (columns: {', '.join(map(str, frame.columns))})"
        )
    series = frame[label]
    text = series.astype("string").str.strip()
    hits = (text == str(positive).strip()).fillna(False).to_numpy()
    if not hits.any() and pd.api.types.is_numeric_dtype(series):
        with contextlib.suppress(ValueError):
            hits = (series == float(positive)).fillna(False).to_numpy()
    if not hits.any():
        seen = ", ".join(sorted(map(str, text.dropna().unique()[:10])))
        raise UserError(
            f"positive value {positive!r} not found in column {label!r} (values: {seen})"
        )
    return hits.astype(int)


def top_decile_lift(y: np.ndarray, score: np.ndarray) -> float:
    n = max(1, math.ceil(len(y) * 0.1))
    top = np.argsort(-score, kind="stable")[:n]
    return float(y[top].mean() / y.mean())


def evaluate_frame(
    frame: pd.DataFrame,
    label: str,
    positive: str,
    id_column: str | None = None,
    folds: int = 5,
    seed: int = 42,
    select: bool = True,
) -> dict:
    """``select``: in each outer fold choose the configuration by inner CV on the training
    part only (keycare.engine.risk.model.fit_chosen, the function `risk train` uses); otherwise
    the shallow default."""
    y = label_vector(frame, label, positive)
    if id_column is not None and id_column not in frame.columns:
        raise UserError(f"id column {id_column!r} not found")
    if folds < 2:
        raise UserError(f"--folds must be at least 2, got {folds}")
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    if positives < folds or negatives < folds:
        raise UserError(
            f"need at least {folds} positive and {folds} negative rows for {folds} folds "
            f"(found {positives} positive, {negatives} negative)"
        )
    features = frame.drop(columns=[c for c in (label, id_column) if c is not None])
    spec = infer_spec(features)
    if not spec.features:
        raise UserError("no feature columns left besides the label and id")
    raw = np.zeros(len(y))
    proba = np.zeros(len(y))
    selected: list[str] = []
    seed_scores = np.zeros(len(y))
    split = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for train, test in split.split(features, y):
        # Categorical levels come from the training part only: unseen values are missing.
        fold_spec = FeatureSpec(
            spec.numeric, categorical_levels(features.iloc[train], spec.categorical), spec.dropped
        )
        model = fit_chosen(fold_spec, features.iloc[train], y[train], select=select, seed=seed)
        selected.append(model.selection["selected"])
        raw[test] = model.raw_score(features.iloc[test])
        proba[test] = model.calibrate(raw[test])
        baseline = SeedScore().fit(
            features.iloc[train], y[train], spec.numeric, list(spec.categorical)
        )
        seed_scores[test] = baseline.predict(features.iloc[test])
    return {
        "rows": int(len(y)),
        "positives": positives,
        "model": {
            "auc": round(float(roc_auc_score(y, raw)), 4),
            "lift_top_decile": round(top_decile_lift(y, raw), 3),
            "accuracy": round(float(((proba >= 0.5).astype(int) == y).mean()), 4),
        },
        "baseline_seed_score": {
            "auc": round(float(roc_auc_score(y, seed_scores)), 4),
            "lift_top_decile": round(top_decile_lift(y, seed_scores), 3),
        },
        "features": {"numeric": spec.numeric, "categorical": list(spec.categorical)},
        "dropped": spec.dropped,
        "folds": folds,
        "seed": seed,
        "selected": selected,
    }


def evaluate_file(path: Path, label: str, positive: str, **kwargs) -> dict:
    return evaluate_frame(read_table(path), label, positive, **kwargs)


def summary_table(result: dict) -> str:
    lines = [
        f"rows {result['rows']}, positives {result['positives']} "
        f"({result['positives'] / result['rows']:.1%}), {result['folds']}-fold stratified, seed {result['seed']}",
        f"features: {len(result['features']['numeric'])} numeric, "
        f"{len(result['features']['categorical'])} categorical"
        + (
            f"; left out: {', '.join(f'{k} ({v})' for k, v in result['dropped'].items())}"
            if result["dropped"]
            else ""
        ),
        f"configuration per outer fold (inner-CV choice): {', '.join(result['selected'])}",
        f"{'model':<22}{'AUC':>8}{'lift@10%':>10}{'accuracy':>10}",
        f"{'LightGBM (default)':<22}{result['model']['auc']:>8.4f}"
        f"{result['model']['lift_top_decile']:>10.3f}{result['model']['accuracy']:>10.4f}",
        f"{'seed score baseline':<22}{result['baseline_seed_score']['auc']:>8.4f}"
        f"{result['baseline_seed_score']['lift_top_decile']:>10.3f}{'-':>10}",
    ]
    return "\n".join(lines)
