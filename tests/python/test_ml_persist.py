"""Persistence round trip, registry and train_or_load reuse."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ml_fixtures import make_cart_frame, make_purchase_frame

import ml.pipeline
from ml.persist import list_models, load_latest, load_model
from ml.pipeline import metrics_frame, train_or_load
from ml.settings import Settings
from ml.tasks import CART_TASK, FORECAST, PURCHASE_TASK, SAME_WINDOW, feature_columns

FAST = Settings(xgb_n_estimators=100)
FRAMES = {PURCHASE_TASK: lambda: make_purchase_frame(n_users=800, seed=21), CART_TASK: lambda: make_cart_frame(1500, seed=22)}
SCORE_SPLIT = {PURCHASE_TASK: "score", CART_TASK: "open"}


@pytest.mark.parametrize("task", [PURCHASE_TASK, CART_TASK])
def test_round_trip_gives_identical_predictions_and_full_metadata(tmp_path: Path, task: str) -> None:
    frame = FRAMES[task]()
    result = train_or_load(task, frame, tmp_path, retrain=True, settings=FAST)
    rows = frame[frame.split == SCORE_SPLIT[task]]
    for (model, evaluation), fitted in result.models.items():
        loaded = load_latest(tmp_path, task, model, evaluation)
        assert loaded is not None and loaded.model_version == fitted.model_version
        np.testing.assert_array_equal(loaded.predict_proba(rows), fitted.predict_proba(rows))
        assert loaded.features == feature_columns(task, evaluation)
        assert loaded.window == fitted.window
        assert loaded.metrics["auc_roc"] == pytest.approx(fitted.metrics["auc_roc"], nan_ok=True)

        meta = json.loads((tmp_path / task / model / f"{fitted.model_version}.json").read_text())
        assert meta["features"] == feature_columns(task, evaluation)
        assert {"scikit-learn", "xgboost", "pandas", "numpy"} <= set(meta["library_versions"])
        assert meta["task"] == task and meta["model"] == model and meta["evaluation"] == evaluation
        assert set(meta["training_window"]) == {"train_start", "train_end", "test_start", "test_end"}
        assert meta["trained_at"].endswith("+00:00")
        assert meta["metrics"]["n_test"] == fitted.metrics["n_test"]
    registry = list_models(tmp_path)
    assert len(registry) == len(result.models) and set(registry["task"]) == {task}


def test_retrain_false_reuses_saved_models_without_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = FRAMES[CART_TASK]()
    first = train_or_load(CART_TASK, frame, tmp_path, retrain=False, settings=FAST)  # empty dir: trains
    assert not first.reused and len(list_models(tmp_path)) == 3

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("train_task must not run when saved models are reused")

    monkeypatch.setattr(ml.pipeline, "train_task", no_training)
    second = train_or_load(CART_TASK, frame, tmp_path, retrain=False, settings=FAST)
    assert second.reused
    assert second.model_versions == first.model_versions
    pd.testing.assert_frame_equal(metrics_frame([second]), metrics_frame([first]))
    pd.testing.assert_frame_equal(second.importance, first.importance)
    with pytest.raises(AssertionError, match="must not run"):
        train_or_load(CART_TASK, frame, tmp_path, retrain=True, settings=FAST)

    monkeypatch.undo()
    third = train_or_load(CART_TASK, frame, tmp_path, retrain=True, settings=FAST)
    assert not third.reused
    assert set(third.model_versions.values()).isdisjoint(first.model_versions.values())
    assert load_latest(tmp_path, CART_TASK, "xgboost").model_version == third.get("xgboost").model_version
    assert len(list_models(tmp_path)) == 6


def test_reuse_is_per_task_and_needs_every_forecast_model(tmp_path: Path) -> None:
    carts = train_or_load(CART_TASK, FRAMES[CART_TASK](), tmp_path, retrain=True, settings=FAST)
    # No purchase models saved yet -> retrain=False must train the purchase task.
    purchase = train_or_load(PURCHASE_TASK, FRAMES[PURCHASE_TASK](), tmp_path, retrain=False, settings=FAST)
    assert not purchase.reused and (SAME_WINDOW in {e for _, e in purchase.models})
    # Delete one forecast model's metadata -> the saved set is incomplete -> retrain.
    victim = Path(list_models(tmp_path).query("task == @CART_TASK and model == 'xgboost'")["path"].iloc[0])
    victim.unlink()
    again = train_or_load(CART_TASK, FRAMES[CART_TASK](), tmp_path, retrain=False, settings=FAST)
    assert not again.reused and again.get("xgboost").model_version != carts.get("xgboost").model_version


def test_saved_model_with_a_stale_feature_list_is_not_reused(tmp_path: Path) -> None:
    frame = FRAMES[CART_TASK]()
    first = train_or_load(CART_TASK, frame, tmp_path, retrain=True, settings=FAST)
    meta_path = tmp_path / CART_TASK / "logistic_regression" / f"{first.get('logistic_regression').model_version}.json"
    meta = json.loads(meta_path.read_text())
    meta["numeric_features"] = meta["numeric_features"][:-1]  # as if the code had changed since
    meta_path.write_text(json.dumps(meta))
    second = train_or_load(CART_TASK, frame, tmp_path, retrain=False, settings=FAST)
    assert not second.reused


def test_tampered_artifact_is_rejected_and_missing_model_is_none(tmp_path: Path) -> None:
    assert load_latest(tmp_path, CART_TASK, "xgboost") is None
    assert list_models(tmp_path).empty
    result = train_or_load(CART_TASK, FRAMES[CART_TASK](), tmp_path, retrain=True, settings=Settings(models=("baseline",)))
    version = result.get("baseline", FORECAST).model_version
    artifact = tmp_path / CART_TASK / "baseline" / f"{version}.joblib"
    artifact.write_bytes(artifact.read_bytes() + b"x")
    with pytest.raises(ValueError, match="does not match the hash"):
        load_model(artifact.with_suffix(".json"))
