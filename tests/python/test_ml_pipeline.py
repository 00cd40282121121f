"""End-to-end training, evaluation and scoring on synthetic frames."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from ml_fixtures import cart_windows, make_cart_frame, make_purchase_frame, mann_whitney_auc, windows_for

from ml.evaluate import IMPORTANCE_COLUMNS, METRIC_COLUMNS
from ml.models import fit_estimator
from ml.pipeline import (
    CART_SCORE_COLUMNS,
    PURCHASE_SCORE_COLUMNS,
    TaskResult,
    best_model,
    importance_frame,
    score_carts,
    score_purchase,
    train_task,
)
from ml.settings import Settings
from ml.splits import build_evaluation
from ml.tasks import CART_TASK, FORECAST, PURCHASE_TASK, ROLLING_ORIGIN, SAME_WINDOW, get_task

FAST = Settings(xgb_n_estimators=60, xgb_grid=((6, 0.05), (3, 0.1)), lr_C_grid=(0.1, 1.0), xgb_n_jobs=1)
LEARNERS = ("logistic_regression", "xgboost")


def task_of(name: str) -> str:
    return PURCHASE_TASK if name.startswith("purchase") else CART_TASK


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return {
        "purchase_signal": make_purchase_frame(seed=11),
        "purchase_noise": make_purchase_frame(signal=False, seed=12),
        "cart_signal": make_cart_frame(seed=13),
        "cart_noise": make_cart_frame(signal=False, seed=14),
    }


@pytest.fixture(scope="module")
def results(frames: dict[str, pd.DataFrame]) -> dict[str, TaskResult]:
    return {
        name: train_task(task_of(name), frame, windows_for(task_of(name), frame), FAST)
        for name, frame in frames.items()
    }


def metrics_of(*results: TaskResult) -> pd.DataFrame:
    return pd.DataFrame([row for result in results for row in result.metrics()])


def _metric(result: TaskResult, model: str, evaluation: str, metric: str) -> float:
    m = metrics_of(result)
    return float(m.loc[(m.model == model) & (m.evaluation == evaluation) & m.fold.isna(), metric].item())


@pytest.mark.parametrize("name", ["purchase_signal", "cart_signal"])
def test_models_beat_the_baseline_when_there_is_signal(results: dict[str, TaskResult], name: str) -> None:
    r = results[name]
    assert _metric(r, "baseline", FORECAST, "auc_roc") == 0.5  # constant prediction: all ties
    for model in LEARNERS:
        assert _metric(r, model, FORECAST, "auc_roc") > 0.5 + 0.1, model
        assert _metric(r, model, FORECAST, "log_loss") < _metric(r, "baseline", FORECAST, "log_loss"), model
        assert _metric(r, model, FORECAST, "brier") < _metric(r, "baseline", FORECAST, "brier"), model


@pytest.mark.parametrize("name", ["purchase_noise", "cart_noise"])
def test_models_do_not_beat_chance_on_pure_noise(results: dict[str, TaskResult], name: str) -> None:
    r = results[name]
    for (model, evaluation), fitted in r.models.items():
        auc = fitted.metrics["auc_roc"]
        assert abs(auc - 0.5) < 0.08, f"{model}/{evaluation}: AUC {auc:.3f} on noise suggests leakage"


def test_same_window_does_not_see_the_label_carrying_features(
    frames: dict[str, pd.DataFrame], results: dict[str, TaskResult]
) -> None:
    # In the noise frame only `purchases`/`purchase_value` carry the same-window label.
    r = results["purchase_noise"]
    for model in LEARNERS:
        assert abs(_metric(r, model, SAME_WINDOW, "auc_roc") - 0.5) < 0.08, model
    # Control: the same data WITH `purchases` is perfectly separable, so the
    # assertion above would fail if the exclusion were dropped.
    data = build_evaluation(get_task(PURCHASE_TASK), frames["purchase_noise"], SAME_WINDOW, FAST)
    rows = frames["purchase_noise"]
    rows = rows[rows.split == "same_window"]
    train, test = rows.loc[data.train_rows.index], rows.loc[data.test_rows.index]
    est = fit_estimator("logistic_regression", train[["purchases"]].astype(float), data.y_train,
                        numeric=["purchases"], categorical=[], log_features=["purchases"], settings=FAST)  # fmt: skip
    assert mann_whitney_auc(data.y_test, est.estimator.predict_proba(test[["purchases"]].astype(float))[:, 1]) > 0.99


@pytest.mark.parametrize("name", ["purchase_signal", "cart_signal"])
def test_reported_metrics_match_a_recomputation(
    frames: dict[str, pd.DataFrame], results: dict[str, TaskResult], name: str
) -> None:
    frame, r = frames[name], results[name]
    test = frame[frame.split == "test"]
    y = test["purchased"].to_numpy(dtype=int)
    metrics = metrics_of(r)
    for model in ("baseline", *LEARNERS):
        fitted = r.get(model, FORECAST)
        p = fitted.predict_proba(test)
        row = metrics[(metrics.model == model) & (metrics.evaluation == FORECAST)].iloc[0]
        assert row["auc_roc"] == pytest.approx(mann_whitney_auc(y, p), abs=1e-9)
        assert row["brier"] == pytest.approx(np.mean((p - y) ** 2), rel=1e-9)
        pc = np.clip(p, 1e-15, 1 - 1e-15)
        assert row["log_loss"] == pytest.approx(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc)), rel=1e-9)
        assert row["n_train"] == (frame.split == "train").sum()
        assert row["n_test"] == len(test)
        assert row["train_sample_rate"] == row["test_sample_rate"] == 1.0  # a pandas frame is all there is
        assert row["positive_rate_test"] == pytest.approx(y.mean())
        assert row["threshold"] == FAST.threshold
    # The baseline predicts the training base rate everywhere.
    train_rate = frame.loc[frame.split == "train", "purchased"].mean()
    assert np.allclose(r.get("baseline").predict_proba(test), train_rate)


def test_metrics_rows_have_exactly_the_contract_columns(results: dict[str, TaskResult]) -> None:
    rows = [*results["purchase_signal"].metrics(), *results["cart_signal"].metrics()]
    expected = [
        "task", "model", "evaluation", "fold", "auc_roc", "pr_auc", "log_loss", "brier", "brier_uncalibrated",
        "accuracy", "precision", "recall", "threshold", "n_train", "n_test", "train_sample_rate",
        "test_sample_rate", "positive_rate_test", "train_start", "train_end",
        "test_start", "test_end", "parameters", "model_version", "trained_at",
    ]  # fmt: skip
    assert expected == METRIC_COLUMNS
    assert all(list(row) == expected for row in rows)
    frame = pd.DataFrame(rows)
    # 3 models x (forecast + same_window + 1 rolling-origin fold: the frame has
    # only the forecast's windows) for purchases; 3 x (forecast + 3 folds: the
    # cart windows move back a day per fold) for carts.
    counts = frame.groupby(["task", "evaluation"]).size().to_dict()
    assert counts == {
        (PURCHASE_TASK, FORECAST): 3, (PURCHASE_TASK, "same_window"): 3, (PURCHASE_TASK, "rolling_origin"): 3,
        (CART_TASK, FORECAST): 3, (CART_TASK, "rolling_origin"): 9,
    }  # fmt: skip
    assert frame["model_version"].is_unique
    assert all(isinstance(d, dt.date) for d in frame["train_start"])
    assert str(frame["trained_at"].dtype) == "datetime64[ns, UTC]"
    assert frame["n_train"].dtype == "int64"
    # one training run per task: one stamp for every row of it
    assert frame.groupby("task")["trained_at"].nunique().tolist() == [1, 1]


def test_importance_frame_holds_the_forecast_models_of_every_task(results: dict[str, TaskResult]) -> None:
    frame = importance_frame([results["purchase_signal"], results["cart_signal"]])
    assert list(frame.columns) == IMPORTANCE_COLUMNS
    forecast_versions = {
        r.get(model).model_version for r in (results["purchase_signal"], results["cart_signal"]) for model in LEARNERS
    }
    assert set(frame["model_version"]) == forecast_versions  # no baseline, no same_window model
    for name in ("purchase_signal", "cart_signal"):
        task = task_of(name)
        for model in LEARNERS:
            part = frame[(frame.task == task) & (frame.model == model)]
            assert len(part) >= len(get_task(task).features(FORECAST))  # one-hot may add columns
    assert importance_frame([]).empty and list(importance_frame([]).columns) == IMPORTANCE_COLUMNS


def metrics_table(rows: list[tuple]) -> pd.DataFrame:
    columns = ["task", "model", "evaluation", "fold", "auc_roc", "model_version"]
    return pd.DataFrame(rows, columns=columns)


def test_best_model_is_the_best_forecast_auc_with_xgboost_on_ties() -> None:
    nan = float("nan")
    rows = [
        ("t", "baseline", FORECAST, None, 0.99, "b"),  # the baseline never scores
        ("t", "logistic_regression", FORECAST, None, 0.71, "lr"),
        ("t", "xgboost", FORECAST, None, 0.70, "xgb"),
        ("t", "xgboost", SAME_WINDOW, None, 0.95, "xgb-sw"),  # not a forecast
        ("t", "xgboost", ROLLING_ORIGIN, 2, 0.95, "xgb-2"),  # a fold, not a model that scores
    ]
    assert best_model(metrics_table(rows))["model_version"] == "lr"
    tie = [*rows[:2], ("t", "xgboost", FORECAST, None, 0.71, "xgb")]
    assert best_model(metrics_table(tie))["model"] == "xgboost"
    undefined = [("t", "logistic_regression", FORECAST, None, nan, "lr"), ("t", "xgboost", FORECAST, None, nan, "xgb")]
    assert best_model(metrics_table(undefined))["model"] == "xgboost"
    nan_is_worst = [("t", "xgboost", FORECAST, None, nan, "xgb"), ("t", "logistic_regression", FORECAST, None, 0.2, "lr")]
    assert best_model(metrics_table(nan_is_worst))["model"] == "logistic_regression"
    skipped = [("t", "xgboost", FORECAST, None, None, None)]  # a skipped task names no model version
    assert best_model(metrics_table(skipped)) is None
    assert best_model(metrics_table([])) is None


def test_score_purchase_one_row_per_user_with_valid_probabilities(
    frames: dict[str, pd.DataFrame], results: dict[str, TaskResult]
) -> None:
    frame, r = frames["purchase_signal"], results["purchase_signal"]
    chosen = best_model(metrics_of(r))
    assert chosen["model"] in LEARNERS
    # independently: the learner with the higher AUC on the test rows
    test = frame[frame.split == "test"]
    aucs = {m: mann_whitney_auc(test["purchased"].to_numpy(int), r.get(m).predict_proba(test)) for m in LEARNERS}
    assert chosen["model"] == max(aucs, key=aucs.get)
    fitted = r.get(chosen["model"])
    scores = score_purchase(fitted, frame)  # whole table in; only split == 'score' is scored
    score_rows = frame[frame.split == "score"]
    assert list(scores.columns) == PURCHASE_SCORE_COLUMNS
    assert len(scores) == len(score_rows) and scores["user_id"].is_unique
    assert set(scores["user_id"]) == set(score_rows["user_id"])
    assert scores["purchase_probability"].between(0, 1).all()
    assert (scores["predicted_purchase"] == (scores["purchase_probability"] >= 0.5).astype(int)).all()
    assert (scores["model"] == chosen["model"]).all()
    assert (scores["model_version"] == chosen["model_version"]).all()
    # Probabilities follow the known signal: active users score higher.
    active = score_rows["carts"].to_numpy() > score_rows["carts"].median()
    assert scores["purchase_probability"][active].mean() > scores["purchase_probability"][~active].mean()
    lr = score_purchase(r.get("logistic_regression"), score_rows, threshold=0.2)
    assert (lr["model"] == "logistic_regression").all()
    assert (lr["predicted_purchase"] == (lr["purchase_probability"] >= 0.2).astype(int)).all()
    stamp = pd.Timestamp("2019-11-05 08:00", tz="Europe/Berlin")
    stamped = score_purchase(fitted, score_rows, scored_at=stamp)
    assert (stamped["scored_at"] == pd.Timestamp("2019-11-05 07:00", tz="UTC")).all()


def test_score_carts_scores_open_carts_only(frames: dict[str, pd.DataFrame], results: dict[str, TaskResult]) -> None:
    frame, r = frames["cart_signal"], results["cart_signal"]
    scores = score_carts(r.get("xgboost"), frame)
    open_rows = frame[frame.split == "open"].reset_index(drop=True)
    assert list(scores.columns) == CART_SCORE_COLUMNS
    assert len(scores) == len(open_rows) and scores["cart_event_id"].is_unique
    pd.testing.assert_series_equal(scores["cart_at"], open_rows["cart_at"], check_names=False)
    assert (scores["user_id"] == open_rows["user_id"]).all()
    assert scores["purchase_probability"].between(0, 1).all()
    assert np.allclose(scores["purchase_probability"], r.get("xgboost").predict_proba(open_rows))
    assert (scores["model_version"] == r.get("xgboost").model_version).all()


def test_scoring_rejects_duplicates_and_same_window_models(
    frames: dict[str, pd.DataFrame], results: dict[str, TaskResult]
) -> None:
    score_rows = frames["purchase_signal"].query("split == 'score'")
    xgboost = results["purchase_signal"].get("xgboost")
    with pytest.raises(ValueError, match="duplicated user_id"):
        score_purchase(xgboost, pd.concat([score_rows, score_rows.head(2)]))
    with pytest.raises(ValueError, match="same_window"):
        score_purchase(results["purchase_signal"].get("xgboost", SAME_WINDOW), score_rows)
    with pytest.raises(ValueError, match="task"):
        score_carts(xgboost, frames["cart_signal"])
    with pytest.raises(KeyError, match="no 'xgboost' model for 'same_window'"):
        results["cart_signal"].get("xgboost", SAME_WINDOW)
    empty = score_purchase(xgboost, score_rows.head(0))
    assert empty.empty and list(empty.columns) == PURCHASE_SCORE_COLUMNS


def test_single_class_test_set_gives_nan_auc_through_the_pipeline() -> None:
    frame = make_cart_frame(n_carts=1200, seed=15)
    frame.loc[frame.split == "test", "purchased"] = 0.0
    result = train_task(CART_TASK, frame, cart_windows(frame), FAST)
    for model in ("baseline", *LEARNERS):
        assert math.isnan(_metric(result, model, FORECAST, "auc_roc"))
        assert math.isnan(_metric(result, model, FORECAST, "pr_auc"))
        assert math.isfinite(_metric(result, model, FORECAST, "log_loss"))
    assert best_model(metrics_of(result))["model"] == "xgboost"  # NaN AUC everywhere: documented fallback


def test_single_class_training_set_is_a_clear_error() -> None:
    frame = make_cart_frame(n_carts=600, seed=16)
    frame.loc[frame.split == "train", "purchased"] = 1.0
    with pytest.raises(ValueError, match="single class"):
        train_task(CART_TASK, frame, cart_windows(frame), Settings(models=("baseline", "logistic_regression")))


def test_spark_style_dtypes_give_the_same_model() -> None:
    """Decimal prices, int32 counts and ISO-string dates, as Spark may hand them over."""
    plain = make_cart_frame(n_carts=800, seed=17)
    spark = plain.copy()
    spark["price"] = [Decimal(str(v)) for v in spark["price"]]
    for col in ("user_views_before", "hour_of_day", "user_viewed_product_today"):
        spark[col] = spark[col].astype("int32")
    spark["cart_date"] = spark["cart_date"].astype(str)
    spark["brand"] = spark["brand"].astype("string")  # pd.NA instead of None
    settings = Settings(models=("logistic_regression",), lr_C_grid=(1.0,))
    windows = cart_windows(plain)
    a = train_task(CART_TASK, plain, windows, settings).get("logistic_regression")
    b = train_task(CART_TASK, spark, windows, settings).get("logistic_regression")
    open_plain, open_spark = plain[plain.split == "open"], spark[spark.split == "open"]
    np.testing.assert_allclose(a.predict_proba(open_plain), b.predict_proba(open_spark), rtol=1e-10)
    assert a.window == b.window
    # the rolling-origin folds cut the string dates like the date objects
    folds_a, folds_b = a.diagnostics["rolling_origin"], b.diagnostics["rolling_origin"]
    assert [r["fold"] for r in folds_a] == [r["fold"] for r in folds_b] == [1, 2, 3]
    for row_a, row_b in zip(folds_a, folds_b, strict=True):
        assert (row_a["n_train"], row_a["n_test"], row_a["test_start"]) == (row_b["n_train"], row_b["n_test"], row_b["test_start"])
        assert row_a["auc_roc"] == pytest.approx(row_b["auc_roc"], abs=1e-9)
