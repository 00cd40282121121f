"""ml.dbt_bridge and ml.spark_io: the glue the dbt Python models call (the parts without Spark)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ml_fixtures import make_cart_frame, make_purchase_frame, windows_for

from ml import dbt_bridge, recommend, runs, spark_io
from ml.pipeline import save_models, train_task
from ml.settings import Settings
from ml.tasks import CART_TASK, PURCHASE_TASK


def counts_of(frame: pd.DataFrame) -> dict:
    """split -> {label: rows}, as spark_io.label_counts computes it in Spark."""
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


def test_saved_artifacts_are_checked_per_task_and_need_every_model_of_the_latest_run(tmp_path: Path):
    frame = make_cart_frame(600, seed=23)
    settings = Settings(models=("baseline", "logistic_regression"), lr_C_grid=(1.0,))
    result = train_task(CART_TASK, frame, windows_for(CART_TASK, frame), settings)
    save_models(result, tmp_path)
    versions = tuple(sorted((m.model, m.model_version) for m in result.models.values()))
    previous = runs.PreviousRun("r", dt.date(2019, 11, 3), "fp", versions, trained=True)
    assert dbt_bridge._artifacts_saved(tmp_path, CART_TASK, previous)
    assert not dbt_bridge._artifacts_saved(tmp_path, CART_TASK, None)  # nothing was ever trained
    # the same versions under another task's folder are not this task's models
    assert not dbt_bridge._artifacts_saved(tmp_path, PURCHASE_TASK, previous)
    # one model's metadata gone: the set is incomplete
    (tmp_path / CART_TASK / "logistic_regression" / f"{result.get('logistic_regression').model_version}.json").unlink()
    assert not dbt_bridge._artifacts_saved(tmp_path, CART_TASK, previous)


def test_the_recommenders_saved_artifacts_are_the_als_factors(tmp_path: Path):
    versions = (("als", "r-als-1"), ("popularity", "r-pop-1"), ("recently_viewed", "r-rv-1"))
    previous = runs.PreviousRun("r", dt.date(2019, 11, 3), "fp", versions, trained=True)
    task = dbt_bridge.RECOMMENDATION_TASK
    assert not dbt_bridge._artifacts_saved(tmp_path, task, previous)
    folder = Path(recommend.factors_path(tmp_path, "r-als-1"))
    folder.mkdir(parents=True)
    assert not dbt_bridge._artifacts_saved(tmp_path, task, previous)  # a save that did not finish
    (folder / "saved.json").write_text("{}")
    assert dbt_bridge._artifacts_saved(tmp_path, task, previous)  # the baselines have nothing to save
    without_als = runs.PreviousRun("r", dt.date(2019, 11, 3), "fp", versions[1:], trained=True)
    assert dbt_bridge._artifacts_saved(tmp_path / "empty", task, without_als)


@pytest.mark.parametrize(("value", "expected"), [("True", True), ("false", False), (True, True), ("1", True), ("None", False)])
def test_config_flags_rendered_from_vars(value, expected):
    assert dbt_bridge.flag(value) is expected


def test_ml_vars_come_as_json_or_as_a_dict():
    rendered = '{"ml_retrain": "False", "ml_retrain_every_days": "7", "ml_model_dir": "None"}'
    assert dbt_bridge.ml_vars(rendered) == {"ml_retrain": "False", "ml_retrain_every_days": "7", "ml_model_dir": "None"}
    assert dbt_bridge.ml_vars({"rec_top_n": 5}) == {"rec_top_n": 5}
    assert dbt_bridge.ml_vars(None) == dbt_bridge.ml_vars("None") == dbt_bridge.ml_vars("") == {}


def test_model_dir_is_one_folder_per_schema_under_the_warehouse(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("REES46_WAREHOUSE_DIR", str(tmp_path))
    root = tmp_path.resolve()
    assert dbt_bridge.model_dir("None", "dev_ml") == root / "ml_models" / "dev_ml"
    assert dbt_bridge.model_dir(None, "ci_ml") == root / "ml_models" / "ci_ml"
    assert dbt_bridge.model_dir(str(tmp_path / "elsewhere"), "dev_ml") == root / "elsewhere" / "dev_ml"
    # two schemas on one warehouse never share a folder
    assert dbt_bridge.model_dir("None", "a_ml") != dbt_bridge.model_dir("None", "b_ml")


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
