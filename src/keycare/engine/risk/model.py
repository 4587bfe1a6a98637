"""The learned churn model: LightGBM with generic defaults, isotonic calibration, per-feature
contributions, and a versioned on-disk format.

Defaults are generic, not tuned for any one data set: many shallow trees (4 leaves) at a
modest learning rate, at least 50 customers per leaf, L2 regularisation, row and column
subsampling. Churn effects are mostly additive and data sets are small to medium, which is
where shallow boosting is robust. Training is deterministic (fixed seed, deterministic mode,
two threads), so the same data gives the same model and the same version hash.

Calibration: out-of-fold raw scores from a 3-fold split of the training data are mapped to
churn rates with isotonic regression (kept as breakpoints, applied with linear
interpolation), so probabilities are frequencies, not just ranks.

On disk: ``<models_dir>/<version>/model.txt`` (LightGBM text format) and ``metadata.json``
(version, feature spec, calibration, seed-score buckets, medians for reasons, metrics,
training date). ``version`` is a hash of the model content, not of the wall clock.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import StratifiedKFold

from keycare.engine.risk.reasons import top_reasons
from keycare.engine.risk.seed_score import SeedScore
from keycare.engine.risk.tabular import FeatureSpec, prepare
from keycare.errors import UserError

DEFAULT_PARAMS = {
    "objective": "binary",
    "learning_rate": 0.03,
    "n_estimators": 300,
    "num_leaves": 4,
    "min_child_samples": 50,
    "reg_lambda": 5.0,
    "colsample_bytree": 0.7,
    "subsample": 0.8,
    "subsample_freq": 1,
    "max_bin": 63,
    "random_state": 42,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
    "verbose": -1,
}
CALIBRATION_FOLDS = 3
# The few generic configurations ``select_params`` chooses among, by inner cross-validation on
# the training rows only (no per-data-set settings): shallow and additive (the default), a
# little deeper, and deeper with smaller leaves for tables with strong interactions.
CANDIDATE_PARAMS = {
    "shallow": {},
    "medium": {"num_leaves": 8, "min_child_samples": 30, "learning_rate": 0.04},
    "deep": {"num_leaves": 16, "min_child_samples": 20, "learning_rate": 0.05},
}
SELECTION_FOLDS = 3
# Below this many rows a second thread only adds OpenMP overhead (and spins badly on a busy
# machine: 20x slower on a loaded 2-core box), so small fits use one thread. The thread count
# depends only on the data, so the same data still gives the same model.
SINGLE_THREAD_ROWS = 100_000


def _booster(x: pd.DataFrame, y: np.ndarray, params: dict) -> lgb.Booster:
    if len(x) < SINGLE_THREAD_ROWS:
        params = {**params, "num_threads": 1}
    model = lgb.LGBMClassifier(**params)
    model.fit(x, y)
    return model.booster_


# TreeSHAP costs ~0.5 ms of CPU a row (a plain prediction ~1 us): a second thread pays for
# contributions from a thousand rows.
CONTRIB_SINGLE_THREAD_ROWS = 1_000


def _threads(rows: int, single_below: int = SINGLE_THREAD_ROWS) -> int:
    """Prediction threads: one below ``single_below`` rows (as for fitting), else two."""
    return 1 if rows < single_below else 2


def _raw(booster: lgb.Booster, x: pd.DataFrame) -> np.ndarray:
    return booster.predict(x, raw_score=True, num_threads=_threads(len(x)))


def select_params(x: pd.DataFrame, y: np.ndarray, seed: int = 42) -> tuple[str, dict]:
    """(name, params) of the candidate with the best inner-CV AUC on these rows; a later
    candidate must beat an earlier one by more than 0.001 (ties keep the simpler model)."""
    from sklearn.metrics import roc_auc_score

    split = StratifiedKFold(SELECTION_FOLDS, shuffle=True, random_state=seed)
    folds = list(split.split(x, y))
    best, best_auc = "shallow", -1.0
    scores = {}
    for name, extra in CANDIDATE_PARAMS.items():
        params = {**DEFAULT_PARAMS, **extra}
        oof = np.zeros(len(y))
        for train, test in folds:
            oof[test] = _raw(_booster(x.iloc[train], y[train], params), x.iloc[test])
        scores[name] = float(roc_auc_score(y, oof))
        if scores[name] > best_auc + 0.001:
            best, best_auc = name, scores[name]
    return best, {"selected": best, "inner_auc": scores, **CANDIDATE_PARAMS[best]}


def fit_chosen(
    spec: FeatureSpec,
    frame: pd.DataFrame,
    y,
    seed_factors: list[str] | None = None,
    weights=None,
    *,
    select: bool = True,
    seed: int = 42,
) -> RiskModel:
    """The one way a model is fitted, by ``keycare risk train`` and ``risk evaluate`` alike:
    the configuration chosen by inner CV on these rows only (``select_params``; the shallow
    default when ``select`` is off), then fitted on all of them. The choice and the inner-CV
    AUCs are kept in ``model.selection`` (saved in the metadata)."""
    y = np.asarray(y, dtype=int)
    if select:
        _, selection = select_params(prepare(frame, spec), y, seed)
    else:
        selection = {"selected": "shallow", "inner_auc": None}
    params = {k: v for k, v in selection.items() if k not in ("selected", "inner_auc")}
    model = RiskModel(spec, params).fit(frame, y, seed_factors, weights)
    model.selection = {"selected": selection["selected"], "inner_auc": selection["inner_auc"]}
    return model


class RiskModel:
    def __init__(self, spec: FeatureSpec, params: dict | None = None):
        self.spec = spec
        self.params = {**DEFAULT_PARAMS, **(params or {})}
        self.booster: lgb.Booster | None = None
        self.calibration: dict[str, list[float]] = {"x": [], "y": []}
        self.seed_score: SeedScore | None = None
        self.medians: dict[str, float] = {}
        self.metadata: dict = {}
        self.selection: dict | None = None  # the inner-CV choice (fit_chosen)

    # --- fitting -------------------------------------------------------------------------

    def fit(
        self, frame: pd.DataFrame, y, seed_factors: list[str] | None = None, weights=None
    ) -> RiskModel:
        """``weights``: inverse sampling rates of a stratified sample; the trees rank on the
        sample as drawn, the calibration and the seed score's rates use the weights so that
        probabilities are the whole base's churn rates."""
        y = np.asarray(y, dtype=int)
        if y.sum() < CALIBRATION_FOLDS or (1 - y).sum() < CALIBRATION_FOLDS:
            raise UserError(
                f"risk model: need at least {CALIBRATION_FOLDS} positive and negative rows"
            )
        x = prepare(frame, self.spec)
        self.booster = _booster(x, y, self.params)
        self._fit_calibration(x, y, weights)
        factors = seed_factors if seed_factors is not None else self.spec.features
        numeric = [f for f in factors if f in self.spec.numeric]
        categorical = [f for f in factors if f in self.spec.categorical]
        self.seed_score = SeedScore().fit(frame, y, numeric, categorical, weights)
        self.medians = {
            c: float(np.nanmedian(x[c])) if x[c].notna().any() else 0.0 for c in self.spec.numeric
        }
        return self

    def _fit_calibration(self, x: pd.DataFrame, y: np.ndarray, weights=None) -> None:
        oof = np.zeros(len(y))
        split = StratifiedKFold(
            CALIBRATION_FOLDS, shuffle=True, random_state=self.params["random_state"]
        )
        for train, test in split.split(x, y):
            oof[test] = _raw(_booster(x.iloc[train], y[train], self.params), x.iloc[test])
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        iso.fit(oof, y, sample_weight=weights)
        self.calibration = {
            "x": [float(v) for v in iso.X_thresholds_],
            "y": [float(v) for v in iso.y_thresholds_],
        }

    # --- scoring ---------------------------------------------------------------------------

    def raw_score(self, frame: pd.DataFrame) -> np.ndarray:
        return _raw(self.booster, prepare(frame, self.spec))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.calibrate(self.raw_score(frame))

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        xs, ys = self.calibration["x"], self.calibration["y"]
        if not xs:
            return 1.0 / (1.0 + np.exp(-raw))
        return np.clip(np.interp(raw, xs, ys), 0.0, 1.0)

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per-feature contributions to the raw score (log-odds), one column per feature."""
        x = prepare(frame, self.spec)
        threads = _threads(len(x), CONTRIB_SINGLE_THREAD_ROWS)
        contrib = self.booster.predict(x, pred_contrib=True, num_threads=threads)
        return pd.DataFrame(contrib[:, :-1], columns=self.spec.features, index=frame.index)

    def explain(self, frame: pd.DataFrame, k: int = 3) -> list[list[str]]:
        """Each row's top-k reasons in Chinese, from the largest contributions."""
        x = prepare(frame, self.spec)
        return top_reasons(self.contributions(frame), x, self.medians, k=k)

    # --- persistence -----------------------------------------------------------------------

    def model_text(self) -> str:
        return self.booster.model_to_string()

    def content_hash(self) -> str:
        digest = hashlib.sha256()
        digest.update(self.model_text().encode())
        body = {
            "spec": self.spec.to_dict(),
            "calibration": self.calibration,
            "seed_score": self.seed_score.to_dict() if self.seed_score else None,
            "medians": self.medians,
        }
        digest.update(json.dumps(body, sort_keys=True).encode())
        return digest.hexdigest()[:16]

    def save(self, models_dir: Path, extra: dict | None = None) -> Path:
        """Write ``models_dir/<version>/`` atomically (temp dir then rename); return it."""
        version = self.content_hash()
        models_dir = Path(models_dir)
        models_dir.mkdir(parents=True, exist_ok=True)
        target = models_dir / version
        self.metadata = {
            "version": version,
            "features": self.spec.features,
            "spec": self.spec.to_dict(),
            "params": self.params,
            "calibration": self.calibration,
            "seed_score": self.seed_score.to_dict() if self.seed_score else None,
            "medians": self.medians,
            "selection": self.selection,
            **(extra or {}),
        }
        if target.exists():
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=models_dir))
        (tmp / "model.txt").write_text(self.model_text(), encoding="utf-8")
        (tmp / "metadata.json").write_text(
            json.dumps(self.metadata, ensure_ascii=False, indent=2, sort_keys=True),
            encoding="utf-8",
        )
        os.replace(tmp, target)
        return target

    @classmethod
    def load(cls, path: Path) -> RiskModel:
        """Load from a version directory, or from a models dir (its newest version)."""
        path = Path(path)
        if not (path / "metadata.json").exists():
            path = latest_version_dir(path)
        try:
            meta = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
            model = cls(FeatureSpec.from_dict(meta["spec"]), meta["params"])
            model.booster = lgb.Booster(model_str=(path / "model.txt").read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, lgb.basic.LightGBMError) as exc:
            raise UserError(f"risk model {path}: cannot be read ({exc})") from exc
        model.calibration = meta["calibration"]
        model.seed_score = SeedScore.from_dict(meta["seed_score"]) if meta["seed_score"] else None
        model.medians = meta["medians"]
        model.metadata = meta
        model.selection = meta.get("selection")
        return model

    @property
    def version(self) -> str:
        return self.metadata.get("version") or self.content_hash()


def latest_version_dir(models_dir: Path) -> Path:
    models_dir = Path(models_dir)
    candidates = [
        p for p in models_dir.glob("*/metadata.json") if not p.parent.name.startswith(".")
    ]
    if not candidates:
        raise UserError(
            f"risk models dir {models_dir}: no trained model (run `keycare risk train`)"
        )

    def trained_at(p: Path) -> str:
        return json.loads(p.read_text(encoding="utf-8")).get("trained_at", "")

    return max(candidates, key=lambda p: (trained_at(p), p.parent.name)).parent
