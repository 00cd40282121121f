"""Time-aware splits, validation carving and leakage guards on windows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from ml_fixtures import PURCHASE_WINDOWS, make_cart_frame, make_purchase_frame

from ml.settings import Settings
from ml.splits import build_evaluation
from ml.tasks import CART_TASK, FORECAST, PURCHASE_TASK, SAME_WINDOW, get_task

CART = get_task(CART_TASK)
PURCHASE = get_task(PURCHASE_TASK)


@pytest.fixture(scope="module")
def carts() -> pd.DataFrame:
    return make_cart_frame(n_carts=1500, seed=4)


@pytest.fixture(scope="module")
def purchases() -> pd.DataFrame:
    return make_purchase_frame(n_users=1000, seed=4)


def test_cart_forecast_puts_every_test_row_after_every_train_row(carts: pd.DataFrame) -> None:
    data = build_evaluation(CART, carts, FORECAST, Settings())
    assert set(data.train_rows["cart_event_id"]) == set(carts.loc[carts.split == "train", "cart_event_id"])
    assert set(data.test_rows["cart_event_id"]) == set(carts.loc[carts.split == "test", "cart_event_id"])
    assert data.train_rows["cart_at"].max() <= data.test_rows["cart_at"].min()
    assert len(data.X_train) == len(data.train_rows) and len(data.X_test) == len(data.test_rows)
    # Features are aligned with the rows they came from.
    np.testing.assert_array_equal(data.X_train["price"].to_numpy(), data.train_rows["price"].to_numpy())


def test_cart_validation_rows_are_the_latest_train_rows(carts: pd.DataFrame) -> None:
    data = build_evaluation(CART, carts, FORECAST, Settings(validation_fraction=0.2))
    times = pd.to_datetime(data.train_rows["cart_at"]).to_numpy()
    valid = data.valid_mask
    assert times[~valid].max() < times[valid].min()
    assert valid.mean() == pytest.approx(0.2, abs=0.01)


def test_cart_split_that_trains_on_the_future_is_rejected(carts: pd.DataFrame) -> None:
    broken = carts.copy()
    earliest_train = broken.index[broken.split == "train"][0]
    broken.loc[earliest_train, "split"] = "test"  # an October-1 cart in the test set
    with pytest.raises(ValueError, match="time split violated"):
        build_evaluation(CART, broken, FORECAST, Settings())


def test_purchase_split_with_overlapping_label_windows_is_rejected(purchases: pd.DataFrame) -> None:
    broken = purchases.copy()
    # Test labels now start before the train labels end.
    broken.loc[broken.split == "test", "label_start_date"] = dt.date(2019, 10, 25)
    with pytest.raises(ValueError, match="label windows overlap"):
        build_evaluation(PURCHASE, broken, FORECAST, Settings())


def test_purchase_forecast_uses_the_split_column_and_reports_windows(purchases: pd.DataFrame) -> None:
    data = build_evaluation(PURCHASE, purchases, FORECAST, Settings())
    windows = {w[0]: w[1:] for w in PURCHASE_WINDOWS}
    assert len(data.y_train) == (purchases.split == "train").sum()
    assert len(data.y_test) == (purchases.split == "test").sum()
    assert data.window == {
        "train_start": windows["train"][0],
        "train_end": windows["train"][3],
        "test_start": windows["test"][0],
        "test_end": windows["test"][3],
    }
    assert "purchases" in data.features
    # Early-stopping rows: a seeded, stratified ~20 % of TRAIN rows.
    assert data.valid_mask.mean() == pytest.approx(0.2, abs=0.01)
    assert data.y_train[data.valid_mask].mean() == pytest.approx(data.y_train.mean(), abs=0.02)


def test_cart_window_bounds_are_cart_dates_end_exclusive(carts: pd.DataFrame) -> None:
    data = build_evaluation(CART, carts, FORECAST, Settings())
    train_dates = carts.loc[carts.split == "train", "cart_date"]
    test_dates = carts.loc[carts.split == "test", "cart_date"]
    assert data.window["train_start"] == train_dates.min()
    assert data.window["train_end"] == train_dates.max() + dt.timedelta(days=1)
    assert data.window["test_start"] == test_dates.min()
    assert data.window["test_end"] == test_dates.max() + dt.timedelta(days=1)


def test_same_window_split_is_seeded_stratified_and_70_30(purchases: pd.DataFrame) -> None:
    rows = purchases[purchases.split == "same_window"]
    a = build_evaluation(PURCHASE, purchases, SAME_WINDOW, Settings(seed=7))
    b = build_evaluation(PURCHASE, purchases, SAME_WINDOW, Settings(seed=7))
    c = build_evaluation(PURCHASE, purchases, SAME_WINDOW, Settings(seed=8))
    test_ids, train_ids = set(a.test_rows.user_id), set(a.train_rows.user_id)
    assert test_ids.isdisjoint(train_ids) and test_ids | train_ids == set(rows.user_id)
    assert len(test_ids) == round(0.3 * len(rows))
    assert test_ids == set(b.test_rows.user_id)  # same seed, same split
    assert test_ids != set(c.test_rows.user_id)  # the seed matters
    assert a.y_test.mean() == pytest.approx(rows.purchased.mean(), abs=0.01)  # stratified
    assert "purchases" not in a.features and "purchase_value" not in a.features
    assert a.window["train_start"] == a.window["test_start"] == dt.date(2019, 10, 1)


def test_missing_contract_columns_are_listed(purchases: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"missing columns \['views', 'carts'\]"):
        build_evaluation(PURCHASE, purchases.drop(columns=["views", "carts"]), FORECAST, Settings())


def test_null_label_on_a_labelled_row_is_rejected(purchases: pd.DataFrame) -> None:
    broken = purchases.copy()
    broken.loc[broken.index[broken.split == "train"][:3], "purchased"] = np.nan
    with pytest.raises(ValueError, match="3 rows have 'purchased'"):
        build_evaluation(PURCHASE, broken, FORECAST, Settings())
