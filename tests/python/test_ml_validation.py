"""Tuning, calibration, rolling-origin folds, evaluation diagnostics and
reproducibility of the ml package (pandas only, no Spark)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ml_fixtures import (
    D,
    WINDOW_COLUMNS,
    cart_windows,
    make_cart_frame,
    make_purchase_frame,
    mann_whitney_auc,
    purchase_windows,
)

from ml.evaluate import evaluation_curves, reliability_table
from ml.persist import load_model
from ml.pipeline import TaskResult, save_models, train_task
from ml.settings import Settings
from ml.splits import rolling_origin_folds
from ml.tasks import CART_TASK, FORECAST, PURCHASE_TASK, ROLLING_ORIGIN, SAME_WINDOW, get_task

FAST = Settings(xgb_n_estimators=60, xgb_grid=((6, 0.05), (3, 0.1)), lr_C_grid=(0.01, 1.0), xgb_n_jobs=1)


def metrics_of(result: TaskResult) -> pd.DataFrame:
    return pd.DataFrame(result.metrics())


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
    return make_purchase_frame(n_users=2000, seed=11, rolling_folds=2)


@pytest.fixture(scope="module")
def purchase_result(purchase_frame: pd.DataFrame) -> TaskResult:
    return train_task(PURCHASE_TASK, purchase_frame, purchase_windows(purchase_frame), FAST)


def test_tuning_keeps_the_candidate_with_the_best_held_out_auc(purchase_result: TaskResult) -> None:
    for model, grid_key in (("logistic_regression", "C"), ("xgboost", "max_depth")):
        fitted = purchase_result.get(model)
        trials = fitted.parameters["trials"]
        assert len(trials) == 2  # the configured values first, then the rest of the bounded grid
        best = max(trials, key=lambda t: t["holdout_auc"])
        assert fitted.parameters[grid_key] == best[grid_key]
        assert json.loads(fitted.metrics["parameters"])[grid_key] == best[grid_key]
    assert purchase_result.get("logistic_regression").parameters["trials"][0]["C"] == FAST.lr_C


def test_only_the_forecast_searches_and_the_other_fits_refit_its_choice(purchase_result: TaskResult) -> None:
    for model, keys in (("logistic_regression", ("C",)), ("xgboost", ("max_depth", "learning_rate"))):
        forecast = purchase_result.get(model)
        chosen = {key: forecast.parameters[key] for key in keys}
        same_window = purchase_result.get(model, SAME_WINDOW)
        # one candidate at most (none when too few held-out rows): the forecast's choice
        assert len(same_window.parameters["trials"]) <= 1
        assert {key: same_window.parameters[key] for key in keys} == chosen
        folds = [row for row in forecast.diagnostics["rolling_origin"] if row["fold"] != 1]
        assert [row["fold"] for row in folds] == [2]
        for row in folds:
            parameters = json.loads(row["parameters"])
            assert len(parameters["trials"]) <= 1 and {key: parameters[key] for key in keys} == chosen
            assert row["model_version"] != forecast.model_version


def test_calibration_repairs_squeezed_probabilities(purchase_frame: pd.DataFrame) -> None:
    # A very strong L2 penalty squeezes every probability towards the base rate:
    # badly calibrated, well ranked. Platt scaling on held-out rows fixes the scale.
    squeezed = FAST.replace(lr_C=1e-4, lr_C_grid=(1e-4,), models=("baseline", "logistic_regression"))
    result = train_task(PURCHASE_TASK, purchase_frame, purchase_windows(purchase_frame), squeezed)
    fitted = result.get("logistic_regression")
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
    result = train_task(PURCHASE_TASK, small, purchase_windows(small), FAST.replace(validation_fraction=0.1))
    fitted = result.get("logistic_regression")
    assert fitted.calibrator is None and fitted.parameters == {"C": FAST.lr_C, "calibration": "none", "trials": []}


def test_calibration_is_declined_when_it_does_not_help_on_held_out_rows(purchase_result: TaskResult) -> None:
    # the fixture's logistic regression is already calibrated (it is the true model's form)
    fitted = purchase_result.get("logistic_regression")
    held_out = fitted.parameters["calibration_holdout_brier"]
    assert (fitted.calibrator is None) == (held_out["calibrated"] >= held_out["raw"])
    assert fitted.parameters["calibration"] == ("none" if fitted.calibrator is None else "sigmoid")
    assert fitted.metrics["brier"] == fitted.metrics["brier_uncalibrated"]


# --- rolling origin ----------------------------------------------------------

def _cart_frame_with_gap(n_carts: int = 3000) -> pd.DataFrame:
    frame = make_cart_frame(n_carts=n_carts, seed=8)
    dates = pd.to_datetime(frame.cart_date)
    # the dbt contract: train up to 3 days (the label window) before the test days, then the gap
    frame.loc[(frame.split == "train") & (dates >= pd.Timestamp(D(2019, 10, 22))), "split"] = "gap"
    return frame


def _cart_window_rows(rows: list[tuple[str, int, dt.date, dt.date]]) -> pd.DataFrame:
    """Hand-written cart_conversion rows of ml_training_windows: (split, fold, start, end)."""
    out = pd.DataFrame(
        [{"task": CART_TASK, "split": s, "fold": f, "start_date": a, "feature_end_date": None,
          "label_start_date": None, "end_date": b, "data_end_date": D(2019, 11, 3),
          "definition_hash": "h"} for s, f, a, b in rows],  # fmt: skip
        columns=WINDOW_COLUMNS,
    )
    return out


def test_cart_folds_move_the_test_days_back_and_purge_the_label_window() -> None:
    frame = _cart_frame_with_gap()
    windows = cart_windows(frame, folds=4, step_days=2)
    # the fold-1 windows are the training set's own: train ends where the 3-day gap starts
    assert windows.set_index("split").loc["train", "end_date"] == D(2019, 10, 22)
    folds = rolling_origin_folds(get_task(CART_TASK), frame, windows)
    assert [f for f, _, _ in folds] == [1, 2, 3, 4]
    first_test = pd.Timestamp(D(2019, 10, 25))
    for fold, train, test in folds:
        start = first_test - pd.Timedelta(days=2 * (fold - 1))
        test_dates, train_dates = pd.to_datetime(test.cart_date), pd.to_datetime(train.cart_date)
        assert test_dates.min() == start and test_dates.max() == pd.Timestamp(D(2019, 10, 31)) - (first_test - start)
        assert train_dates.max() < start - pd.Timedelta(days=3)  # every train label closed before the test days
        assert not set(test.split) & {"open"} and not set(train.split) & {"open"}
    _, train, test = folds[0]  # fold 1 is exactly the forecast's split
    assert set(train.split) == {"train"} and set(test.split) == {"test"}
    assert len(train) == (frame.split == "train").sum() and len(test) == (frame.split == "test").sum()


def test_cart_folds_are_the_labelled_carts_dated_in_their_windows() -> None:
    frame = _cart_frame_with_gap(n_carts=1500)
    windows = _cart_window_rows([
        ("train", 1, D(2019, 10, 1), D(2019, 10, 22)), ("test", 1, D(2019, 10, 25), D(2019, 11, 1)),
        ("rolling_2_train", 2, D(2019, 10, 5), D(2019, 10, 15)), ("rolling_2_test", 2, D(2019, 10, 20), D(2019, 10, 23)),
        # only open carts are dated here: no labelled test rows, the fold is left out
        ("rolling_5_train", 5, D(2019, 10, 1), D(2019, 10, 10)), ("rolling_5_test", 5, D(2019, 11, 1), D(2019, 11, 3)),
        ("rolling_7_train", 7, D(2019, 10, 1), D(2019, 10, 3)), ("rolling_7_test", 7, D(2019, 10, 28), D(2019, 10, 29)),
    ])  # fmt: skip
    folds = rolling_origin_folds(get_task(CART_TASK), frame, windows)
    assert [f for f, _, _ in folds] == [1, 2, 7]
    labelled = frame[frame.split != "open"]
    for fold, train, test in folds:
        for rows, part in ((train, "train"), (test, "test")):
            name = part if fold == 1 else f"rolling_{fold}_{part}"
            start, end = windows.set_index("split").loc[name, ["start_date", "end_date"]]
            expected = labelled[(labelled.cart_date >= start) & (labelled.cart_date < end)]
            assert sorted(rows.cart_event_id) == sorted(expected.cart_event_id), (fold, part)
    # fold 2 tests on carts of the gap and of the train split alike
    assert set(folds[1][2].split) == {"train", "gap"}


def test_purchase_folds_come_from_the_rolling_splits_the_windows_name() -> None:
    frame = make_purchase_frame(n_users=300, seed=2, rolling_folds=3)
    windows = purchase_windows(frame)
    folds = rolling_origin_folds(get_task(PURCHASE_TASK), frame, windows)
    assert [(f, set(tr.split), set(te.split), len(tr), len(te)) for f, tr, te in folds] == [
        (1, {"train"}, {"test"}, 300, 300),
        (2, {"rolling_2_train"}, {"rolling_2_test"}, 300, 300),
        (3, {"rolling_3_train"}, {"rolling_3_test"}, 300, 300),
    ]
    # the folds are those of the windows: a split the windows do not name is not a fold
    fewer = windows[windows.fold.isna() | (windows.fold <= 2)]
    assert [f for f, _, _ in rolling_origin_folds(get_task(PURCHASE_TASK), frame, fewer)] == [1, 2]


def test_rolling_origin_metrics_are_reported_per_fold_and_fold_1_is_the_forecast() -> None:
    frame = _cart_frame_with_gap()
    windows = cart_windows(frame, folds=3)
    result = train_task(CART_TASK, frame, windows, FAST)
    metrics = metrics_of(result)
    rolling = metrics[metrics.evaluation == ROLLING_ORIGIN]
    assert sorted(rolling.fold.unique()) == [1, 2, 3]
    assert len(rolling) == 3 * len(FAST.models)
    forecast = metrics[metrics.evaluation == FORECAST].set_index("model")
    fold_1 = rolling[rolling.fold == 1].set_index("model")
    for column in ("auc_roc", "pr_auc", "brier", "n_train", "n_test", "test_start", "test_end", "parameters"):
        assert (fold_1[column] == forecast.loc[fold_1.index, column]).all(), column
    assert metrics.loc[metrics.evaluation != ROLLING_ORIGIN, "fold"].isna().all()
    assert metrics["model_version"].is_unique
    # folds 2 and 3: trained and tested on the labelled carts of their windows
    labelled = frame[frame.split != "open"]
    bounds = windows.set_index("split")
    for fold in (2, 3):
        test_start, test_end = bounds.loc[f"rolling_{fold}_test", ["start_date", "end_date"]]
        train_start, train_end = bounds.loc[f"rolling_{fold}_train", ["start_date", "end_date"]]
        in_test = labelled[(labelled.cart_date >= test_start) & (labelled.cart_date < test_end)]
        in_train = labelled[(labelled.cart_date >= train_start) & (labelled.cart_date < train_end)]
        rows = rolling[rolling.fold == fold]
        assert (rows.n_test == len(in_test)).all() and (rows.n_train == len(in_train)).all()
        assert (rows.test_start == test_start).all() and (rows.test_end == test_end).all()  # carts every day
        assert np.allclose(rows.positive_rate_test, in_test.purchased.mean())


def test_a_fold_with_a_single_class_is_left_out(caplog: pytest.LogCaptureFixture) -> None:
    frame = _cart_frame_with_gap(n_carts=1500)
    frame.loc[frame.cart_date == D(2019, 10, 22), "purchased"] = 0.0  # a gap day: not in the forecast
    windows = _cart_window_rows([
        ("train", 1, D(2019, 10, 1), D(2019, 10, 22)), ("test", 1, D(2019, 10, 25), D(2019, 11, 1)),
        ("rolling_2_train", 2, D(2019, 10, 1), D(2019, 10, 19)), ("rolling_2_test", 2, D(2019, 10, 22), D(2019, 10, 23)),
        ("rolling_3_train", 3, D(2019, 10, 1), D(2019, 10, 18)), ("rolling_3_test", 3, D(2019, 10, 21), D(2019, 10, 28)),
    ])  # fmt: skip
    settings = FAST.replace(models=("baseline", "logistic_regression"))
    with caplog.at_level("WARNING", logger="ml.pipeline"):
        result = train_task(CART_TASK, frame, windows, settings)
    metrics = metrics_of(result)
    assert sorted(metrics.loc[metrics.evaluation == ROLLING_ORIGIN, "fold"].unique()) == [1, 3]
    assert "fold 2 left out" in caplog.text


# --- reproducibility and persistence -----------------------------------------

def _stable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["model_version", "trained_at"]).reset_index(drop=True)


@pytest.mark.parametrize("task", [PURCHASE_TASK, CART_TASK])
def test_the_same_rows_in_any_order_give_the_same_metrics(task: str) -> None:
    if task == PURCHASE_TASK:
        frame = make_purchase_frame(n_users=800, seed=9, rolling_folds=2)
        windows = purchase_windows(frame)
    else:
        frame = _cart_frame_with_gap()
        windows = cart_windows(frame)
    first = metrics_of(train_task(task, frame, windows, FAST))
    shuffled = frame.sample(frac=1.0, random_state=1)
    second = metrics_of(train_task(task, shuffled, windows.sample(frac=1.0, random_state=2), FAST))
    assert (first.evaluation == ROLLING_ORIGIN).sum() > len(FAST.models)  # folds beyond the first are compared
    pd.testing.assert_frame_equal(_stable(first), _stable(second))


def test_calibrated_models_survive_a_round_trip(tmp_path: Path) -> None:
    frame = _cart_frame_with_gap()
    squeezed = FAST.replace(lr_C=1e-4, lr_C_grid=(1e-4,))  # a logistic regression that needs calibrating
    result = train_task(CART_TASK, frame, cart_windows(frame, folds=1), squeezed)
    save_models(result, tmp_path)
    fitted = result.get("logistic_regression")
    loaded = load_model(tmp_path, CART_TASK, "logistic_regression", fitted.model_version)
    assert fitted.calibrator is not None and loaded.calibrator is not None
    rows = frame[frame.split == "open"]
    np.testing.assert_array_equal(loaded.predict_proba(rows), fitted.predict_proba(rows))
    np.testing.assert_array_equal(loaded.predict_proba(rows, calibrated=False), fitted.predict_proba(rows, calibrated=False))
    assert loaded.parameters == fitted.parameters


def test_settings_validate_their_fields() -> None:
    with pytest.raises(ValueError, match="calibration"):
        Settings(calibration="beta")
    with pytest.raises(ValueError, match="max_test_rows"):
        Settings(max_test_rows=1)
