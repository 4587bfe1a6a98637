"""Training on an operator delivery, and the pipeline step that scores a run.

train_from_delivery(data_dir, models_dir, business_date=None) -> TrainResult
train_on_backend(backend, business_date, models_dir) -> TrainResult
score_risk(backend, business_date, model_dir, scope=None) -> ScoreResult
    registers relation ``risk_scores``: subscriber_id, business_date, risk_probability,
    seed_score, health_tariff_brand, health_call_circle, health_service,
    health_business, reason_1..reason_3, reasons (zh, '；'-joined), model_version.
    Reasons only for scores at or above ``reasons_above`` (the others: none).
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from keycare.engine.risk import DEFAULT_HIGH_RISK
from keycare.engine.risk.features import (
    MODEL_CATEGORICAL,
    MODEL_NUMERIC,
    SEED_FACTORS,
    feature_sql,
    sample_labels_sql,
    training_anchors_sql,
)
from keycare.engine.risk.health import HEALTH_COLUMNS, health_sql
from keycare.engine.risk.model import RiskModel, fit_chosen
from keycare.engine.risk.monitor import drift, not_worse, quality, reference
from keycare.engine.risk.registry import promote, promoted_dir
from keycare.engine.risk.tabular import FeatureSpec, categorical_levels
from keycare.errors import UserError

RELATIONS = ("subscribers", "bills", "events", "call_circle")
HOLDOUT_MONTHS = 1  # the latest as-of month is held out to report honest metrics


@dataclass
class TrainResult:
    version: str
    path: Path
    metrics: dict
    promotion: dict | None = None


@dataclass
class ScoreResult:
    rows: int
    model_version: str
    seconds: float
    drift: dict | None = None
    baseline: dict | None = None
    explained: int = 0  # scores given their reasons (those at or above reasons_above)
    reasons_above: float = DEFAULT_HIGH_RISK


def register_delivery(backend, data_dir: Path) -> None:
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise UserError(f"{data_dir}: not a directory")
    for name in RELATIONS:
        parquet, csv = data_dir / f"{name}.parquet", data_dir / f"{name}.csv"
        if parquet.exists() or (data_dir / name).is_dir():
            backend.register_file(name, parquet if parquet.exists() else data_dir / name)
        elif csv.exists():
            path = str(csv).replace("'", "''")
            backend.create_view(name, f"SELECT * FROM read_csv('{path}', header = true)")
        else:
            raise UserError(f"{data_dir}: missing {name}.parquet or {name}.csv")


def delivery_date(data_dir: Path) -> date:
    manifest = Path(data_dir) / "manifest.json"
    if not manifest.exists():
        raise UserError(f"{data_dir}: no manifest.json; give the business date with --date")
    try:
        return date.fromisoformat(json.loads(manifest.read_text())["business_date"])
    except (ValueError, KeyError) as exc:
        raise UserError(f"{manifest}: no valid business_date ({exc})") from exc


DEFAULT_SAMPLE_ROWS = 200_000  # training rows, whatever the base size (see docs/risk.md)
# DuckDB's memory in the training job: the label pass reads every labelled row of the as-of
# months (80M at 10M subscribers) and, unbounded, peaked at 13.2 GiB; with this limit it
# spills to disk and the job peaked at 4.3 GiB (docs/performance.md).
TRAIN_MEMORY_LIMIT = "4GB"
POSITIVE_SHARE = 0.5  # at most this share of the sample is churners
SAMPLE_BUCKETS = 1_000_000


def draw_sample(backend, business_date: date, max_rows: int = DEFAULT_SAMPLE_ROWS) -> dict:
    """Register ``_risk_sample`` (subscriber_id, as_of, label, weight): a stratified sample of
    the training rows, per as-of month and label, of at most about ``max_rows`` rows.

    Churners are kept up to ``POSITIVE_SHARE`` of the cap, the others fill the rest; within a
    stratum rows are picked by a hash of (subscriber, as-of), so the same data gives the same
    sample. ``weight`` is the inverse of the stratum's rate. Returns what was drawn (kept in
    the model's metadata).
    """
    backend.materialize("_risk_anchors", training_anchors_sql(business_date.isoformat()))
    if not backend.scalar("SELECT count(*) FROM _risk_anchors"):
        raise UserError(
            f"risk train: not enough history before {business_date} "
            "(need 3 closed bill months and a following month of outcomes)"
        )
    backend.materialize("_risk_labels", sample_labels_sql("_risk_anchors"))
    strata = backend.to_arrow(
        "SELECT CAST(as_of AS VARCHAR) AS as_of, label, count(*) AS n FROM _risk_labels"
        " GROUP BY ALL ORDER BY ALL"
    ).to_pylist()
    positives = sum(r["n"] for r in strata if r["label"])
    negatives = sum(r["n"] for r in strata if not r["label"])
    p_rate = min(1.0, max_rows * POSITIVE_SHARE / max(positives, 1))
    n_rate = min(1.0, max(max_rows - positives * p_rate, 0) / max(negatives, 1))
    backend.materialize(
        "_risk_sample",
        f"""SELECT subscriber_id, as_of, label,
               1.0 / CAST(CASE WHEN label THEN {p_rate!r} ELSE {n_rate!r} END AS DOUBLE) AS weight
        FROM _risk_labels
        WHERE hash(subscriber_id, as_of) % {SAMPLE_BUCKETS}
              < CAST(CASE WHEN label THEN {p_rate!r} ELSE {n_rate!r} END AS DOUBLE) * {SAMPLE_BUCKETS}""",
    )
    _free(backend, "_risk_labels")
    return {
        "max_rows": max_rows,
        "population_rows": positives + negatives,
        "population_positives": positives,
        "positive_rate": p_rate,
        "negative_rate": n_rate,
        "rows": backend.scalar("SELECT count(*) FROM _risk_sample"),
        "strata": [{**r, "label": bool(r["label"])} for r in strata],
        "method": "stratified by as-of month and label; hash(subscriber_id, as_of) within",
    }


def _free(backend, *names: str) -> None:
    """Replace intermediate tables by empty ones: their memory goes back at once."""
    for name in names:
        backend.materialize(name, "SELECT 1 AS freed WHERE FALSE")


def training_frame(
    backend, business_date: date, max_rows: int = DEFAULT_SAMPLE_ROWS
) -> tuple[pd.DataFrame, dict]:
    """The sampled training rows with their features, label and weight, and the sample's
    description. Features are built for the sampled rows only, so memory follows the cap,
    not the base size."""
    sample = draw_sample(backend, business_date, max_rows)
    backend.materialize(
        "_risk_train_features", feature_sql("_risk_anchors", keys="_risk_sample", per_date=True)
    )
    frame = (
        backend.to_arrow(
            "SELECT f.*, s.label, s.weight FROM _risk_train_features f"
            " JOIN _risk_sample s USING (subscriber_id, as_of)"
            " ORDER BY f.as_of, f.subscriber_id"
        )
        .to_pandas()
        .reset_index(drop=True)
    )
    _free(backend, "_risk_train_features", "_risk_sample")
    return frame, sample


def _spec(frame: pd.DataFrame) -> FeatureSpec:
    return FeatureSpec(list(MODEL_NUMERIC), categorical_levels(frame, MODEL_CATEGORICAL))


def _capacity(backend) -> int | None:
    """The managers' total daily calls (active managers), when the delivery has them."""
    try:
        total = backend.scalar(
            "SELECT sum(CAST(daily_capacity AS BIGINT)) FROM managers"
            " WHERE COALESCE(CAST(active AS BOOLEAN), FALSE)"
        )
    except Exception:  # no managers relation registered: no capacity figure
        return None
    return int(total) if total else None


