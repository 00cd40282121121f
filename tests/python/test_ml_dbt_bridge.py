"""ml.dbt_bridge and ml.spark_io: the glue the dbt Python models call (the parts without Spark)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ml_fixtures import make_purchase_frame

from ml import dbt_bridge, spark_io
from ml.evaluate import METRIC_COLUMNS
from ml.outputs import MODEL_METRICS
from ml.pipeline import train_or_load
from ml.tasks import CART_TASK, PURCHASE_TASK


def counts_of(frame: pd.DataFrame) -> dict:
    """split -> {label: rows}, as dbt_bridge.label_counts computes it in Spark."""
    counts: dict = {}
    for (split, label), n in frame.groupby(["split", "purchased"], dropna=False).size().items():
        counts.setdefault(split, {})[label] = int(n)
    return counts


def test_trainable_data_has_no_reason():
    assert dbt_bridge.untrainable_reason(PURCHASE_TASK, counts_of(make_purchase_frame(400))) is None


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({}, "no train rows"),
        ({"train": {0: 5, 1: 5}}, "no test rows"),
        ({"train": {0: 5, 1: 0}, "test": {0: 3, 1: 2}}, "train rows hold a single class"),
        ({"train": {0: 5, 1: 5}, "test": {1: 4}}, "test rows hold a single class"),
    ],
)
def test_untrainable_reasons_name_the_missing_split_or_class(counts, expected):
    assert expected in dbt_bridge.untrainable_reason(CART_TASK, counts)


def test_skipped_tasks_get_one_null_row_per_model_with_the_reason():
    frame = dbt_bridge.metrics_rows({PURCHASE_TASK: "no train rows", CART_TASK: "no test rows"})
    assert list(frame.columns) == MODEL_METRICS.columns
    assert set(METRIC_COLUMNS) | {"status"} <= set(MODEL_METRICS.columns)
    assert len(frame) == 6
    assert set(frame["status"]) == {"skipped: no train rows", "skipped: no test rows"}
    assert frame["auc_roc"].isna().all()


def test_training_frame_is_only_built_when_a_model_is_trained(tmp_path: Path):
    frame = make_purchase_frame(400)
    first = train_or_load(PURCHASE_TASK, lambda: frame, tmp_path, retrain=True)

    def must_not_be_called() -> pd.DataFrame:
        raise AssertionError("training table converted although saved models exist")

    reused = train_or_load(PURCHASE_TASK, must_not_be_called, tmp_path, retrain=False)
    assert reused.reused and reused.model_versions == first.model_versions


@pytest.mark.parametrize(("value", "expected"), [("True", True), ("false", False), (True, True), ("1", True), ("None", False)])
def test_config_flags_rendered_from_vars(value, expected):
    assert dbt_bridge.flag(value) is expected


def test_model_dir_defaults_under_the_warehouse(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("REES46_WAREHOUSE_DIR", str(tmp_path))
    assert dbt_bridge.model_dir("None") == tmp_path / "ml_models"
    assert dbt_bridge.model_dir(str(tmp_path / "elsewhere")) == tmp_path / "elsewhere"


def test_result_frames_are_coerced_to_their_declared_types_before_arrow():
    frame = pd.DataFrame(
        {
            "n": [3.0, np.nan],  # an int column that became float because of a skipped row
            "x": [0.25, np.nan],
            "flag": [1, 0],
            "name": ["a", np.nan],
            "day": [dt.date(2019, 11, 30), None],
            "at": [pd.Timestamp("2019-11-30 10:00", tz="UTC"), pd.NaT],
            "junk": ["not", "written"],
        }
    )
    ready = spark_io.spark_ready(frame, "name string, n bigint, x double, flag boolean, day date, at timestamp")
    assert list(ready.columns) == ["name", "n", "x", "flag", "day", "at"]
    assert str(ready["n"].dtype) == "Int64" and ready["n"].iloc[0] == 3 and ready["n"].isna().iloc[1]
    assert ready["x"].dtype == "float64" and np.isnan(ready["x"].iloc[1])
    assert ready["flag"].tolist() == [True, False]
    assert ready["name"].isna().tolist() == [False, True]
    assert ready["day"].tolist() == [dt.date(2019, 11, 30), None]
    assert str(ready["at"].dtype) == "datetime64[ns, UTC]" and ready["at"].iloc[0].hour == 10
    assert pd.isna(ready["at"].iloc[1])


def test_naive_timestamps_are_taken_as_utc_and_aware_ones_converted():
    frame = pd.DataFrame(
        {"a": [pd.Timestamp("2019-11-30 10:00")], "b": [pd.Timestamp("2019-11-30 11:00", tz="Europe/Berlin")]}
    )
    ready = spark_io.spark_ready(frame, "a timestamp, b timestamp")
    assert ready["a"].iloc[0] == ready["b"].iloc[0] == pd.Timestamp("2019-11-30 10:00", tz="UTC")


def test_non_integral_values_are_not_truncated_into_a_bigint():
    with pytest.raises(TypeError, match="non-equivalent"):
        spark_io.spark_ready(pd.DataFrame({"n": [1.5]}), "n bigint")


def test_unsupported_schema_types_are_refused():
    with pytest.raises(ValueError, match="unsupported type"):
        spark_io.schema_fields("a decimal(10)")
