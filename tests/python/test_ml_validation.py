"""Tuning, calibration, rolling-origin folds, evaluation diagnostics and
reproducibility of the ml package (pandas only, no Spark)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ml_fixtures import D, make_cart_frame, make_purchase_frame, mann_whitney_auc

from ml.evaluate import evaluation_curves, reliability_table
from ml.persist import FORMAT_VERSION, load_latest
from ml.pipeline import MissingModelError, metrics_frame, train_or_load, train_task
from ml.settings import Settings
from ml.splits import rolling_origin_folds, rolling_split_names
from ml.tasks import CART_TASK, FORECAST, PURCHASE_TASK, ROLLING_ORIGIN, get_task

FAST = Settings(xgb_n_estimators=60, xgb_grid=((6, 0.05), (3, 0.1)), lr_C_grid=(0.01, 1.0))


# --- diagnostics against independent computations ---------------------------

def test_reliability_bins_are_equal_count_groups_of_the_sorted_predictions() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 1, 200)
    y = rng.binomial(1, p)
    table = reliability_table(y, p, bins=4)
    order = np.argsort(p)
    for bin_number, chunk in enumerate(np.array_split(order, 4), start=1):
        row = table[table["bin"] == bin_number].iloc[0]
        assert row["rows"] == len(chunk) == 50
        assert row["mean_predicted"] == pytest.approx(p[chunk].mean())
        assert row["observed_rate"] == pytest.approx(y[chunk].mean())


def test_tied_predictions_never_split_across_bins() -> None:
    p = np.array([0.1] * 7 + [0.9] * 3)
    y = np.array([0] * 6 + [1] + [1, 1, 0])
    table = reliability_table(y, p, bins=5)
    assert table["rows"].tolist() == [7, 3]
    assert table["observed_rate"].tolist() == pytest.approx([1 / 7, 2 / 3])


def test_curves_trace_the_roc_and_precision_recall_of_the_scores() -> None:
    rng = np.random.default_rng(5)
    y = rng.binomial(1, 0.3, 60)
    p = np.clip(0.3 + 0.3 * (y - 0.3) + rng.normal(0, 0.2, 60), 0, 1)
    curves = evaluation_curves(y, p, points=1000)  # nothing thinned
    roc = curves[curves.curve == "roc"]
    assert (roc.x.iloc[0], roc.y.iloc[0], roc.x.iloc[-1], roc.y.iloc[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.trapezoid(roc.y, roc.x) == pytest.approx(mann_whitney_auc(y, p))
    pr = curves[curves.curve == "precision_recall"]
    for _, point in pr.iterrows():  # each point: precision and recall at its threshold
        predicted = p >= point.threshold
        assert point.y == pytest.approx(y[predicted].mean())
        assert point.x == pytest.approx(y[predicted].sum() / y.sum())
    assert pr.x.is_monotonic_increasing
    assert evaluation_curves(np.zeros(5), np.linspace(0, 1, 5)).empty  # one class: no curve
    thinned = evaluation_curves(y, p, points=11)
    assert thinned.groupby("curve").size().max() <= 11


# --- tuning and calibration --------------------------------------------------

@pytest.fixture(scope="module")
def purchase_frame() -> pd.DataFrame:
    return make_purchase_frame(n_users=2000, seed=11)


def test_tuning_keeps_the_candidate_with_the_best_held_out_auc(purchase_frame: pd.DataFrame) -> None:
    result = train_task(PURCHASE_TASK, purchase_frame, FAST)
    for model, grid_key in (("logistic_regression", "C"), ("xgboost", "max_depth")):
        fitted = result.get(model)
        trials = fitted.parameters["trials"]
        assert len(trials) == 2  # the configured values first, then the rest of the bounded grid
        best = max(trials, key=lambda t: t["holdout_auc"])
        assert fitted.parameters[grid_key] == best[grid_key]
        assert json.loads(fitted.metrics["parameters"])[grid_key] == best[grid_key]
    assert result.get("logistic_regression").parameters["trials"][0]["C"] == FAST.lr_C


def test_calibration_repairs_squeezed_probabilities(purchase_frame: pd.DataFrame) -> None:
    # A very strong L2 penalty squeezes every probability towards the base rate:
    # badly calibrated, well ranked. Platt scaling on held-out rows fixes the scale.
    squeezed = FAST.replace(lr_C=1e-4, lr_C_grid=(1e-4,), models=("baseline", "logistic_regression"))
    fitted = train_task(PURCHASE_TASK, purchase_frame, squeezed).get("logistic_regression")
    row = fitted.metrics
    assert row["brier"] < row["brier_uncalibrated"] - 0.01
    assert fitted.parameters["calibration"] == "sigmoid"  # the held-out check saw the gain
    table = {flag: pd.DataFrame(fitted.diagnostics[key]) for flag, key in
             ((True, "reliability"), (False, "reliability_uncalibrated"))}  # fmt: skip
    gap = {flag: np.average((t.mean_predicted - t.observed_rate).abs(), weights=t.rows) for flag, t in table.items()}
    assert gap[True] < gap[False] / 2
    test = purchase_frame[purchase_frame.split == "test"]
    # monotone mapping: the ranking (AUC) is the one of the raw scores
    assert mann_whitney_auc(test.purchased, fitted.predict_proba(test)) == pytest.approx(
        mann_whitney_auc(test.purchased, fitted.predict_proba(test, calibrated=False)), abs=1e-9
    )


def test_without_enough_held_out_rows_nothing_is_tuned_or_calibrated() -> None:
    small = make_purchase_frame(n_users=60, seed=4)
    fitted = train_task(PURCHASE_TASK, small, FAST.replace(validation_fraction=0.1)).get("logistic_regression")
    assert fitted.calibrator is None and fitted.parameters == {"C": FAST.lr_C, "calibration": "none", "trials": []}


def test_calibration_is_declined_when_it_does_not_help_on_held_out_rows(purchase_frame: pd.DataFrame) -> None:
    # the fixture's logistic regression is already calibrated (it is the true model's form)
    fitted = train_task(PURCHASE_TASK, purchase_frame, FAST).get("logistic_regression")
    held_out = fitted.parameters["calibration_holdout_brier"]
    assert (fitted.calibrator is None) == (held_out["calibrated"] >= held_out["raw"])
    assert fitted.parameters["calibration"] == ("none" if fitted.calibrator is None else "sigmoid")
    assert fitted.metrics["brier"] == fitted.metrics["brier_uncalibrated"]


# --- rolling origin ----------------------------------------------------------

def _cart_frame_with_gap() -> pd.DataFrame:
    frame = make_cart_frame(n_carts=3000, seed=8)
    dates = pd.to_datetime(frame.cart_date)
    # the dbt contract: train up to 3 days (the label window) before the test days, then the gap
    frame.loc[(frame.split == "train") & (dates >= pd.Timestamp(D(2019, 10, 22))), "split"] = "gap"
    return frame


def test_cart_folds_move_the_test_days_back_and_purge_the_label_window() -> None:
    frame = _cart_frame_with_gap()
    settings = FAST.replace(rolling_origin_folds=4, rolling_origin_step_days=2, cart_label_window_hours=72)
    folds = rolling_origin_folds(get_task(CART_TASK), frame, settings)
    assert [f for f, _, _ in folds] == [1, 2, 3, 4]
    first_test = pd.Timestamp(D(2019, 10, 25))
    for fold, train, test in folds:
        start = first_test - pd.Timedelta(days=2 * (fold - 1))
        test_dates, train_dates = pd.to_datetime(test.cart_date), pd.to_datetime(train.cart_date)
        assert test_dates.min() == start and test_dates.max() == pd.Timestamp(D(2019, 10, 31)) - (first_test - start)
        assert train_dates.max() < start - pd.Timedelta(days=3)  # every train label closed before the test days
        assert not set(test.split) & {"open"}
    _, train, test = folds[0]  # fold 1 is exactly the forecast's split
    assert set(train.split) == {"train"} and set(test.split) == {"test"}
    assert len(train) == (frame.split == "train").sum() and len(test) == (frame.split == "test").sum()


def test_purchase_folds_come_from_the_rolling_splits() -> None:
    frame = make_purchase_frame(n_users=300, seed=2)
    extra = frame[frame.split.isin(["train", "test"])].copy()
    extra["split"] = extra["split"].map(dict(zip(("train", "test"), rolling_split_names(2), strict=True)))
    frame = pd.concat([frame, extra], ignore_index=True)
    folds = rolling_origin_folds(get_task(PURCHASE_TASK), frame, FAST)
    assert [(f, set(tr.split), set(te.split)) for f, tr, te in folds] == [
        (1, {"train"}, {"test"}),
        (2, {"rolling_2_train"}, {"rolling_2_test"}),
    ]


def test_rolling_origin_metrics_are_reported_per_fold_and_fold_1_is_the_forecast() -> None:
    frame = _cart_frame_with_gap()
    result = train_task(CART_TASK, frame, FAST.replace(rolling_origin_folds=3))
    metrics = metrics_frame([result])
    rolling = metrics[metrics.evaluation == ROLLING_ORIGIN]
    assert sorted(rolling.fold.unique()) == [1, 2, 3]
    assert len(rolling) == 3 * len(FAST.models)
    forecast = metrics[metrics.evaluation == FORECAST].set_index("model")
    fold_1 = rolling[rolling.fold == 1].set_index("model")
    for column in ("auc_roc", "pr_auc", "brier", "n_train", "n_test", "test_start", "test_end"):
        assert (fold_1[column] == forecast.loc[fold_1.index, column]).all(), column
    assert metrics.loc[metrics.evaluation != ROLLING_ORIGIN, "fold"].isna().all()


# --- reproducibility and persistence -----------------------------------------

def _stable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["model_version", "trained_at"]).reset_index(drop=True)


@pytest.mark.parametrize("task", [PURCHASE_TASK, CART_TASK])
def test_the_same_rows_in_any_order_give_the_same_metrics(task: str) -> None:
    frame = make_purchase_frame(n_users=800, seed=9) if task == PURCHASE_TASK else _cart_frame_with_gap()
    first = metrics_frame([train_task(task, frame, FAST)])
    shuffled = frame.sample(frac=1.0, random_state=1)
    second = metrics_frame([train_task(task, shuffled, FAST)])
    pd.testing.assert_frame_equal(_stable(first), _stable(second))


def test_calibrated_models_and_diagnostics_survive_a_round_trip(tmp_path: Path) -> None:
    frame = _cart_frame_with_gap()
    squeezed = FAST.replace(lr_C=1e-4, lr_C_grid=(1e-4,))  # a logistic regression that needs calibrating
    result = train_or_load(CART_TASK, frame, tmp_path, retrain=True, settings=squeezed)
    fitted = result.get("logistic_regression")
    loaded = load_latest(tmp_path, CART_TASK, "logistic_regression")
    assert loaded is not None and fitted.calibrator is not None and loaded.calibrator is not None
    rows = frame[frame.split == "open"]
    np.testing.assert_array_equal(loaded.predict_proba(rows), fitted.predict_proba(rows))
    np.testing.assert_array_equal(loaded.predict_proba(rows, calibrated=False), fitted.predict_proba(rows, calibrated=False))
    assert loaded.parameters == fitted.parameters
    for key in ("reliability", "reliability_uncalibrated", "curves"):
        pd.testing.assert_frame_equal(
            pd.DataFrame(loaded.diagnostics[key]), pd.DataFrame(fitted.diagnostics[key]), check_like=True
        )
    reused = train_or_load(CART_TASK, frame, tmp_path, retrain=False, settings=squeezed)
    pd.testing.assert_frame_equal(metrics_frame([reused]), metrics_frame([result]))


def test_files_of_an_older_format_are_not_reused(tmp_path: Path) -> None:
    frame = _cart_frame_with_gap()
    train_or_load(CART_TASK, frame, tmp_path, retrain=True, settings=FAST)
    for meta_path in tmp_path.glob("*/*/*.json"):
        meta = json.loads(meta_path.read_text())
        meta["format_version"] = FORMAT_VERSION - 1
        meta_path.write_text(json.dumps(meta))
    assert load_latest(tmp_path, CART_TASK, "xgboost") is None


def test_load_only_never_trains(tmp_path: Path) -> None:
    with pytest.raises(MissingModelError, match="build ml_model_metrics first"):
        train_or_load(CART_TASK, _cart_frame_with_gap(), tmp_path, retrain=False, settings=FAST, load_only=True)
    assert not list(tmp_path.glob("*/*/*"))


def test_settings_validate_the_new_fields() -> None:
    with pytest.raises(ValueError, match="calibration"):
        Settings(calibration="beta")
    with pytest.raises(ValueError, match="rolling_origin"):
        Settings(rolling_origin_folds=0)