def out_of_time(frame: pd.DataFrame, y, w, champion: RiskModel | None, capacity) -> dict | None:
    """Fit on the earlier months, score the latest one: the challenger's honest figures, and
    the champion's on the very same rows."""
    months = sorted(frame["as_of"].unique())
    if len(months) <= HOLDOUT_MONTHS:
        return None
    test = (frame["as_of"] == months[-1]).to_numpy()
    if y[~test].sum() < 3 or not 0 < y[test].sum() < test.sum():
        return None
    # The probe chooses its configuration on the earlier months only, as the final model does
    # on all of them: the held-out month plays no part in the choice.
    probe = fit_chosen(_spec(frame[~test]), frame[~test], y[~test], SEED_FACTORS, w[~test])
    as_of = str(pd.Timestamp(months[-1]).date())
    result = {
        "as_of": as_of,
        "selected": probe.selection["selected"],
        **quality(y[test], probe.raw_score(frame[test]), w[test], capacity),
        "seed_score": quality(y[test], probe.seed_score.predict(frame[test]), w[test], capacity),
    }
    result["seed_score_auc"] = result["seed_score"]["auc"]
    if champion is not None:
        result["champion"] = {
            "version": champion.version,
            # Trained on data including this month: its figures are in-sample (optimistic).
            "saw_test_month": as_of in champion.metadata.get("metrics", {}).get("as_of_dates", []),
            **quality(y[test], champion.raw_score(frame[test]), w[test], capacity),
        }
    return result


