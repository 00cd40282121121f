"""Model construction and fitting: baseline, logistic regression, XGBoost.

Every estimator takes the prepared feature frame from `ml.preprocess`
(numeric float64 + categorical str columns) and exposes `predict_proba`, so
scoring code treats all three the same.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from xgboost import XGBClassifier

from ml.preprocess import TopKCategories, onehot_name, prepare_features, signed_log1p
from ml.settings import Settings
from ml.tasks import assert_no_leakage

log = logging.getLogger(__name__)

# Below this many held-out rows early stopping is noise; train without it.
_MIN_VALID_ROWS = 20


@dataclass
class FittedModel:
    """A fitted estimator plus everything needed to score, audit and persist it."""

    task: str
    model: str
    evaluation: str
    estimator: Any
    numeric_features: list[str]
    categorical_features: list[str]
    model_version: str
    trained_at: pd.Timestamp  # tz-aware UTC
    threshold: float
    window: dict[str, dt.date | None] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)  # one metrics_frame row
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return self.numeric_features + self.categorical_features

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """P(purchased = 1) for each row of a raw or prepared frame."""
        X = prepare_features(frame, self.numeric_features, self.categorical_features)
        return positive_proba(self.estimator, X)


def positive_proba(estimator: Any, X: pd.DataFrame) -> np.ndarray:
    """Column of predict_proba for class 1, robust to a single-class fit."""
    if len(X) == 0:
        return np.empty(0, dtype="float64")
    proba = np.asarray(estimator.predict_proba(X), dtype="float64")
    classes = list(getattr(estimator, "classes_", [0, 1]))
    if 1 in classes:
        return np.clip(proba[:, classes.index(1)], 0.0, 1.0)
    return np.zeros(len(X), dtype="float64")  # trained on negatives only


def _check_inputs(model: str, X: pd.DataFrame, y: np.ndarray) -> None:
    assert_no_leakage(X.columns)  # e.g. `purchased` passed in among the features by hand
    if len(X) != len(y):
        raise ValueError(f"{model}: X has {len(X)} rows but y has {len(y)}")
    if model != "baseline" and len(np.unique(y)) < 2:
        raise ValueError(f"{model}: training labels contain a single class ({np.unique(y)}); cannot fit")


def build_logistic_regression(
    numeric: Sequence[str], categorical: Sequence[str], log_features: Sequence[str], settings: Settings
) -> Pipeline:
    """log1p(counts/values) + one-hot(top-K + other) -> StandardScaler -> L2 logistic regression.

    Scaling after one-hot makes every coefficient 'per standard deviation',
    so coefficients are comparable as importances.
    """
    logged = [c for c in numeric if c in set(log_features)]
    plain = [c for c in numeric if c not in set(log_features)]
    columns = ColumnTransformer(
        [
            ("log", FunctionTransformer(signed_log1p, feature_names_out="one-to-one"), logged),
            ("num", "passthrough", plain),
            (
                "cat",
                OneHotEncoder(
                    handle_unknown="infrequent_if_exist",  # unseen level at scoring -> 'other'
                    max_categories=settings.top_k + 1,  # top_k levels + the 'other' bucket
                    sparse_output=False,
                    feature_name_combiner=onehot_name,
                ),
                list(categorical),
            ),
        ],
        verbose_feature_names_out=False,
    )
    return Pipeline(
        [
            ("columns", columns),
            ("scale", StandardScaler()),
            (
                "clf",
                LogisticRegression(
                    C=settings.lr_C,
                    l1_ratio=0.0,  # pure L2 (sklearn >= 1.8 spelling of penalty="l2")
                    max_iter=settings.lr_max_iter,
                    random_state=settings.seed,
                ),
            ),
        ]
    )


def _xgb(settings: Settings, early_stopping: bool) -> XGBClassifier:
    return XGBClassifier(
        n_estimators=settings.xgb_n_estimators,
        learning_rate=settings.xgb_learning_rate,
        max_depth=settings.xgb_max_depth,
        early_stopping_rounds=settings.xgb_early_stopping_rounds if early_stopping else None,
        tree_method="hist",
        enable_categorical=True,
        eval_metric="logloss",
        random_state=settings.seed,
        n_jobs=settings.xgb_n_jobs,
    )


def fit_xgboost(
    X: pd.DataFrame, y: np.ndarray, categorical: Sequence[str], valid_mask: np.ndarray | None, settings: Settings
) -> Pipeline:
    """XGBoost (hist, native categoricals) with early stopping on train-carved rows.

    The model is fitted on the non-held-out train rows; the held-out rows only
    choose the number of trees. Falls back to no early stopping when the
    held-out part is too small or the fit part has a single class.
    """
    valid_mask = np.zeros(len(X), dtype=bool) if valid_mask is None else np.asarray(valid_mask, dtype=bool)
    use_valid = valid_mask.sum() >= _MIN_VALID_ROWS and len(np.unique(y[~valid_mask])) == 2
    fit_mask = ~valid_mask if use_valid else np.ones(len(X), dtype=bool)
    topk = TopKCategories(columns=list(categorical), top_k=settings.top_k).fit(X.loc[fit_mask])
    clf = _xgb(settings, early_stopping=use_valid)
    eval_set = [(topk.transform(X.loc[valid_mask]), y[valid_mask])] if use_valid else None
    clf.fit(topk.transform(X.loc[fit_mask]), y[fit_mask], eval_set=eval_set, verbose=False)
    if use_valid:
        log.info("xgboost: early stopping chose %d trees", clf.best_iteration + 1)
    # Steps are already fitted; the Pipeline only chains them for predict_proba.
    return Pipeline([("categories", topk), ("clf", clf)])


def fit_estimator(
    model: str,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    log_features: Sequence[str],
    settings: Settings,
    valid_mask: np.ndarray | None = None,
) -> Any:
    """Fit one named model on a prepared frame. Raises LeakageError on label columns."""
    _check_inputs(model, X, y)
    if model == "baseline":
        # Predicts the training base rate for every row: the floor to beat.
        return DummyClassifier(strategy="prior").fit(X, y)
    if model == "logistic_regression":
        return build_logistic_regression(numeric, categorical, log_features, settings).fit(X, y)
    if model == "xgboost":
        return fit_xgboost(X, y, categorical, valid_mask, settings)
    raise ValueError(f"unknown model {model!r}")
