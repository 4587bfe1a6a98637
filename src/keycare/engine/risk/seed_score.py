"""The seed's interpretable churn score, as a baseline model.

Seed 001 slide 8: "在库中高端离网风险综合评价得分 = (高资费离网率 + 品牌离网率 + 异网关联离网率 +
号码离网率 + …) × 100". Each factor is bucketed (fee band, brand, competitor-call share band,
number / tenure band, ...); the historical churn rate of each bucket is learnt from history,
and a customer's score is the sum of the rates of the buckets they fall into, times 100.

Numeric factors get quantile bands (``bands`` of them, edges learnt on the training data);
categorical factors use their values; a missing value is its own bucket. Rates are smoothed
towards the overall rate (``smoothing`` pseudo-customers) so that small buckets do not
dominate; an unseen bucket scores the overall rate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MISSING = "__missing__"


class SeedScore:
    def __init__(self, bands: int = 5, smoothing: float = 20.0):
        self.bands = bands
        self.smoothing = smoothing
        self.prior = 0.0
        self.edges: dict[str, list[float]] = {}  # numeric factor -> inner band edges
        self.rates: dict[str, dict[str, float]] = {}  # factor -> bucket -> churn rate

    def _buckets(self, frame: pd.DataFrame, column: str) -> pd.Series:
        series = frame[column]
        if column in self.edges:
            values = pd.to_numeric(series, errors="coerce").astype(float)
            band = np.searchsorted(np.asarray(self.edges[column]), values.to_numpy(), side="right")
            return pd.Series(
                np.where(values.isna(), MISSING, band.astype(str)), index=frame.index, dtype=object
            )
        return series.astype(object).where(series.notna(), MISSING).astype(str)

    def fit(
        self, frame: pd.DataFrame, y, numeric: list[str], categorical: list[str], weights=None
    ) -> SeedScore:
        """``weights``: inverse sampling rates when ``frame`` is a stratified sample."""
        y = np.asarray(y, dtype=float)
        w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
        self.prior = float((y * w).sum() / w.sum())
        for column in numeric:
            values = pd.to_numeric(frame[column], errors="coerce").dropna()
            qs = np.linspace(0, 1, self.bands + 1)[1:-1]
            self.edges[column] = (
                sorted(set(np.quantile(values, qs).tolist())) if len(values) else []
            )
        for column in [*numeric, *categorical]:
            buckets = self._buckets(frame, column)
            stats = (
                pd.DataFrame({"b": buckets.to_numpy(), "sum": y * w, "count": w})
                .groupby("b")[["sum", "count"]]
                .sum()
            )
            smoothed = (stats["sum"] + self.smoothing * self.prior) / (
                stats["count"] + self.smoothing
            )
            self.rates[column] = {str(k): float(v) for k, v in smoothed.items()}
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        total = np.zeros(len(frame))
        for column, rates in self.rates.items():
            buckets = self._buckets(frame, column)
            total += buckets.map(rates).fillna(self.prior).to_numpy(dtype=float)
        return total * 100.0

    def to_dict(self) -> dict:
        return {
            "bands": self.bands,
            "smoothing": self.smoothing,
            "prior": self.prior,
            "edges": self.edges,
            "rates": self.rates,
        }

    @classmethod
    def from_dict(cls, data: dict) -> SeedScore:
        score = cls(bands=data["bands"], smoothing=data["smoothing"])
        score.prior = data["prior"]
        score.edges = {k: list(v) for k, v in data["edges"].items()}
        score.rates = {k: dict(v) for k, v in data["rates"].items()}
        return score
