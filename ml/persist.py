"""Model persistence: a joblib artifact plus a JSON metadata sidecar.

Layout:  {model_dir}/{task}/{model}/{model_version}.joblib
         {model_dir}/{task}/{model}/{model_version}.json

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
from ml.tasks import FORECAST

log = logging.getLogger(__name__)

# 2: calibrated models (the artifact is the calibrator, which holds the
# estimator), tuned parameters and test diagnostics. Older files are not reused.
FORMAT_VERSION = 2
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


def _parse_metrics(raw: dict[str, Any]) -> dict[str, Any]:
    """Inverse of _jsonable for a metrics row (null floats -> NaN, ISO -> dates)."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _DATE_KEYS:
            out[key] = _parse_date(value)
        elif key == "trained_at":
            out[key] = pd.Timestamp(value)
        elif key in {"n_train", "n_test"}:
            out[key] = int(value)
        elif key == "fold":
            out[key] = None if value is None else int(value)
        elif key in {"task", "model", "evaluation", "model_version", "parameters"}:
            out[key] = value
        else:
            out[key] = math.nan if value is None else float(value)
    return out


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
        "metrics": _jsonable(fitted.metrics),
        "settings": _jsonable(fitted.settings),
        "parameters": _jsonable(fitted.parameters),
        "diagnostics": _jsonable(
            fitted.diagnostics | {"rolling_origin": fitted.diagnostics.get("rolling_origin", [])}
        ),
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
    log.info("saved %s to %s", fitted.model_version, folder)
    return meta_path


def read_metadata(meta_path: str | Path) -> dict[str, Any]:
    return json.loads(Path(meta_path).read_text(encoding="utf-8"))


def load_model(meta_path: str | Path) -> FittedModel:
    """Load one model from its JSON metadata path (verifies the artifact hash)."""
    meta_path = Path(meta_path)
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
    diagnostics = dict(meta.get("diagnostics", {}))
    diagnostics["rolling_origin"] = [_parse_metrics(row) for row in diagnostics.get("rolling_origin", [])]
    return FittedModel(
        task=meta["task"],
        model=meta["model"],
        evaluation=meta["evaluation"],
        estimator=calibrator.estimator.estimator if calibrator is not None else stored,
        calibrator=calibrator,
        parameters=meta.get("parameters", {}),
        diagnostics=diagnostics,
        numeric_features=list(meta["numeric_features"]),
        categorical_features=list(meta["categorical_features"]),
        model_version=meta["model_version"],
        trained_at=pd.Timestamp(meta["trained_at"]),
        threshold=float(meta["threshold"]),
        window={k: _parse_date(meta["training_window"].get(k)) for k in _DATE_KEYS},
        metrics=_parse_metrics(meta["metrics"]),
        settings=meta.get("settings", {}),
    )


def _complete_metadata(model_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """(path, metadata) for JSON sidecars whose artifact exists; others are ignored."""
    out = []
    for meta_path in sorted(model_dir.glob("*/*/*.json")):
        try:
            meta = read_metadata(meta_path)
        except (OSError, json.JSONDecodeError):
            log.warning("skipping unreadable metadata %s", meta_path)
            continue
        if meta.get("format_version") != FORMAT_VERSION:
            continue  # written by an older version of this code: retrain rather than guess
        if meta_path.with_name(meta.get("artifact", "")).is_file():
            out.append((meta_path, meta))
    return out


def list_models(model_dir: str | Path) -> pd.DataFrame:
    """Registry of saved models, newest first."""
    columns = ["task", "model", "evaluation", "model_version", "trained_at", "auc_roc", "n_features", "path"]
    rows = []
    for meta_path, meta in _complete_metadata(Path(model_dir)):
        auc = meta.get("metrics", {}).get("auc_roc")
        rows.append(
            {
                "task": meta["task"],
                "model": meta["model"],
                "evaluation": meta["evaluation"],
                "model_version": meta["model_version"],
                "trained_at": pd.Timestamp(meta["trained_at"]),
                "auc_roc": math.nan if auc is None else float(auc),
                "n_features": len(meta["features"]),
                "path": str(meta_path),
            }
        )
    frame = pd.DataFrame(rows, columns=columns)
    if frame.empty:
        return frame
    return frame.sort_values(["trained_at", "model_version"], ascending=False).reset_index(drop=True)


def load_latest(
    model_dir: str | Path, task: str, model: str, evaluation: str = FORECAST
) -> FittedModel | None:
    """Most recently trained saved model for (task, model, evaluation), or None."""
    registry = list_models(model_dir)
    if registry.empty:
        return None
    match = registry[(registry.task == task) & (registry.model == model) & (registry.evaluation == evaluation)]
    return None if match.empty else load_model(match.iloc[0]["path"])
