"""Feature lists and leakage guards."""

from __future__ import annotations

import dataclasses

import pytest
from ml_fixtures import make_purchase_frame, purchase_windows

from ml import tasks
from ml.models import fit_estimator
from ml.pipeline import train_task
from ml.preprocess import prepare_features
from ml.settings import Settings
from ml.tasks import (
    CART_TASK,
    FORECAST,
    LEAKY_COLUMNS,
    NON_FEATURE_COLUMNS,
    PURCHASE_TASK,
    SAME_WINDOW,
    LeakageError,
    assert_no_leakage,
    feature_columns,
    get_task,
    is_leaky,
)

# The input contracts from the design brief (not derived from the code).
PURCHASE_CONTRACT = [
    "views", "carts", "remove_from_carts", "purchases", "sessions", "active_days", "product_days",
    "category_days", "avg_view_price", "max_view_price", "cart_value", "purchase_value",
    "days_since_last_event", "view_to_cart_rate", "events_per_session",
]  # fmt: skip
CART_CONTRACT = [
    "hour_of_day", "day_of_week", "iso_week", "category_l1", "category_l2", "brand", "price",
    "price_relative_to_category", "user_views_before", "user_carts_before", "user_purchases_before",
    "user_sessions_before", "product_views_before", "product_carts_before", "product_purchases_before",
    "session_views_before", "session_carts_before", "seconds_since_session_start", "user_viewed_product_today",
]  # fmt: skip

ALL_LISTS = [(t, e) for t in tasks.TASKS for e in get_task(t).evaluations]


@pytest.mark.parametrize(("task", "evaluation"), ALL_LISTS)
def test_no_leaky_or_identifier_column_in_any_feature_list(task: str, evaluation: str) -> None:
    features = feature_columns(task, evaluation)
    assert features, "feature list must not be empty"
    assert len(features) == len(set(features))
    assert [f for f in features if is_leaky(f)] == []
    assert set(features).isdisjoint(LEAKY_COLUMNS)
    assert set(features).isdisjoint(NON_FEATURE_COLUMNS)


def test_feature_lists_follow_the_contracts() -> None:
    assert set(feature_columns(PURCHASE_TASK, FORECAST)) == set(PURCHASE_CONTRACT)
    # iso_week is deliberately excluded (time trend under a time split).
    assert set(feature_columns(CART_TASK, FORECAST)) == set(CART_CONTRACT) - {"iso_week"}
    assert get_task(CART_TASK).categorical() == ["category_l1", "category_l2", "brand"]


def test_same_window_excludes_exactly_the_label_carriers() -> None:
    same = feature_columns(PURCHASE_TASK, SAME_WINDOW)
    forecast = feature_columns(PURCHASE_TASK, FORECAST)
    assert "purchases" not in same and "purchase_value" not in same
    assert set(forecast) - set(same) == {"purchases", "purchase_value"}
    with pytest.raises(ValueError, match="no evaluation"):
        feature_columns(CART_TASK, SAME_WINDOW)


@pytest.mark.parametrize(
    "column",
    ["purchased", "session_purchases", "label_start_date", "label_end_date", "purchases_after", "views_after_cart",
     "purchased_within_7d", " Purchased "],
)  # fmt: skip
def test_leaky_names_are_detected(column: str) -> None:
    assert is_leaky(column)


@pytest.mark.parametrize("column", ["purchases", "purchase_value", "user_purchases_before", "afternoon_share", "views"])
def test_legitimate_names_are_not_flagged(column: str) -> None:
    assert not is_leaky(column)


def test_assert_no_leakage_names_the_offending_columns() -> None:
    with pytest.raises(LeakageError, match=r"purchased.*user_id|user_id"):
        assert_no_leakage(["views", "purchased", "user_id"])
    assert_no_leakage(["views", "carts"])  # no error


@pytest.mark.parametrize("model", ["baseline", "logistic_regression", "xgboost"])
def test_fitting_refuses_the_label_among_features(model: str) -> None:
    frame = make_purchase_frame(n_users=200, seed=1)
    train = frame[frame.split == "train"]
    numeric = feature_columns(PURCHASE_TASK) + ["purchased"]
    X = train[numeric].astype(float)
    with pytest.raises(LeakageError, match="purchased"):
        fit_estimator(model, X, train["purchased"].to_numpy(dtype=int), numeric=numeric, categorical=[],
                      log_features=[], settings=Settings())  # fmt: skip
    with pytest.raises(LeakageError):
        prepare_features(train, numeric, [])


def test_training_refuses_a_feature_list_edited_to_include_the_label(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = get_task(PURCHASE_TASK)
    leaky = dataclasses.replace(spec, numeric_features=spec.numeric_features + ("purchased",))
    monkeypatch.setitem(tasks.SPECS, PURCHASE_TASK, leaky)
    with pytest.raises(LeakageError, match="purchased"):
        frame = make_purchase_frame(n_users=200, seed=2)
        train_task(PURCHASE_TASK, frame, purchase_windows(frame), Settings(models=("baseline",)))


def test_unknown_task_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown task"):
        get_task("churn")
    assert tasks.TASKS == ("purchase_propensity", "cart_conversion")