def train_on_backend(
    backend,
    business_date: date,
    models_dir: Path,
    *,
    max_rows: int = DEFAULT_SAMPLE_ROWS,
    promote_rule: bool = True,
    progress=None,
) -> TrainResult:
    """Train a challenger on a bounded sample, compare it out of time with the champion, save
    it, and promote it when the rule allows (``promote_rule``)."""
    say = progress or (lambda message: None)
    say("抽样 sampling")
    frame, sample = training_frame(backend, business_date, max_rows)
    y = frame["label"].fillna(False).astype(int).to_numpy()
    w = frame["weight"].to_numpy(dtype=float)
    months = sorted(frame["as_of"].unique())
    metrics: dict = {
        "rows": len(frame),
        "positives": int(y.sum()),
        "as_of_dates": [str(pd.Timestamp(m).date()) for m in months],
    }
    champion_dir = promoted_dir(models_dir)
    champion = RiskModel.load(champion_dir) if champion_dir else None
    say("留出月评估 out-of-time evaluation")
    holdout = out_of_time(frame, y, w, champion, _capacity(backend))
    if holdout:
        metrics["holdout"] = holdout
    say("内部交叉验证选配置并训练 (inner-CV choice, fitting)")
    model = fit_chosen(_spec(frame), frame, y, SEED_FACTORS, w)
    metrics["selection"] = model.selection
    say(f"配置 (inner-CV choice): {model.selection['selected']}")
    path = model.save(
        models_dir,
        extra={
            "metrics": metrics,
            "sample": sample,
            "business_date": business_date.isoformat(),
            "label": "churn or downgrade within one month after the as-of date",
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    decision = _decide(models_dir, model.version, holdout, champion, promote_rule)
    return TrainResult(version=model.version, path=path, metrics=metrics, promotion=decision)


def _champion_figures(holdout: dict | None, champion: RiskModel | None) -> dict | None:
    """The champion's figures to beat: on the challenger's test month when it never saw that
    month; otherwise (it was trained on it, so those figures are in-sample and flattering) its
    own out-of-time figures from when it was trained."""
    if champion is None or not holdout:
        return None
    on_test = holdout.get("champion") or {}
    if not on_test.get("saw_test_month"):
        return on_test
    return champion.metadata.get("metrics", {}).get("holdout") or on_test


def _decide(models_dir, version, holdout, champion, promote_rule: bool) -> dict:
    if champion is not None and champion.version == version:
        return {"promoted": True, "reason": "与在用模型相同 (same as the champion)"}
    if champion is not None and holdout is None:
        ok, reason = False, "无留出月可比较，未启用 (no out-of-time month to compare)"
    else:
        ok, reason = not_worse(holdout or {}, _champion_figures(holdout, champion))
    if ok and promote_rule:
        promote(models_dir, version, by="rule", reason=reason, comparison=holdout)
    elif ok:
        reason += "；未自动启用 (--no-promote)"
    return {"promoted": ok and promote_rule, "reason": reason}


def train_from_delivery(
    data_dir: Path,
    models_dir: Path,
    business_date: date | None = None,
    *,
    max_rows: int = DEFAULT_SAMPLE_ROWS,
    promote_rule: bool = True,
    progress=None,
) -> TrainResult:
    from keycare.engine.backends.duckdb import DuckDBBackend

    business_date = business_date or delivery_date(data_dir)
    Path(models_dir).mkdir(parents=True, exist_ok=True)
    # Beside the models, not inside: every folder in models_dir is read as a model version.
    with (
        tempfile.TemporaryDirectory(
            prefix=".keycare-train-spill-", dir=Path(models_dir).parent
        ) as spill,
        DuckDBBackend(threads=2, memory_limit=TRAIN_MEMORY_LIMIT, spill_dir=Path(spill)) as backend,
    ):
        register_delivery(backend, data_dir)
        managers = Path(data_dir) / "managers.parquet"
        if managers.exists():
            backend.register_file("managers", managers)
        return train_on_backend(
            backend,
            business_date,
            models_dir,
            max_rows=max_rows,
            promote_rule=promote_rule,
            progress=progress,
        )


def score_risk(
    backend,
    business_date: date,
    model_dir: Path,
    scope: str | None = None,
    baseline: dict | None = None,
    reasons_above: float = DEFAULT_HIGH_RISK,
) -> ScoreResult:
    """Pipeline step: score every live subscriber (or the live ones in relation ``scope``, a
    distinct list of subscriber_id) as of ``business_date``; registers ``risk_scores``.

    Drift: today's score and numeric inputs against ``baseline`` -- the distributions of the
    first run that scored with this model (its go-live population: the training sample is
    the whole base, the scoring scope only the mid/high tier, so comparing with training
    would always alarm). Without a baseline, today's distributions become it.

    Reasons: for the scores at or above ``reasons_above`` only; the others get none."""
    started = time.perf_counter()
    model = RiskModel.load(model_dir)
    backend.materialize("_risk_score_anchor", f"SELECT DATE '{business_date.isoformat()}' AS as_of")
    backend.materialize("risk_features", feature_sql("_risk_score_anchor", keys=scope))
    frame = backend.to_arrow("SELECT * FROM risk_features ORDER BY subscriber_id").to_pandas()
    health = backend.to_arrow(
        f"SELECT * FROM ({health_sql('risk_features')}) ORDER BY subscriber_id"
    ).to_pandas()
    _free(backend, "risk_features")
    if len(frame):
        proba = model.predict_proba(frame)
        seed = model.seed_score.predict(frame) if model.seed_score else np.full(len(frame), np.nan)
    else:
        proba, seed = np.zeros(0), np.zeros(0)
    explain = proba >= reasons_above
    observed = {c: pd.to_numeric(frame[c], errors="coerce") for c in model.spec.numeric}
    observed["score"] = proba
    if baseline is None or baseline.get("model_version") != model.version:
        baseline = {
            "model_version": model.version,
            "since": business_date.isoformat(),
            "reference": {name: reference(values) for name, values in observed.items()},
        }
    monitored = drift(baseline["reference"], observed) if len(frame) else None
    columns = {
        "subscriber_id": pa.array(frame["subscriber_id"].astype(str), pa.string()),
        "business_date": pa.array([business_date] * len(frame), pa.date32()),
        "risk_probability": pa.array(proba, pa.float64()),
        "seed_score": pa.array(seed, pa.float64()),
        **{c: pa.array(health[c].to_numpy(), pa.float64()) for c in HEALTH_COLUMNS},
    }
    columns.update(_reason_columns(model, frame, explain))
    columns["model_version"] = pa.array([model.version] * len(frame), pa.string())
    backend.register_arrow("_risk_scores_arrow", pa.table(columns))
    backend.materialize("risk_scores", "SELECT * FROM _risk_scores_arrow")
    return ScoreResult(
        len(frame),
        model.version,
        time.perf_counter() - started,
        monitored,
        baseline,
        explained=int(explain.sum()),
        reasons_above=reasons_above,
    )


def _reason_columns(model: RiskModel, frame: pd.DataFrame, explain: np.ndarray) -> dict:
    """reason_1..reason_3 and reasons ('；'-joined) of the rows where ``explain`` holds; the
    other rows have none."""
    top = np.full((len(frame), 3), None, dtype=object)
    joined = np.full(len(frame), "", dtype=object)
    rows = np.flatnonzero(explain)
    if len(rows):
        for row, reasons in zip(rows, model.explain(frame.iloc[rows], k=3), strict=True):
            top[row, : len(reasons)] = reasons
            joined[row] = "；".join(reasons)
    return {
        **{f"reason_{i + 1}": pa.array(top[:, i], pa.string()) for i in range(3)},
        "reasons": pa.array(joined, pa.string()),
    }
