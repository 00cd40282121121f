"""Model persistence: a joblib artifact plus a JSON metadata sidecar.

Layout:  {model_dir}/{task}/{model}/{model_version}.joblib
         {model_dir}/{task}/{model}/{model_version}.json

A model is found by its version, never as "the newest file": the version to
score with comes from ml_training_runs (through ml_model_metrics), and the
folder is per target schema (see ml.dbt_bridge.model_dir), so two schemas on
one warehouse never load each other's models. The metadata holds what
scoring needs (features, threshold, training window, parameters) and the
library versions; metrics and diagnostics live in ml_training_runs.

Both files are written to a temporary name and renamed into place, the JSON
last: a JSON file therefore marks a complete artifact, and readers never see
half-written models. The JSON records the artifact's SHA-256 so a swapped or
truncated artifact is detected before unpickling.

Security: joblib files are pickles. Only load from a directory you control.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
import xgboost
from sklearn.calibration import CalibratedClassifierCV

from ml.models import FittedModel

log = logging.getLogger(__name__)

# 3: found by version; metrics and diagnostics are in ml_training_runs, not
# here. A change of format changes the training fingerprint (retrain).
FORMAT_VERSION = 3
_DATE_KEYS = ("train_start", "train_end", "test_start", "test_end")


def library_versions() -> dict[str, str]:
    """Versions that determine whether a pickled model can be trusted to load."""
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "xgboost": xgboost.__version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "joblib": joblib.__version__,
    }


def _jsonable(value: Any) -> Any:
    """JSON-safe scalar: dates -> ISO strings, NaN -> null, numpy -> Python."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _parse_date(value: Any) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)


def _atomic_write(path: Path, write: Any) -> None:
    """Write via a temp file in the same directory, then rename (atomic on POSIX)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def metadata(fitted: FittedModel) -> dict[str, Any]:
    """The JSON metadata for one fitted model (without the artifact hash)."""
    return {
        "format_version": FORMAT_VERSION,
        "model_version": fitted.model_version,
        "task": fitted.task,
        "model": fitted.model,
        "evaluation": fitted.evaluation,
        "trained_at": fitted.trained_at.isoformat(),
        "threshold": fitted.threshold,
        "features": fitted.features,
        "numeric_features": fitted.numeric_features,
        "categorical_features": fitted.categorical_features,
        "training_window": _jsonable(fitted.window),
        "settings": _jsonable(fitted.settings),
        "parameters": _jsonable(fitted.parameters),
        "library_versions": library_versions(),
    }


def save_model(fitted: FittedModel, model_dir: str | Path) -> Path:
    """Persist one model; returns the JSON metadata path."""
    folder = Path(model_dir) / fitted.task / fitted.model
    folder.mkdir(parents=True, exist_ok=True)
    artifact = folder / f"{fitted.model_version}.joblib"
    meta_path = folder / f"{fitted.model_version}.json"
    # the calibrator wraps the (frozen) estimator: one object holds both
    stored = fitted.calibrator if fitted.calibrator is not None else fitted.estimator
    _atomic_write(artifact, lambda tmp: joblib.dump(stored, tmp))
    meta = metadata(fitted) | {"artifact": artifact.name, "artifact_sha256": _sha256(artifact)}
    text = json.dumps(meta, indent=2, sort_keys=True, allow_nan=False)
    _atomic_write(meta_path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    log.debug("saved %s to %s", fitted.model_version, folder)
    return meta_path


def read_metadata(meta_path: str | Path) -> dict[str, Any]:
    return json.loads(Path(meta_path).read_text(encoding="utf-8"))


def model_path(model_dir: str | Path, task: str, model: str, model_version: str) -> Path:
    """Where the metadata of one saved model lives (the artifact is beside it)."""
    return Path(model_dir) / task / model / f"{model_version}.json"


def is_saved(model_dir: str | Path, task: str, model: str, model_version: str) -> bool:
    """True when the model's metadata and artifact are both on disk (the
    metadata is written last, so it marks a complete save)."""
    meta_path = model_path(model_dir, task, model, model_version)
    if not meta_path.is_file():
        return False
    try:
        meta = read_metadata(meta_path)
    except (OSError, json.JSONDecodeError):
        return False
    return meta.get("format_version") == FORMAT_VERSION and meta_path.with_name(meta.get("artifact", "")).is_file()


class MissingModelError(RuntimeError):
    """A model to score with is not on disk."""


def load_model(model_dir: str | Path, task: str, model: str, model_version: str) -> FittedModel:
    """Load one saved model by its version (verifies the artifact's hash)."""
    meta_path = model_path(model_dir, task, model, model_version)
    if not is_saved(model_dir, task, model, model_version):
        raise MissingModelError(
            f"{model_version}: no saved model at {meta_path}; ml_training_runs names it, so the model folder "
            "was moved or emptied: run `dbt build --vars '{ml_retrain: true}'` to train again"
        )
    meta = read_metadata(meta_path)
    artifact = meta_path.with_name(meta["artifact"])
    if _sha256(artifact) != meta["artifact_sha256"]:
        raise ValueError(f"{artifact} does not match the hash recorded in {meta_path}")
    saved, current = meta.get("library_versions", {}), library_versions()
    drift = {k: (saved.get(k), v) for k, v in current.items() if k != "python" and saved.get(k) != v}
    if drift:
        log.warning("loading %s saved with different library versions (saved, now): %s", meta_path.name, drift)
    stored = joblib.load(artifact)
    calibrator = stored if isinstance(stored, CalibratedClassifierCV) else None
    return FittedModel(
        task=meta["task"],
        model=meta["model"],
        evaluation=meta["evaluation"],
        estimator=calibrator.estimator.estimator if calibrator is not None else stored,
        calibrator=calibrator,
        parameters=meta.get("parameters", {}),
        numeric_features=list(meta["numeric_features"]),
        categorical_features=list(meta["categorical_features"]),
        model_version=meta["model_version"],
        trained_at=pd.Timestamp(meta["trained_at"]),
        threshold=float(meta["threshold"]),
        window={k: _parse_date(meta["training_window"].get(k)) for k in _DATE_KEYS},
        settings=meta.get("settings", {}),
    )
