"""Metrics against independent numpy computations; feature importance shape and sense."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ml_fixtures import cart_windows, make_cart_frame, mann_whitney_auc

from ml.evaluate import IMPORTANCE_COLUMNS, compute_metrics, feature_importance
from ml.pipeline import train_task
from ml.settings import Settings
from ml.tasks import CART_TASK, FORECAST, feature_columns


def _average_precision(y: np.ndarray, p: np.ndarray) -> float:
    """AP = sum over distinct thresholds (high to low) of (R_k - R_{k-1}) * P_k."""
    ap, prev_recall = 0.0, 0.0
    for t in np.unique(p)[::-1]:
        pred = p >= t
        tp = np.sum(pred & (y == 1))
        recall, precision = tp / np.sum(y == 1), tp / np.sum(pred)
        ap += (recall - prev_recall) * precision
        prev_recall = recall
    return float(ap)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_equal_independent_computation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.binomial(1, 0.3, 400)
    # Informative, rounded (so there are ties), and includes exact 0 and 1.
    p = np.clip(np.round(0.3 + 0.3 * (y - 0.3) + rng.normal(0, 0.2, 400), 1), 0, 1)
    threshold = 0.35
    m = compute_metrics(y, p, threshold)

    pc = np.clip(p, 1e-15, 1 - 1e-15)
    pred = p >= threshold
    tp, fp, fn = np.sum(pred & (y == 1)), np.sum(pred & (y == 0)), np.sum(~pred & (y == 1))
    assert m["auc_roc"] == pytest.approx(mann_whitney_auc(y, p), abs=1e-12)
    assert m["pr_auc"] == pytest.approx(_average_precision(y, p), abs=1e-12)
    assert m["log_loss"] == pytest.approx(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc)), rel=1e-12)
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2), rel=1e-12)
    assert m["accuracy"] == pytest.approx(np.mean(pred == y))
    assert m["precision"] == pytest.approx(tp / (tp + fp))
    assert m["recall"] == pytest.approx(tp / (tp + fn))
    assert m["threshold"] == threshold
    assert m["n_test"] == 400
    assert m["positive_rate_test"] == pytest.approx(y.mean())


def test_single_class_test_set_gives_nan_not_a_crash() -> None:
    p = np.linspace(0.05, 0.95, 50)
    negatives = compute_metrics(np.zeros(50, dtype=int), p, 0.5)
    assert math.isnan(negatives["auc_roc"]) and math.isnan(negatives["pr_auc"]) and math.isnan(negatives["recall"])
    assert negatives["log_loss"] == pytest.approx(-np.mean(np.log(1 - p)))
    assert negatives["positive_rate_test"] == 0.0
    positives = compute_metrics(np.ones(50, dtype=int), p, 0.5)
    assert math.isnan(positives["auc_roc"])
    assert positives["pr_auc"] == pytest.approx(1.0)  # every prediction is a positive
    assert positives["recall"] == pytest.approx(np.mean(p >= 0.5))


def test_undefined_precision_and_empty_test_set_are_nan() -> None:
    y = np.array([0, 1, 0, 1])
    m = compute_metrics(y, np.full(4, 0.2), 0.5)  # nothing predicted positive
    assert math.isnan(m["precision"]) and m["recall"] == 0.0 and m["auc_roc"] == 0.5
    empty = compute_metrics(np.array([], dtype=int), np.array([]), 0.5)
    assert empty["n_test"] == 0 and math.isnan(empty["auc_roc"]) and math.isnan(empty["log_loss"])


@pytest.fixture(scope="module")
def cart_result():
    frame = make_cart_frame(seed=3)
    return train_task(CART_TASK, frame, cart_windows(frame), Settings(xgb_n_estimators=150))


def test_importance_is_tidy_and_ranked(cart_result) -> None:
    imp = cart_result.importance
    assert list(imp.columns) == IMPORTANCE_COLUMNS
    assert set(imp["model"]) == {"logistic_regression", "xgboost"}  # baseline has none
    for model, group in imp.groupby("model"):
        assert sorted(group["rank"]) == list(range(1, len(group) + 1))
        by_rank = group.sort_values("rank")["importance"].abs().to_numpy()
        assert np.all(np.diff(by_rank) <= 0), f"{model}: rank does not follow |importance|"
        assert group["model_version"].nunique() == 1
    xgb = imp[imp.model == "xgboost"]
    assert set(xgb["feature"]) == set(feature_columns(CART_TASK)) and (xgb["importance_type"] == "gain").all()
    assert (xgb["importance"] >= 0).all()


def test_importance_reflects_the_known_signal(cart_result) -> None:
    # Fixture logit: +1.5 * user_viewed_product_today, -1.2 * log(price_relative_to_category).
    lr = feature_importance(cart_result.get("logistic_regression", FORECAST)).set_index("feature")
    assert lr.loc["user_viewed_product_today", "importance"] > 0
    assert lr.loc["price_relative_to_category", "importance"] < 0
    assert lr.loc["user_viewed_product_today", "rank"] <= 3
    noise_feature = lr.loc["session_carts_before", "importance"]
    assert abs(noise_feature) < abs(lr.loc["user_viewed_product_today", "importance"]) / 3
    xgb = feature_importance(cart_result.get("xgboost", FORECAST)).set_index("feature")
    assert xgb.loc["user_viewed_product_today", "rank"] <= 3
