"""ml.sampling and the column/split lists of ml.splits: what of a training
table reaches pandas (the plan; drawing it in Spark is in test_ml_spark)."""

from __future__ import annotations

import pandas as pd
import pytest
from ml_fixtures import make_cart_frame, make_purchase_frame

from ml.sampling import cap_split, plan_sample, split_sample_rate
from ml.settings import Settings
from ml.splits import build_evaluation, training_columns, training_splits
from ml.tasks import CART_TASK, FORECAST, PURCHASE_TASK, get_task

PURCHASE, CART = get_task(PURCHASE_TASK), get_task(CART_TASK)


def test_a_split_within_its_cap_is_kept_whole():
    assert cap_split({0: 70, 1: 30}, cap=100) == {0: 70, 1: 30}


def test_a_capped_split_keeps_both_classes_at_one_rate():
    keep = cap_split({0: 9_000, 1: 1_000}, cap=1_000)
    assert keep == {0: 900, 1: 100}


def test_rounding_never_exceeds_the_cap():
    keep = cap_split({0: 333, 1: 334, 2: 333}, cap=100)
    assert sum(keep.values()) <= 100 and min(keep.values()) == 33


def test_a_thin_minority_is_kept_whole_up_to_half_the_cap_on_request():
    counts = {0: 99_000, 1: 1_000}  # one rate (1 %) would keep 10 positives
    assert cap_split(counts, cap=1_000) == {0: 990, 1: 10}
    assert cap_split(counts, cap=1_000, min_minority=50) == {0: 500, 1: 500}
    assert cap_split({0: 99_800, 1: 200}, cap=1_000, min_minority=50) == {0: 800, 1: 200}
    # enough minority rows at one rate: the rule does not kick in
    assert cap_split({0: 9_000, 1: 1_000}, cap=1_000, min_minority=50) == {0: 900, 1: 100}


def test_only_the_train_split_may_be_rebalanced():
    counts = {split: {0.0: 99_000, 1.0: 1_000} for split in ("train", "test", "same_window", "score")}
    plan = plan_sample(PURCHASE, counts, Settings(max_train_rows=1_000, max_test_rows=500, min_train_minority_rows=50))
    assert set(plan.keep) == {"train", "test", "same_window"}  # never the score split
    assert plan.keep["train"] == {0.0: 500, 1.0: 500}
    assert plan.keep["test"] == {0.0: 495, 1.0: 5}
    assert plan.keep["same_window"] == {0.0: 990, 1.0: 10}
    assert plan.rows_available() == {"train": 100_000, "test": 100_000, "same_window": 100_000}
    assert not plan.is_complete()


def test_small_tables_are_not_sampled():
    counts = {"train": {0: 10, 1: 5}, "test": {0: 3, 1: 2}, "open": {None: 4}}
    plan = plan_sample(CART, counts, Settings())
    assert plan.is_complete() and set(plan.keep) == {"train", "test", "gap"}  # gap: rolling-origin folds


def test_splits_and_columns_come_from_the_task_specs():
    assert training_splits(PURCHASE) == ["train", "test", "same_window"]
    assert training_splits(CART) == ["train", "test", "gap"]
    # rolling-origin splits are read when the table holds them; never the score split
    present = ["score", "rolling_3_test", "rolling_2_train", "train", "rolling_2_test", "rolling_3_train"]
    assert training_splits(PURCHASE, present) == [
        "train", "test", "same_window", "rolling_2_test", "rolling_2_train", "rolling_3_test", "rolling_3_train"
    ]
    columns = training_columns(CART)
    assert columns[:3] == ["cart_event_id", "split", "purchased"]
    assert {"cart_at", "cart_date", "brand", "price"} <= set(columns)
    assert not {"iso_week", "user_id", "product_id"} & set(columns)  # not features, not keys
    # the purchase list covers both evaluations' features and the window bounds
    assert {"purchases", "label_start_date", "feature_end_date"} <= set(training_columns(PURCHASE))


@pytest.mark.parametrize(
    ("task", "make", "window"), [(PURCHASE, make_purchase_frame, "label_end_date"), (CART, make_cart_frame, "cart_at")]
)
def test_the_listed_columns_are_all_training_needs(task, make, window):
    frame = make(400)
    only = frame[training_columns(task)]
    for evaluation in task.evaluations:
        full, narrow = (build_evaluation(task, f, evaluation, Settings()) for f in (frame, only))
        pd.testing.assert_frame_equal(full.X_train, narrow.X_train)
        assert full.window == narrow.window
    with pytest.raises(ValueError, match="missing columns"):
        build_evaluation(task, only.drop(columns=window), FORECAST, Settings())


def test_sample_rates_compare_rows_used_with_rows_available():
    frame = pd.DataFrame({"split": ["train"] * 3 + ["test"] * 2})
    assert split_sample_rate(frame, "train", {"train": 12, "test": 2}) == 0.25
    assert split_sample_rate(frame, "test", {"train": 12, "test": 2}) == 1.0
    assert split_sample_rate(frame, "train", None) == 1.0
