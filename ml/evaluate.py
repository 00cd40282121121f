"""Metrics and feature importance.

Undefined metrics are NaN rather than an exception or a fake 0: a test set
with one class has no AUC, a model that predicts no positives has no
precision. dbt tests / dashboards can then see the gap explicitly.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from ml.models import FittedModel

METRIC_COLUMNS: list[str] = [
    "task",
    "model",
    "evaluation",
    "fold",  # rolling_origin: 1 = latest origin; null for forecast / same_window
    "auc_roc",
    "pr_auc",
    "log_loss",
    "brier",
    "brier_uncalibrated",  # the same model's Brier before calibration (= brier when not calibrated)
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
    "parameters",  # JSON: hyperparameters used (tuned ones included) and the calibration
    "model_version",
    "trained_at",
]

# Reliability table and curve points of one model on its test rows.
RELIABILITY_COLUMNS: list[str] = ["bin", "mean_predicted", "observed_rate", "rows"]
CURVE_COLUMNS: list[str] = ["curve", "point", "x", "y", "threshold"]
CALIBRATION_BINS = 10
# At most this many points per curve are kept (enough to draw it; the table stays small).
CURVE_POINTS = 101

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


def reliability_table(y_true: np.ndarray, proba: np.ndarray, bins: int = CALIBRATION_BINS) -> pd.DataFrame:
    """Observed purchase rate against mean predicted probability in `bins`
    equal-count bins of the predictions (quantile bins: with rare positives,
    equal-width bins would put nearly every row in the first one). Rows with
    equal predictions always share a bin, so there may be fewer bins."""
    frame = pd.DataFrame({"y": np.asarray(y_true, dtype="float64"), "p": np.asarray(proba, dtype="float64")})
    if frame.empty:
        return pd.DataFrame(columns=RELIABILITY_COLUMNS)
    # rank-based cut points: ties get one rank, so tied predictions never split
    ranks = frame["p"].rank(method="min") - 1
    frame["bin"] = np.minimum((ranks * bins // len(frame)).astype("int64"), bins - 1)
    table = frame.groupby("bin").agg(mean_predicted=("p", "mean"), observed_rate=("y", "mean"), rows=("y", "size"))
    table = table.reset_index()
    table["bin"] = np.arange(1, len(table) + 1, dtype="int64")  # 1 = lowest predictions
    return table[RELIABILITY_COLUMNS].astype({"rows": "int64"})


def _thin(frame: pd.DataFrame, points: int) -> pd.DataFrame:
    """At most `points` rows, evenly spaced, first and last kept."""
    if len(frame) <= points:
        return frame
    keep = np.unique(np.linspace(0, len(frame) - 1, points).round().astype(int))
    return frame.iloc[keep]


def evaluation_curves(y_true: np.ndarray, proba: np.ndarray, points: int = CURVE_POINTS) -> pd.DataFrame:
    """ROC (x = false positive rate, y = true positive rate) and precision-recall
    (x = recall, y = precision) points with their thresholds; empty when the
    test rows hold one class (neither curve is defined)."""
    y = np.asarray(y_true, dtype="int64")
    p = np.asarray(proba, dtype="float64")
    if len(y) == 0 or y.min() == y.max():
        return pd.DataFrame(columns=CURVE_COLUMNS)
    fpr, tpr, roc_thresholds = roc_curve(y, p)
    precision, recall, pr_thresholds = precision_recall_curve(y, p)
    # sklearn's PR arrays run from high recall to low and end with (recall 0,
    # precision 1) without a threshold; order them by recall like the ROC's fpr
    pr = pd.DataFrame({"x": recall[:-1], "y": precision[:-1], "threshold": pr_thresholds})[::-1]
    roc = pd.DataFrame({"x": fpr, "y": tpr, "threshold": np.minimum(roc_thresholds, 1.0)})
    frames = []
    for name, frame in (("roc", roc), ("precision_recall", pr)):
        frame = _thin(frame.reset_index(drop=True), points).assign(curve=name)
        frame["point"] = np.arange(1, len(frame) + 1, dtype="int64")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)[CURVE_COLUMNS].astype({"x": "float64", "y": "float64"})


def metrics_row(
    fitted: FittedModel,
    metrics: dict[str, Any],
    n_train: int,
    sample_rates: tuple[float, float] = (1.0, 1.0),
    fold: int | None = None,
) -> dict[str, Any]:
    """One metrics_frame row: identity + metrics + window bounds + version.
    `sample_rates`: (train, test) share of the splits' rows that were used."""
    row: dict[str, Any] = {"task": fitted.task, "model": fitted.model, "evaluation": fitted.evaluation, "fold": fold}
    row.update(metrics)
    row["n_train"] = int(n_train)
    row["train_sample_rate"], row["test_sample_rate"] = (float(rate) for rate in sample_rates)
    row.update({k: fitted.window.get(k) for k in ("train_start", "train_end", "test_start", "test_end")})
    row["parameters"] = json.dumps(fitted.parameters, sort_keys=True)
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
