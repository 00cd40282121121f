"""The training-run table: everything a training run produced, in one long table.

`ml_training_runs` holds one row per measure: the metrics of every model,
evaluation and rolling-origin fold, feature importances, reliability bins,
curve points, the chosen parameters, and one `run` record per task (what the
run was trained on: its data end date and fingerprint). Rows are keyed by
run, task, model, evaluation, fold and model version, and are kept across
builds: the diagnostic models (ml_model_metrics, ml_feature_importance,
ml_calibration, ml_evaluation_curves, ml_recommendation_metrics) are SQL
pivots of the latest run of each task, and the scoring models read the model
version from them.

Long rows (`measure`, `value` for numbers, `text` for strings and dates) keep
one schema for records of every shape; each diagnostic model turns its
record back into columns.

This module is pandas only: rows from results (`task_rows`,
`recommender_rows`, `skipped_rows`), what an earlier run left
(`previous_runs`) and when a task is due for training (`due_reason`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ml.outputs import TRAINING_RUNS

# Records of the table.
METRICS = "metrics"
IMPORTANCE = "importance"
RELIABILITY = "reliability"
CURVE = "curve"
RUN = "run"

# Identity columns of a metrics row: the key of the long rows, not measures.
KEY_COLUMNS = ("task", "model", "evaluation", "fold", "model_version", "trained_at")
STATUS_TRAINED = "trained"


def run_id(trained_at: pd.Timestamp) -> str:
    """The run's id: its UTC start stamp, sortable as text (newest last)."""
    return pd.Timestamp(trained_at).tz_convert("UTC").strftime("%Y%m%dT%H%M%S%fZ")


def _measure(value: Any) -> tuple[float | None, str | None]:
    """(value, text) of one measure: numbers in `value` (NaN -> null), dates
    as ISO text, everything else as text."""
    # every missing scalar (None, NaN, NaT, pd.NA) is null; pd.NaT is a
    # datetime instance, so it must be caught before the date branch
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None, None
    if isinstance(value, bool | np.bool_):
        return float(value), None
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        return (None if math.isnan(number) else number), None
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date):
        return None, value.isoformat()
    return None, str(value)


@dataclass(frozen=True)
class Run:
    """What every row of one training run shares."""

    run_id: str
    trained_at: pd.Timestamp

    @classmethod
    def starting(cls, trained_at: pd.Timestamp | None = None) -> Run:
        stamp = pd.Timestamp.now(tz="UTC") if trained_at is None else pd.Timestamp(trained_at)
        return cls(run_id(stamp), stamp)


def _rows(run: Run, key: Mapping[str, Any], record: str, measures: Mapping[str, Any],
          item: str | None = None, position: int | None = None) -> list[dict[str, Any]]:
    base = {
        "run_id": run.run_id,
        "trained_at": run.trained_at,
        "task": key.get("task"),
        "model": key.get("model"),
        "evaluation": key.get("evaluation"),
        "fold": key.get("fold"),
        "model_version": key.get("model_version"),
        "record": record,
        "item": item,
        "position": position,
    }
    out = []
    for name, raw in measures.items():
        value, text = _measure(raw)
        out.append(base | {"measure": name, "value": value, "text": text})
    return out


def metrics_rows(run: Run, metrics: Iterable[Mapping[str, Any]], status: str = STATUS_TRAINED) -> list[dict]:
    """Long rows of metrics rows (dicts keyed like ml.evaluate.METRIC_COLUMNS,
    or the recommenders' columns), each with its status."""
    out: list[dict] = []
    for row in metrics:
        measures = {k: v for k, v in row.items() if k not in KEY_COLUMNS} | {"status": status}
        fold = row.get("fold")
        key = dict(row) | {"fold": None if fold is None or pd.isna(fold) else int(fold)}
        out += _rows(run, key, METRICS, measures)
    return out


def _table_rows(run: Run, key: Mapping[str, Any], record: str, table: pd.DataFrame,
                item_column: str | None, position_column: str) -> list[dict]:
    out: list[dict] = []
    measures = [c for c in table.columns if c not in {item_column, position_column, *KEY_COLUMNS}]
    for row in table.to_dict("records"):
        item = None if item_column is None else row[item_column]
        out += _rows(run, key, record, {m: row[m] for m in measures}, item=item, position=int(row[position_column]))
    return out


