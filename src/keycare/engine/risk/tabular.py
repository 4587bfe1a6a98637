"""Turning an arbitrary churn table into model inputs: type detection and missing values.

Rules (documented in docs/risk.md):
- numeric and boolean columns are numeric features;
- string columns whose non-blank values are (almost) all numbers -- e.g. IBM Telco's
  ``TotalCharges`` with a few blanks -- are numeric, blanks becoming NaN;
- other string columns are categorical (missing stays missing: LightGBM sends it down its
  own branch);
- identifier-like columns are left out: a string column with a distinct value on every row,
  or an integer column that is just a row number (a permutation of 0..n-1 or 1..n).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

NUMERIC_SHARE = 0.95  # share of non-blank strings that must parse as numbers


@dataclass
class FeatureSpec:
    numeric: list[str] = field(default_factory=list)
    categorical: dict[str, list[str]] = field(default_factory=dict)  # column -> known levels
    dropped: dict[str, str] = field(default_factory=dict)  # column -> why it was left out

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    def to_dict(self) -> dict:
        return {"numeric": self.numeric, "categorical": self.categorical, "dropped": self.dropped}

    @classmethod
    def from_dict(cls, data: dict) -> FeatureSpec:
        return cls(list(data["numeric"]), dict(data["categorical"]), dict(data.get("dropped", {})))


def _as_number(series: pd.Series) -> pd.Series | None:
    text = series.astype("string").str.strip()
    blank = text.isna() | (text == "")
    parsed = pd.to_numeric(text.where(~blank), errors="coerce")
    filled = int((~blank).sum())
    if filled == 0 or parsed.notna().sum() < NUMERIC_SHARE * filled:
        return None
    return parsed.astype(float)


def _is_row_number(series: pd.Series) -> bool:
    if not pd.api.types.is_integer_dtype(series) or series.isna().any():
        return False
    values = np.sort(series.to_numpy())
    n = len(values)
    return n > 1 and (
        np.array_equal(values, np.arange(n)) or np.array_equal(values, np.arange(1, n + 1))
    )


def infer_spec(frame: pd.DataFrame) -> FeatureSpec:
    spec = FeatureSpec()
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            if _is_row_number(series):
                spec.dropped[column] = "row number"
            else:
                spec.numeric.append(column)
            continue
        if _as_number(series) is not None:
            spec.numeric.append(column)
            continue
        text = series.astype("string").str.strip().replace("", pd.NA)
        if text.nunique(dropna=True) == len(text.dropna()) and len(text.dropna()) > 50:
            spec.dropped[column] = "identifier-like (a distinct value on every row)"
            continue
        spec.categorical[column] = categorical_levels(frame, [column])[column]
    return spec


def categorical_levels(frame: pd.DataFrame, columns) -> dict[str, list[str]]:
    return {
        c: sorted(
            frame[c].astype("string").str.strip().replace("", pd.NA).dropna().unique().tolist()
        )
        for c in columns
    }


def prepare(frame: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Model matrix: numeric columns as float, categoricals with the spec's fixed levels
    (unseen values become missing), in ``spec.features`` order."""
    out = {}
    for column in spec.numeric:
        series = frame[column] if column in frame else pd.Series(np.nan, index=frame.index)
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            out[column] = series.astype(float)
        else:
            parsed = _as_number(series)
            out[column] = parsed if parsed is not None else pd.Series(np.nan, index=frame.index)
    for column, levels in spec.categorical.items():
        series = frame[column] if column in frame else pd.Series(pd.NA, index=frame.index)
        text = series.astype("string").str.strip()
        out[column] = pd.Categorical(text.astype(object), categories=levels)
    return pd.DataFrame(out, index=frame.index)[spec.features]
