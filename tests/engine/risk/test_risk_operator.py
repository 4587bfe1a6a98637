"""Training on a delivery, versioning, scoring step, reasons, calibration, health scores."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from keycare.engine.backends.duckdb import DuckDBBackend
from keycare.engine.risk.health import HEALTH_COLUMNS, health_sql
from keycare.engine.risk.model import RiskModel
from keycare.engine.risk.operator import register_delivery, score_risk, train_from_delivery
from keycare.engine.risk.reasons import PHRASES
from keycare.errors import UserError

ALL_PHRASES = {
    p for entry in PHRASES.values() for p in ([entry] if isinstance(entry, str) else entry)
}


def test_train_writes_a_versioned_model(trained):
    result, models = trained
    meta = json.loads((result.path / "metadata.json").read_text(encoding="utf-8"))
    assert result.path.name == result.version == meta["version"]
    assert (result.path / "model.txt").read_text().startswith("tree")
    assert "competitor_call_share_m1" in meta["features"] and "brand" in meta["features"]
    assert meta["metrics"]["positives"] > 20
    # Planted signals are found: out-of-time AUC well above chance, seed score above chance.
    assert meta["metrics"]["holdout"]["auc"] > 0.7
    assert meta["metrics"]["holdout"]["seed_score_auc"] > 0.6


def test_same_data_gives_the_same_version(trained, delivery, tmp_path):
    result, _ = trained
    again = train_from_delivery(delivery, tmp_path)
    assert again.version == result.version
    assert (again.path / "model.txt").read_text() == (result.path / "model.txt").read_text()


def test_bounded_training_memory_gives_the_same_model(trained, delivery, tmp_path, monkeypatch):
    import keycare.engine.risk.operator as operator

    # Far below DuckDB's default (80% of RAM; 16MB runs out here): the model must not depend on it.
    monkeypatch.setattr(operator, "TRAIN_MEMORY_LIMIT", "64MB")
    models = tmp_path / "models"
    bounded = train_from_delivery(delivery, models)
    assert bounded.version == trained[0].version
    # The spill folder is removed and was never inside models/ (read as model versions).
    assert [p.name for p in tmp_path.iterdir()] == ["models"]
    assert [p.name for p in models.iterdir() if p.is_dir()] == [bounded.version]


def test_all_phrases_are_distinct_chinese():
    flat = [p for e in PHRASES.values() for p in ([e] if isinstance(e, str) else e)]
    assert len(flat) == len(set(flat))
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in p) for p in flat)


def _scores(delivery, business_date, models, **options):
    with DuckDBBackend(threads=1) as backend:
        register_delivery(backend, delivery)
        scored = score_risk(backend, business_date, models, **options)
        scores = backend.to_arrow("SELECT * FROM risk_scores ORDER BY subscriber_id").to_pandas()
        live = backend.scalar(
            "SELECT count(*) FROM subscribers WHERE NOT (status = 'churned'"
            f" AND status_date <= DATE '{business_date}')"
        )
    return scored, scores, live


def test_score_risk_registers_scores_with_reasons(trained, delivery, business_date):
    result, models = trained
    scored, scores, live = _scores(delivery, business_date, models, reasons_above=0.0)
    assert scored.rows == len(scores) == live == scored.explained
    assert scored.model_version == result.version
    assert (scores["model_version"] == result.version).all()
    assert scores["subscriber_id"].is_unique
    assert scores["risk_probability"].between(0, 1).all()
    for column in HEALTH_COLUMNS:
        assert scores[column].between(0, 100).all()
    for _, row in scores.iterrows():
        reasons = [row["reason_1"], row["reason_2"], row["reason_3"]]
        assert len(set(reasons)) == 3 and set(reasons) <= ALL_PHRASES
        assert row["reasons"] == "；".join(reasons)


def test_only_scores_at_or_above_the_floor_get_reasons(trained, delivery, business_date):
    _, models = trained
    _, everyone, _ = _scores(delivery, business_date, models, reasons_above=0.0)
    floor = float(everyone["risk_probability"].median())
    scored, scores, _ = _scores(delivery, business_date, models, reasons_above=floor)
    above = scores["risk_probability"] >= floor
    assert 0 < above.sum() < len(scores) and scored.explained == above.sum()
    assert scored.reasons_above == floor
    # The same scores; the explained ones keep exactly their reasons, the others have none.
    assert scores["risk_probability"].equals(everyone["risk_probability"])
    assert scores["reasons"][above].equals(everyone["reasons"][above])
    assert scores[~above][["reason_1", "reason_2", "reason_3"]].isna().all().all()
    assert (scores["reasons"][~above] == "").all()


def test_reasons_follow_the_contributions(trained, delivery):
    _, models = trained
    model = RiskModel.load(models)
    frame = pd.DataFrame(
        [
            {
                "competitor_call_share_m1": 0.9,
                "competitor_share_change_3m": 0.5,
                "complaints_90d": 4,
            },
            {"competitor_call_share_m1": 0.05, "competitor_share_change_3m": 0.0},
        ]
    )
    contributions = model.contributions(frame)
    reasons = model.explain(frame)
    for i in range(len(frame)):
        top = contributions.iloc[i].sort_values(ascending=False, kind="stable").index[:3]
        assert len(reasons[i]) == 3
        for feature, phrase in zip(top, reasons[i], strict=True):
            entry = PHRASES[feature]
            assert phrase in ([entry] if isinstance(entry, str) else entry)


def test_calibration_is_monotone_and_bounded(trained):
    _, models = trained
    model = RiskModel.load(models)
    raw = np.linspace(-20, 20, 401)
    proba = model.calibrate(raw)
    assert ((proba >= 0) & (proba <= 1)).all()
    assert (np.diff(proba) >= 0).all()


def test_health_scores_follow_the_documented_formulas():
    rows = pd.DataFrame(
        [
            {"subscriber_id": "healthy"},
            {
                "subscriber_id": "sick",
                "bill_change_pct_m1": -60.0,
                "overage_fee_m1": 30.0,
                "supplementary_fee_m1": 0.0,
                "bill_total_m1": 100.0,
                "days_to_contract_end": 10,
                "arrears_amount": 50.0,
                "competitor_call_share_m1": 0.4,
                "competitor_call_share_m3": 0.3,
                "core_contacts_churned_m1": 2,
                "complaints_30d": 1,
                "complaints_90d": 2,
                "bill_queries_60d": 1,
                "fault_reports_7d": 0,
                "portability_inquiries_30d": 1,
                "voice_change_pct_m1": -50.0,
                "data_mb_m1": 500.0,
                "data_mb_m2": 1000.0,
                "days_silent": 3,
            },
        ]
    )
    for column in (
        "bill_change_pct_m1 overage_fee_m1 supplementary_fee_m1 bill_total_m1 days_to_contract_end "
        "arrears_amount competitor_call_share_m1 competitor_call_share_m3 core_contacts_churned_m1 "
        "complaints_30d complaints_90d bill_queries_60d fault_reports_7d portability_inquiries_30d "
        "voice_change_pct_m1 data_mb_m1 data_mb_m2 days_silent"
    ).split():
        rows[column] = pd.to_numeric(rows[column])
    with DuckDBBackend(threads=1) as backend:
        import pyarrow as pa

        backend.register_arrow("view", pa.Table.from_pandas(rows))
        got = backend.to_arrow(f"{health_sql('view')} ORDER BY subscriber_id").to_pylist()
    healthy = next(r for r in got if r["subscriber_id"] == "healthy")
    sick = next(r for r in got if r["subscriber_id"] == "sick")
    assert all(healthy[c] == 100 for c in HEALTH_COLUMNS)
    assert sick["health_tariff_brand"] == pytest.approx(100 - 40 - 30 - 20 - 5)
    assert sick["health_call_circle"] == pytest.approx(100 - 40 - 20 - 20)
    assert sick["health_service"] == pytest.approx(100 - 40 - 5 - 0 - 30)
    assert sick["health_business"] == pytest.approx(100 - 30 - 20 - 3)


def test_missing_delivery_files_and_models_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="missing subscribers"):
        train_from_delivery(tmp_path, tmp_path / "models", date(2026, 11, 22))
    with pytest.raises(UserError, match="no manifest.json"):
        train_from_delivery(tmp_path, tmp_path / "models")
    with pytest.raises(UserError, match="no trained model"):
        RiskModel.load(tmp_path)


def test_train_chooses_its_configuration_by_inner_cv(trained):
    """`risk train` fits through the same function as `risk evaluate` (fit_chosen): the
    configuration is chosen by inner CV on the training sample and recorded."""
    from keycare.engine.risk.model import CANDIDATE_PARAMS, DEFAULT_PARAMS

    result, _ = trained
    meta = json.loads((result.path / "metadata.json").read_text(encoding="utf-8"))
    selection = meta["selection"]
    assert set(selection["inner_auc"]) == set(CANDIDATE_PARAMS)
    assert all(0.5 < auc <= 1 for auc in selection["inner_auc"].values())
    chosen = selection["selected"]
    # The recorded parameters are the chosen candidate's, and no other candidate beat it.
    assert meta["params"] == {**DEFAULT_PARAMS, **CANDIDATE_PARAMS[chosen]}
    best = max(selection["inner_auc"].values())
    assert selection["inner_auc"][chosen] >= best - 0.001
    assert meta["metrics"]["selection"] == selection
    # The out-of-time probe made its own choice on the earlier months only.
    assert meta["metrics"]["holdout"]["selected"] in CANDIDATE_PARAMS


def test_fit_chosen_can_keep_the_shallow_default(delivery, business_date):
    from keycare.engine.risk.features import SEED_FACTORS
    from keycare.engine.risk.model import DEFAULT_PARAMS, fit_chosen
    from keycare.engine.risk.operator import _spec, training_frame

    with DuckDBBackend(threads=1) as backend:
        register_delivery(backend, delivery)
        frame, _ = training_frame(backend, business_date)
    y = frame["label"].fillna(False).astype(int).to_numpy()
    model = fit_chosen(_spec(frame), frame, y, SEED_FACTORS, select=False)
    assert model.selection == {"selected": "shallow", "inner_auc": None}
    assert model.params == DEFAULT_PARAMS
