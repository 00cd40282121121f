"""Persistence: saving the forecast models, loading one by its version, and
refusing artifacts that are missing, tampered with or of an older format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ml_fixtures import make_cart_frame, make_purchase_frame, windows_for

from ml import persist
from ml.persist import FORMAT_VERSION, MissingModelError, is_saved, load_model, model_path
from ml.pipeline import TaskResult, save_models, train_task
from ml.settings import Settings
from ml.tasks import CART_TASK, FORECAST, PURCHASE_TASK, SAME_WINDOW, feature_columns

FAST = Settings(xgb_n_estimators=40, xgb_grid=((6, 0.05), (3, 0.1)), lr_C_grid=(0.1, 1.0), xgb_n_jobs=1)
FRAMES = {PURCHASE_TASK: lambda: make_purchase_frame(n_users=800, seed=21), CART_TASK: lambda: make_cart_frame(1500, seed=22)}
SCORE_SPLIT = {PURCHASE_TASK: "score", CART_TASK: "open"}


def trained(task: str, settings: Settings = FAST) -> tuple[pd.DataFrame, TaskResult]:
    frame = FRAMES[task]()
    return frame, train_task(task, frame, windows_for(task, frame), settings)


@pytest.mark.parametrize("task", [PURCHASE_TASK, CART_TASK])
def test_round_trip_gives_identical_predictions_and_full_metadata(tmp_path: Path, task: str) -> None:
    frame, result = trained(task)
    save_models(result, tmp_path)
    rows = frame[frame.split == SCORE_SPLIT[task]]
    forecast = {(m, e): f for (m, e), f in result.models.items() if e == FORECAST}
    assert len(forecast) == len(FAST.models)
    for (model, evaluation), fitted in forecast.items():
        loaded = load_model(tmp_path, task, model, fitted.model_version)
        assert loaded.model_version == fitted.model_version
        assert (loaded.task, loaded.model, loaded.evaluation) == (task, model, evaluation)
        np.testing.assert_array_equal(loaded.predict_proba(rows), fitted.predict_proba(rows))
        assert loaded.features == feature_columns(task, evaluation)
        assert loaded.window == fitted.window
        assert loaded.threshold == fitted.threshold and loaded.trained_at == fitted.trained_at
        assert loaded.parameters == json.loads(fitted.metrics["parameters"])

        meta_path = tmp_path / task / model / f"{fitted.model_version}.json"
        assert model_path(tmp_path, task, model, fitted.model_version) == meta_path
        meta = json.loads(meta_path.read_text())
        assert meta["features"] == feature_columns(task, evaluation)
        assert {"scikit-learn", "xgboost", "pandas", "numpy"} <= set(meta["library_versions"])
        assert meta["task"] == task and meta["model"] == model and meta["evaluation"] == evaluation
        assert set(meta["training_window"]) == {"train_start", "train_end", "test_start", "test_end"}
        assert meta["trained_at"].endswith("+00:00")
        assert meta["format_version"] == FORMAT_VERSION
        # metrics and diagnostics live in ml_training_runs, not beside the model
        assert not {"metrics", "diagnostics"} & set(meta)
    # only the forecast models are saved: one artifact and one metadata file each
    assert len(list(tmp_path.rglob("*.joblib"))) == len(list(tmp_path.rglob("*.json"))) == len(forecast)
    for (model, evaluation), fitted in result.models.items():
        assert is_saved(tmp_path, task, model, fitted.model_version) == (evaluation == FORECAST)
    if task == PURCHASE_TASK:  # the same-window models exist but are not forecasts: never saved
        assert {e for _, e in result.models} == {FORECAST, SAME_WINDOW}


def test_models_are_found_by_version_never_as_the_newest_file(tmp_path: Path) -> None:
    frame = FRAMES[CART_TASK]()
    windows = windows_for(CART_TASK, frame)
    settings = FAST.replace(models=("baseline", "logistic_regression"))
    first = train_task(CART_TASK, frame, windows, settings, trained_at=pd.Timestamp("2019-11-01", tz="UTC"))
    second = train_task(CART_TASK, frame, windows, settings.replace(lr_C=0.01, lr_C_grid=(0.01,)),
                        trained_at=pd.Timestamp("2019-11-08", tz="UTC"))  # fmt: skip
    save_models(first, tmp_path)
    save_models(second, tmp_path)
    for result in (first, second):
        fitted = result.get("logistic_regression")
        loaded = load_model(tmp_path, CART_TASK, "logistic_regression", fitted.model_version)
        assert loaded.model_version == fitted.model_version
        assert loaded.parameters["C"] == fitted.parameters["C"]
    assert first.get("logistic_regression").parameters["C"] != second.get("logistic_regression").parameters["C"]


def test_tampered_artifact_is_rejected_and_missing_model_is_an_error(tmp_path: Path) -> None:
    assert not is_saved(tmp_path, CART_TASK, "baseline", "nothing-here")
    with pytest.raises(MissingModelError, match="ml_retrain"):
        load_model(tmp_path, CART_TASK, "baseline", "nothing-here")
    _, result = trained(CART_TASK, Settings(models=("baseline",)))
    save_models(result, tmp_path)
    version = result.get("baseline", FORECAST).model_version
    assert is_saved(tmp_path, CART_TASK, "baseline", version)
    artifact = tmp_path / CART_TASK / "baseline" / f"{version}.joblib"
    artifact.write_bytes(artifact.read_bytes() + b"x")
    assert is_saved(tmp_path, CART_TASK, "baseline", version)  # present; the hash check is at load time
    with pytest.raises(ValueError, match="does not match the hash"):
        load_model(tmp_path, CART_TASK, "baseline", version)
    # an artifact without its metadata, or metadata without its artifact, is not a saved model
    artifact.unlink()
    assert not is_saved(tmp_path, CART_TASK, "baseline", version)
    with pytest.raises(MissingModelError):
        load_model(tmp_path, CART_TASK, "baseline", version)


def test_files_of_an_older_format_are_not_loaded(tmp_path: Path) -> None:
    _, result = trained(CART_TASK, FAST.replace(models=("baseline", "xgboost")))
    save_models(result, tmp_path)
    version = result.get("xgboost").model_version
    assert is_saved(tmp_path, CART_TASK, "xgboost", version)
    meta_path = model_path(tmp_path, CART_TASK, "xgboost", version)
    meta = json.loads(meta_path.read_text())
    meta["format_version"] = FORMAT_VERSION - 1
    meta_path.write_text(json.dumps(meta))
    assert not is_saved(tmp_path, CART_TASK, "xgboost", version)
    with pytest.raises(persist.MissingModelError):
        load_model(tmp_path, CART_TASK, "xgboost", version)
    meta_path.write_text("{ not json")  # a torn write of the metadata
    assert not is_saved(tmp_path, CART_TASK, "xgboost", version)
