"""Training on an operator delivery, and the pipeline step that scores a run.

train_from_delivery(data_dir, models_dir, business_date=None) -> TrainResult
train_on_backend(backend, business_date, models_dir) -> TrainResult
score_risk(backend, business_date, model_dir, scope=None) -> ScoreResult
    registers relation ``risk_scores``: subscriber_id, business_date, risk_probability,
    seed_score, health_tariff_brand, health_call_circle, health_service,
    health_business, reason_1..reason_3, reasons (zh, '；'-joined), model_version.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.metrics import roc_auc_score

from keycare.engine.risk.evaluate import top_decile_lift
from keycare.engine.risk.features import (
    MODEL_CATEGORICAL,
    MODEL_NUMERIC,
    SEED_FACTORS,
    feature_sql,
    label_sql,
    training_anchors_sql,
)
from keycare.engine.risk.health import HEALTH_COLUMNS, health_sql
from keycare.engine.risk.model import RiskModel
from keycare.engine.risk.tabular import FeatureSpec, categorical_levels
from keycare.errors import UserError

RELATIONS = ("subscribers", "bills", "events", "call_circle")
HOLDOUT_MONTHS = 1  # the latest as-of month is held out to report honest metrics


@dataclass
class TrainResult:
    version: str
    path: Path
    metrics: dict


@dataclass
class ScoreResult:
    rows: int
    model_version: str
    seconds: float


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


def training_frame(backend, business_date: date) -> pd.DataFrame:
    backend.materialize("_risk_anchors", training_anchors_sql(business_date.isoformat()))
    anchors = backend.scalar("SELECT count(*) FROM _risk_anchors")
    if not anchors:
        raise UserError(
            f"risk train: not enough history before {business_date} "
            "(need 3 closed bill months and a following month of outcomes)"
        )
    backend.materialize("_risk_train_features", feature_sql("_risk_anchors"))
    backend.materialize("_risk_train_labels", label_sql("_risk_train_features"))
    return (
        backend.to_arrow(
            "SELECT f.*, l.label FROM _risk_train_features f"
            " JOIN _risk_train_labels l USING (subscriber_id, as_of)"
            " WHERE f.bill_total_m1 IS NOT NULL ORDER BY f.as_of, f.subscriber_id"
        )
        .to_pandas()
        .reset_index(drop=True)
    )


def _spec(frame: pd.DataFrame) -> FeatureSpec:
    return FeatureSpec(list(MODEL_NUMERIC), categorical_levels(frame, MODEL_CATEGORICAL))


def train_on_backend(backend, business_date: date, models_dir: Path) -> TrainResult:
    frame = training_frame(backend, business_date)
    y = frame["label"].fillna(False).astype(int).to_numpy()
    months = sorted(frame["as_of"].unique())
    metrics: dict = {
        "rows": len(frame),
        "positives": int(y.sum()),
        "as_of_dates": [str(pd.Timestamp(m).date()) for m in months],
    }
    if len(months) > HOLDOUT_MONTHS:
        # Honest metrics: fit on earlier months, score the latest one (out of time).
        test = (frame["as_of"] == months[-1]).to_numpy()
        if y[~test].sum() >= 3 and 0 < y[test].sum() < test.sum():
            probe = RiskModel(_spec(frame[~test])).fit(frame[~test], y[~test], SEED_FACTORS)
            raw = probe.raw_score(frame[test])
            seed = probe.seed_score.predict(frame[test])
            metrics["holdout"] = {
                "as_of": str(pd.Timestamp(months[-1]).date()),
                "rows": int(test.sum()),
                "auc": round(float(roc_auc_score(y[test], raw)), 4),
                "lift_top_decile": round(top_decile_lift(y[test], raw), 3),
                "seed_score_auc": round(float(roc_auc_score(y[test], seed)), 4),
            }
    model = RiskModel(_spec(frame)).fit(frame, y, SEED_FACTORS)
    path = model.save(
        models_dir,
        extra={
            "metrics": metrics,
            "business_date": business_date.isoformat(),
            "label": "churn or downgrade within one month after the as-of date",
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )
    return TrainResult(version=model.version, path=path, metrics=metrics)


def train_from_delivery(
    data_dir: Path, models_dir: Path, business_date: date | None = None
) -> TrainResult:
    from keycare.engine.backends.duckdb import DuckDBBackend

    business_date = business_date or delivery_date(data_dir)
    with DuckDBBackend(threads=2) as backend:
        register_delivery(backend, data_dir)
        return train_on_backend(backend, business_date, models_dir)


def score_risk(
    backend, business_date: date, model_dir: Path, scope: str | None = None
) -> ScoreResult:
    """Pipeline step: score every live subscriber (or those in relation ``scope``, e.g.
    ``detections``) as of ``business_date``; registers ``risk_scores``."""
    started = time.perf_counter()
    model = RiskModel.load(model_dir)
    backend.materialize("_risk_score_anchor", f"SELECT DATE '{business_date.isoformat()}' AS as_of")
    sql = feature_sql("_risk_score_anchor")
    if scope:
        sql = f"SELECT * FROM ({sql}) WHERE subscriber_id IN (SELECT subscriber_id FROM {scope})"
    backend.materialize("risk_features", sql)
    frame = backend.to_arrow("SELECT * FROM risk_features ORDER BY subscriber_id").to_pandas()
    health = backend.to_arrow(
        f"SELECT * FROM ({health_sql('risk_features')}) ORDER BY subscriber_id"
    ).to_pandas()
    if len(frame):
        proba = model.predict_proba(frame)
        reasons = model.explain(frame, k=3)
        seed = model.seed_score.predict(frame) if model.seed_score else np.full(len(frame), np.nan)
    else:
        proba, reasons, seed = np.zeros(0), [], np.zeros(0)
    columns = {
        "subscriber_id": pa.array(frame["subscriber_id"].astype(str).tolist(), pa.string()),
        "business_date": pa.array([business_date] * len(frame), pa.date32()),
        "risk_probability": pa.array(proba, pa.float64()),
        "seed_score": pa.array(seed, pa.float64()),
        **{c: pa.array(health[c].to_numpy(), pa.float64()) for c in HEALTH_COLUMNS},
    }
    for i in range(3):
        columns[f"reason_{i + 1}"] = pa.array([r[i] if len(r) > i else None for r in reasons])
    columns["reasons"] = pa.array(["；".join(r) for r in reasons], pa.string())
    columns["model_version"] = pa.array([model.version] * len(frame), pa.string())
    backend.register_arrow("_risk_scores_arrow", pa.table(columns))
    backend.materialize("risk_scores", "SELECT * FROM _risk_scores_arrow")
    return ScoreResult(len(frame), model.version, time.perf_counter() - started)