def task_rows(run: Run, result: Any) -> list[dict]:
    """Every long row of one trained task (an ml.pipeline.TaskResult): the
    metrics of each model and evaluation and of its rolling-origin folds,
    the forecast models' importances, and each model's reliability bins and
    curve points on its test rows."""
    out: list[dict] = []
    for fitted in result.models.values():
        key = {"task": fitted.task, "model": fitted.model, "evaluation": fitted.evaluation,
               "model_version": fitted.model_version}
        out += metrics_rows(run, [fitted.metrics, *fitted.diagnostics.get("rolling_origin", [])])
        for calibrated, name in ((True, "reliability"), (False, "reliability_uncalibrated")):
            bins = pd.DataFrame(fitted.diagnostics.get(name, []))
            if not bins.empty:
                label = "calibrated" if calibrated else "uncalibrated"
                out += _table_rows(run, key, RELIABILITY, bins.assign(item=label), "item", "bin")
        curves = pd.DataFrame(fitted.diagnostics.get("curves", []))
        if not curves.empty:
            out += _table_rows(run, key, CURVE, curves, "curve", "point")
    importance = result.importance
    for (model, version), part in importance.groupby(["model", "model_version"], sort=True):
        key = {"task": result.task, "model": model, "evaluation": "forecast", "model_version": version}
        out += _table_rows(run, key, IMPORTANCE, part.drop(columns=["task"]), "feature", "rank")
    return out


def skipped_rows(run: Run, task: str, models: Iterable[str], reason: str) -> list[dict]:
    """One metrics row per model of a task that could not be trained: its status."""
    return metrics_rows(
        run, [{"task": task, "model": model, "evaluation": "forecast"} for model in models],
        status=f"skipped: {reason}",
    )


def run_record(run: Run, task: str, data_end_date: dt.date | None, fingerprint: str, reason: str) -> list[dict]:
    """The task's `run` record: what it was trained on and why it was trained."""
    return _rows(run, {"task": task}, RUN,
                 {"data_end_date": data_end_date, "fingerprint": fingerprint, "reason": reason})


def frame(rows: list[dict]) -> pd.DataFrame:
    """Long rows as a frame with exactly the table's columns."""
    return pd.DataFrame(rows, columns=TRAINING_RUNS.columns)


# --- what earlier runs left, and when to train again ------------------------------

@dataclass(frozen=True)
class PreviousRun:
    """The latest run of one task, as the table remembers it."""

    run_id: str
    data_end_date: dt.date | None
    fingerprint: str | None
    # (model, version) of every saved model scoring may load (the forecast
    # models; the recommenders, of which only the ALS has saved factors)
    versions: tuple[tuple[str, str], ...]
    trained: bool  # False when the latest run skipped the task


def previous_runs(table: pd.DataFrame) -> dict[str, PreviousRun]:
    """task -> its latest run, from rows of the table (records `run` and
    `metrics`; other records are not needed)."""
    if table.empty:
        return {}
    latest = table.groupby("task")["run_id"].transform("max")
    table = table.loc[table["run_id"] == latest]
    out = {}
    for task, part in table.groupby("task"):
        runs = part.loc[part["record"] == RUN].set_index("measure")["text"]
        status = part.loc[(part["record"] == METRICS) & (part["measure"] == "status"), ["model_version", "text"]]
        trained = bool(len(status)) and bool((status["text"] == STATUS_TRAINED).all())
        forecast = part.loc[(part["record"] == METRICS) & (part["evaluation"] == "forecast")
                            & part["fold"].isna() & part["model_version"].notna()]
        end = runs.get("data_end_date")
        out[str(task)] = PreviousRun(
            run_id=str(part["run_id"].iloc[0]),
            data_end_date=None if end is None or pd.isna(end) else dt.date.fromisoformat(str(end)),
            fingerprint=runs.get("fingerprint"),
            versions=tuple(sorted(set(zip(forecast["model"], forecast["model_version"], strict=True)))),
            trained=trained,
        )
    return out


def fingerprint(definition_hash: str, *parts: Any) -> str:
    """md5 of a training-set definition and what else decides the models
    (features, settings, the saved-model format and library versions)."""
    text = json.dumps([definition_hash, *parts], sort_keys=True, default=str)
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def due_reason(
    previous: PreviousRun | None,
    current_fingerprint: str,
    data_end_date: dt.date | None,
    every_days: int,
    forced: bool,
    saved: bool,
) -> str | None:
    """Why `task` is trained in this build, or None when its saved models
    score as they are. `saved`: every artifact the latest run's scoring needs
    is on disk."""
    if forced:
        return "asked (ml_retrain)"
    if previous is None:
        return "never trained"
    if not previous.trained:
        return "not trained by its latest run"
    if previous.fingerprint != current_fingerprint:
        return "its features, parameters or training-set definition changed"
    if not saved:
        return "a saved model is missing"
    if previous.data_end_date is None or data_end_date is None:
        return "its data end date is unknown"
    age = (data_end_date - previous.data_end_date).days
    if age >= every_days:
        return f"its model is {age} days of data old (ml_retrain_every_days: {every_days})"
    return None
