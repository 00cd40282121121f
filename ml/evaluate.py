"""Metrics and feature importance.

Undefined metrics are NaN rather than an exception or a fake 0: a test set
with one class has no AUC, a model that predicts no positives has no
precision. dbt tests / dashboards can then see the gap explicitly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from ml.models import FittedModel

METRIC_COLUMNS: list[str] = [
    "task",
    "model",
    "evaluation",
    "auc_roc",
    "pr_auc",
    "log_loss",
    "brier",
    "accuracy",
    "precision",
    "recall",
    "threshold",
    "n_train",
    "n_test",
    # rows used / rows available in the split (1.0 = not sampled; see ml.sampling)
    "train_sample_rate",
    "test_sample_rate",
    "positive_rate_test",
    "train_start",
    "train_end",
    "test_start",
    "test_end",
    "model_version",
    "trained_at",
]

IMPORTANCE_COLUMNS: list[str] = ["task", "model", "feature", "importance", "importance_type", "rank", "model_version"]

# Probabilities are clipped before log() so a confident miss costs ~34.5, not inf.
LOG_LOSS_EPS = 1e-15


def compute_metrics(y_true: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, float | int]:
    """Threshold-free and thresholded metrics for binary labels and P(y=1)."""
    y = np.asarray(y_true, dtype="int64")
    p = np.asarray(proba, dtype="float64")
    if y.shape != p.shape:
        raise ValueError(f"y_true {y.shape} and proba {p.shape} differ in shape")
    n = len(y)
    nan = math.nan
    if n == 0:
        return {
            "auc_roc": nan, "pr_auc": nan, "log_loss": nan, "brier": nan, "accuracy": nan,
            "precision": nan, "recall": nan, "threshold": float(threshold), "n_test": 0,
            "positive_rate_test": nan,
        }  # fmt: skip
    n_pos = int(y.sum())
    both_classes = 0 < n_pos < n
    pc = np.clip(p, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    pred = (p >= threshold).astype("int64")
    tp = int(((pred == 1) & (y == 1)).sum())
    return {
        "auc_roc": float(roc_auc_score(y, p)) if both_classes else nan,
        # Average precision is defined whenever there is a positive to find.
        "pr_auc": float(average_precision_score(y, p)) if n_pos > 0 else nan,
        "log_loss": float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc))),
        "brier": float(np.mean((p - y) ** 2)),
        "accuracy": float(np.mean(pred == y)),
        "precision": tp / int(pred.sum()) if pred.sum() > 0 else nan,
        "recall": tp / n_pos if n_pos > 0 else nan,
        "threshold": float(threshold),
        "n_test": n,
        "positive_rate_test": n_pos / n,
    }


def metrics_row(
    fitted: FittedModel, metrics: dict[str, Any], n_train: int, sample_rates: tuple[float, float] = (1.0, 1.0)
) -> dict[str, Any]:
    """One metrics_frame row: identity + metrics + window bounds + version.
    `sample_rates`: (train, test) share of the splits' rows that were used."""
    row = {"task": fitted.task, "model": fitted.model, "evaluation": fitted.evaluation}
    row.update(metrics)
    row["n_train"] = int(n_train)
    row["train_sample_rate"], row["test_sample_rate"] = (float(rate) for rate in sample_rates)
    row.update({k: fitted.window.get(k) for k in ("train_start", "train_end", "test_start", "test_end")})
    row["model_version"] = fitted.model_version
    row["trained_at"] = fitted.trained_at
    return {c: row.get(c) for c in METRIC_COLUMNS}


def _raw_importance(fitted: FittedModel) -> tuple[list[str], np.ndarray, str]:
    est = fitted.estimator
    if fitted.model == "logistic_regression":
        # Coefficients on standardised inputs (after log1p / one-hot): signed,
        # comparable "log-odds per standard deviation".
        names = list(est[:-1].get_feature_names_out())
        return names, np.asarray(est[-1].coef_[0], dtype="float64"), "coefficient"
    if fitted.model == "xgboost":
        # Average gain of the splits using each feature; unused features -> 0.
        booster = est[-1].get_booster()
        scores = booster.get_score(importance_type="gain")
        names = list(fitted.features)
        return names, np.array([float(scores.get(f, 0.0)) for f in names]), "gain"
    return [], np.empty(0), "none"  # baseline ignores its inputs


def feature_importance(fitted: FittedModel) -> pd.DataFrame:
    """Tidy importance table; rank 1 = largest |importance| (ties by feature name)."""
    names, values, kind = _raw_importance(fitted)
    frame = pd.DataFrame({"feature": names, "importance": values})
    frame = frame.assign(_abs=frame["importance"].abs()).sort_values(["_abs", "feature"], ascending=[False, True])
    frame["rank"] = np.arange(1, len(frame) + 1, dtype="int64")
    frame = frame.assign(
        task=fitted.task, model=fitted.model, importance_type=kind, model_version=fitted.model_version
    )
    return frame[IMPORTANCE_COLUMNS].reset_index(drop=True).astype({"importance": "float64", "rank": "int64"})
