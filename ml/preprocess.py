"""Input validation and feature preparation shared by training and scoring.

Frames arrive from Spark via `toPandas()`, so dtypes vary: integers may be
int32, nullable ints with nulls become float64, DECIMAL becomes object
(decimal.Decimal), DATE becomes object (datetime.date). Everything here
normalises those into one canonical form so that training and scoring see
identical inputs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from ml.tasks import LABEL, assert_no_leakage

UNKNOWN = "unknown"  # value used for null/empty categoricals (matches the SQL contract)
OTHER = "other"  # bucket for categorical levels outside the top K


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise a ValueError listing every missing column (not just the first)."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing columns {missing}; got {list(frame.columns)}")


def prepare_features(
    frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]
) -> pd.DataFrame:
    """Select and coerce feature columns: numeric -> float64, categorical -> str.

    Idempotent, so prepared frames can be passed again. Raises on leaky
    columns, missing columns and null/non-finite numerics: the contract says
    features are never null, and silently imputing would hide an upstream bug.
    """
    columns = list(numeric) + list(categorical)
    assert_no_leakage(columns)
    require_columns(frame, columns, "feature frame")
    out = pd.DataFrame(index=frame.index)
    for col in numeric:
        values = pd.to_numeric(frame[col], errors="raise").astype("float64")
        bad = ~np.isfinite(values.to_numpy())
        if bad.any():
            raise ValueError(f"feature {col!r} has {int(bad.sum())} null/non-finite values")
        out[col] = values
    for col in categorical:
        values = frame[col].astype("string").str.strip()
        out[col] = values.mask(values.isna() | (values == ""), UNKNOWN).astype(str)
    return out


def labels(frame: pd.DataFrame, what: str) -> np.ndarray:
    """The 0/1 label as int64; raises if any labelled row has a null/other value."""
    require_columns(frame, [LABEL], what)
    values = pd.to_numeric(frame[LABEL], errors="coerce")
    invalid = values.isna() | ~values.isin([0, 1])
    if invalid.any():
        raise ValueError(f"{what}: {int(invalid.sum())} rows have {LABEL!r} outside {{0, 1}} or null")
    return values.to_numpy(dtype="int64")


def signed_log1p(x: np.ndarray) -> np.ndarray:
    """log1p that tolerates negatives (sign-preserving), so a bad value can't make NaN.

    Module-level (not a lambda) so the fitted Pipeline pickles with joblib.
    """
    x = np.asarray(x, dtype="float64")
    return np.sign(x) * np.log1p(np.abs(x))


def onehot_name(feature: str, category: object) -> str:
    """OneHotEncoder column names as `feature=level`; sklearn's bucket -> 'other'."""
    level = OTHER if str(category) == "infrequent_sklearn" else str(category)
    return f"{feature}={level}"


class TopKCategories(TransformerMixin, BaseEstimator):
    """Keep the top_k most frequent levels per column, map the rest to 'other'.

    Returns pandas `category` columns with a fixed level list learnt at fit
    time, so XGBoost's native categorical codes are identical at training and
    scoring time (unseen levels at scoring -> 'other'). Numeric columns pass
    through untouched.
    """

    def __init__(self, columns: Sequence[str] = (), top_k: int = 20) -> None:
        self.columns = columns
        self.top_k = top_k

    def fit(self, X: pd.DataFrame, y: object = None) -> TopKCategories:
        self.levels_: dict[str, list[str]] = {}
        for col in self.columns:
            counts = X[col].astype(str).value_counts()
            # Sort by (-count, level) so ties are broken deterministically.
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            top = [level for level, _ in ranked[: self.top_k] if level != OTHER]
            self.levels_[col] = top + [OTHER]
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        out = X.copy()
        for col, levels in self.levels_.items():
            values = out[col].astype(str)
            values = values.where(values.isin(levels), OTHER)
            out[col] = pd.Categorical(values, categories=levels)
        return out

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.feature_names_in_


def to_date(value: object) -> dt.date | None:
    """Convert a date-like scalar (date, datetime, Timestamp, str) to a date; nulls -> None."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).date()


def date_bounds(series: pd.Series, end_exclusive_from_max: bool = False) -> tuple[dt.date | None, dt.date | None]:
    """(min, max) of a date-like column as dates; optionally max + 1 day (end-exclusive)."""
    parsed = pd.to_datetime(series, errors="coerce").dropna()
    if parsed.empty:
        return None, None
    lo, hi = parsed.min().date(), parsed.max().date()
    if end_exclusive_from_max:
        hi = hi + dt.timedelta(days=1)
    return lo, hi


def timestamps(series: pd.Series) -> pd.Series:
    """Parse a timestamp column; tz-aware values are compared in UTC."""
    parsed = pd.to_datetime(series, errors="raise")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    if parsed.isna().any():
        raise ValueError(f"timestamp column {series.name!r} has {int(parsed.isna().sum())} nulls")
    return parsed
