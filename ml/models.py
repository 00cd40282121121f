"""Model construction and fitting: baseline, logistic regression, XGBoost.

Every estimator takes the prepared feature frame from `ml.preprocess`
(numeric float64 + categorical str columns) and exposes `predict_proba`, so
scoring code treats all three the same.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
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
    # Maps the estimator's probabilities to calibrated ones (None: used as they are).
    calibrator: Any = None
    # Hyperparameters used (tuned ones included), the calibration and the tuning trials.
    parameters: dict[str, Any] = field(default_factory=dict)
    # Test-row diagnostics (reliability tables, curves) and rolling-origin metrics rows.
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return self.numeric_features + self.categorical_features

    def predict_proba(self, frame: pd.DataFrame, calibrated: bool = True) -> np.ndarray:
        """P(purchased = 1) for each row of a raw or prepared frame; the
        calibrated probability when the model has a calibrator."""
        X = prepare_features(frame, self.numeric_features, self.categorical_features)
        use = self.calibrator if calibrated and self.calibrator is not None else self.estimator
        return positive_proba(use, X)


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
        log.debug("xgboost: early stopping chose %d trees", clf.best_iteration + 1)
    # Steps are already fitted; the Pipeline only chains them for predict_proba.
    return Pipeline([("categories", topk), ("clf", clf)])


def _fit_one(
    model: str,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    log_features: Sequence[str],
    settings: Settings,
    valid_mask: np.ndarray | None,
) -> Any:
    if model == "logistic_regression":
        fit = np.ones(len(X), dtype=bool) if valid_mask is None else ~valid_mask
        return build_logistic_regression(numeric, categorical, log_features, settings).fit(X.loc[fit], y[fit])
    if model == "xgboost":
        return fit_xgboost(X, y, categorical, valid_mask, settings)
    raise ValueError(f"unknown model {model!r}")


def candidate_settings(model: str, settings: Settings) -> list[Settings]:
    """The bounded grid tried for `model`, the configured values first (so a
    search cut short by the time cap still has them)."""
    if model == "logistic_regression":
        values = [settings.lr_C, *[c for c in settings.lr_C_grid if c != settings.lr_C]]
        return [settings.replace(lr_C=c) for c in values]
    if model == "xgboost":
        default = (settings.xgb_max_depth, settings.xgb_learning_rate)
        grid = [default, *[g for g in settings.xgb_grid if tuple(g) != default]]
        return [settings.replace(xgb_max_depth=int(d), xgb_learning_rate=float(r)) for d, r in grid]
    return [settings]


def tuned_parameters(model: str, settings: Settings) -> dict[str, Any]:
    """The hyperparameters of `model` that the search varies, as recorded."""
    if model == "logistic_regression":
        return {"C": settings.lr_C}
    if model == "xgboost":
        return {"max_depth": settings.xgb_max_depth, "learning_rate": settings.xgb_learning_rate}
    return {}


def tuned_settings(model: str, settings: Settings, parameters: dict[str, Any]) -> Settings:
    """`settings` whose search tries only the hyperparameters a fitted model
    recorded in its `parameters` (what its own search chose)."""
    if model == "logistic_regression" and "C" in parameters:
        c = float(parameters["C"])
        return settings.replace(lr_C=c, lr_C_grid=(c,))
    if model == "xgboost" and "max_depth" in parameters:
        depth, rate = int(parameters["max_depth"]), float(parameters["learning_rate"])
        return settings.replace(xgb_max_depth=depth, xgb_learning_rate=rate, xgb_grid=((depth, rate),))
    return settings


def _holdout_auc(estimator: Any, X: pd.DataFrame, y: np.ndarray) -> float:
    return float(roc_auc_score(y, positive_proba(estimator, X))) if len(np.unique(y)) == 2 else float("nan")


def _calibrator(estimator: Any, method: str) -> CalibratedClassifierCV:
    # ensemble=False: one mapping fitted on all the given rows (the default
    # would average mappings fitted on fifths of them: noisy on a hold-out
    # with few buyers); the estimator itself is frozen, never refitted
    return CalibratedClassifierCV(FrozenEstimator(estimator), method=method, ensemble=False)


def calibrate(estimator: Any, X: pd.DataFrame, y: np.ndarray, method: str) -> Any:
    """The fitted estimator's probabilities mapped by Platt scaling ('sigmoid')
    or isotonic regression, fitted on rows it did not train on."""
    return _calibrator(estimator, method).fit(X, y)


def calibration_check(estimator: Any, X: pd.DataFrame, y: np.ndarray, method: str) -> dict[str, float]:
    """Brier score on the held-out rows of the raw probabilities and of
    calibrated ones fitted out of fold (5-fold, stratified): whether the
    mapping helps on rows it was not fitted on, judged in the training period."""
    folds = StratifiedKFold(n_splits=min(5, int(np.bincount(y).min())), shuffle=False)
    out_of_fold = cross_val_predict(_calibrator(estimator, method), X, y, cv=folds, method="predict_proba")[:, 1]
    raw = positive_proba(estimator, X)
    return {"raw": float(np.mean((raw - y) ** 2)), "calibrated": float(np.mean((out_of_fold - y) ** 2))}


@dataclass
class FitResult:
    estimator: Any
    calibrator: Any
    parameters: dict[str, Any]


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
) -> FitResult:
    """Fit one named model on a prepared frame. Raises LeakageError on label columns.

    The train rows are split by `valid_mask` into fit rows and held-out rows
    (both from the training period). Every candidate of the bounded grid is
    fitted on the fit rows (XGBoost's early stopping watches the held-out
    rows); the one with the best held-out AUC-ROC is kept (first candidate on
    ties) and calibrated on the held-out rows when that lowers their Brier
    score out of fold (calibration_check). With too few held-out rows (or
    one class among them or among the fit rows) the configured parameters are
    fitted on every train row, uncalibrated.
    """
    _check_inputs(model, X, y)
    if model == "baseline":
        # Predicts the training base rate for every row: the floor to beat.
        return FitResult(DummyClassifier(strategy="prior").fit(X, y), None, {"calibration": "none"})
    valid = np.zeros(len(X), dtype=bool) if valid_mask is None else np.asarray(valid_mask, dtype=bool)
    usable = (
        valid.sum() >= _MIN_VALID_ROWS and len(np.unique(y[valid])) == 2 and len(np.unique(y[~valid])) == 2
    )
    common = dict(numeric=numeric, categorical=categorical, log_features=log_features)
    if not usable:
        estimator = _fit_one(model, X, y, settings=settings, valid_mask=None, **common)
        return FitResult(estimator, None, tuned_parameters(model, settings) | {"calibration": "none", "trials": []})
    started, trials = time.monotonic(), []
    best: tuple[float, Any, Settings] | None = None
    for candidate in candidate_settings(model, settings):
        if trials and time.monotonic() - started > settings.tuning_seconds:
            log.warning("%s: tuning stopped after %d candidates (tuning_seconds=%s)", model, len(trials), settings.tuning_seconds)
            break
        estimator = _fit_one(model, X, y, settings=candidate, valid_mask=valid, **common)
        auc = _holdout_auc(estimator, X.loc[valid], y[valid])
        trials.append(tuned_parameters(model, candidate) | {"holdout_auc": round(auc, 6)})
        if best is None or auc > best[0]:
            best = (auc, estimator, candidate)
    assert best is not None
    _, estimator, chosen = best
    calibrator, calibration = None, {"calibration": "none"}
    if settings.calibration != "none" and np.bincount(y[valid]).min() >= 2:
        held_out = calibration_check(estimator, X.loc[valid], y[valid], settings.calibration)
        calibration["calibration_holdout_brier"] = {k: round(v, 6) for k, v in held_out.items()}
        # kept only when it lowers the held-out Brier score out of fold: a
        # mapping fitted on few buyers can add more noise than it removes
        if held_out["calibrated"] < held_out["raw"]:
            calibrator = calibrate(estimator, X.loc[valid], y[valid], settings.calibration)
            calibration["calibration"] = settings.calibration
    parameters = tuned_parameters(model, chosen) | calibration | {"trials": trials}
    return FitResult(estimator, calibrator, parameters)
