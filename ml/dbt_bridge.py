"""What the dbt Python models in models/ml call: Spark in, Spark out.

The models stay a few lines each; everything they share lives here: training
or reusing the models for both tasks, skipping a task when the data cannot
support it (too few days or a single class, as on small samples), scoring,
and writing results as Spark frames with fixed schemas, NaN written as null.

Driver memory does not grow with the tables (ml.spark_io): training converts
only a capped, stratified sample of the needed columns to pandas (ml.sampling),
and scoring runs batch by batch in Spark's Python workers.
"""

from __future__ import annotations

import logging
import os
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from ml import outputs, spark_io
from ml.pipeline import (
    CART_SCORE_COLUMNS,
    PURCHASE_SCORE_COLUMNS,
    TaskResult,
    importance_frame,
    metrics_frame,
    passed_through,
    score_carts,
    score_purchase,
    train_or_load,
)
from ml.sampling import plan_sample
from ml.settings import Settings
from ml.spark_io import label_counts, to_spark
from ml.tasks import CART_TASK, PURCHASE_TASK, get_task

log = logging.getLogger(__name__)

METRICS_SCHEMA = outputs.MODEL_METRICS.ddl
IMPORTANCE_SCHEMA = outputs.FEATURE_IMPORTANCE.ddl
PURCHASE_PREDICTIONS_SCHEMA = outputs.PURCHASE_PREDICTIONS.ddl
CART_PREDICTIONS_SCHEMA = outputs.CART_PREDICTIONS.ddl

# Per task: the scoring function, its output columns, and the Spark schema they are written with.
SCORING = {
    PURCHASE_TASK: (score_purchase, PURCHASE_SCORE_COLUMNS, PURCHASE_PREDICTIONS_SCHEMA),
    CART_TASK: (score_carts, CART_SCORE_COLUMNS, CART_PREDICTIONS_SCHEMA),
}


# dbt vars the Python models hand to Settings: config key -> Settings field
# (the keys are set from the vars in models/ml/ml_outputs.yml).
CONFIG_SETTINGS = {
    "ml_rolling_origin_folds": "rolling_origin_folds",
    "ml_rolling_origin_step_days": "rolling_origin_step_days",
    "ml_cart_label_window_hours": "cart_label_window_hours",
}


def settings_from(config_get: Any) -> Settings:
    """Settings with the project's vars applied; `config_get` is dbt.config.get."""
    changes = {}
    for key, field in CONFIG_SETTINGS.items():
        value = config_get(key)
        if value is not None and str(value).strip().lower() not in {"", "none", "null"}:
            changes[field] = int(value)
    return Settings(**changes)


def flag(value: Any) -> bool:
    """A dbt config value rendered from a var ('True', 'false', 1, ...) as a bool."""
    return str(value).strip().lower() in {"true", "1", "yes"}


def model_dir(configured: str | None) -> Path:
    """The configured folder, else <REES46_WAREHOUSE_DIR>/ml_models (absolute)."""
    if configured and str(configured).strip().lower() not in {"none", "null", ""}:
        return Path(str(configured)).resolve()
    return (Path(os.environ.get("REES46_WAREHOUSE_DIR", "warehouse")) / "ml_models").resolve()


def untrainable_reason(task: str, counts: dict[str, dict[Any, int]]) -> str | None:
    """Why the forecast for `task` cannot be trained and evaluated, or None
    when it can: its train and test splits both need rows of both classes.
    `counts` maps split -> {label value: rows} (see label_counts)."""
    spec = get_task(task)
    for split in (spec.train_split, spec.test_split):
        present = {label: n for label, n in counts.get(split, {}).items() if n}
        if not present:
            return (f"no {split} rows: the data does not cover the {split} windows (a feature window"
                    " would start before the first event date, or a label window close after the last);"
                    " load more days or shorten the ml_* windows")
        if len(present) < 2:
            return f"{split} rows hold a single class (label {next(iter(present))!r})"
    return None


def train_tasks(
    spark_tables: dict[str, Any],
    directory: Path,
    retrain: bool,
    settings: Settings | None = None,
    load_only: bool = False,
) -> dict[str, TaskResult | str]:
    """Train (or reuse) both tasks; a task that cannot be trained maps to its reason.

    Trainability and the sample plan come from label counts computed in Spark;
    a table is converted to pandas (its planned sample only) only when a model
    has to be trained. `load_only`: never train (the models that read what
    ml_model_metrics saved); no saved model set is an error.
    """
    settings = settings or Settings()
    results: dict[str, TaskResult | str] = {}
    for task, table in spark_tables.items():
        counts = label_counts(table)
        reason = untrainable_reason(task, counts)
        if reason is not None:
            log.warning("%s: not trained: %s", task, reason)
            results[task] = reason
            continue
        spec = get_task(task)
        plan = plan_sample(spec, counts, settings)
        log.info("%s: rows per split available %s, sampled %s", task, plan.rows_available(), plan.rows_kept())
        load = partial(spark_io.training_sample, table, spec, plan, settings.seed)
        results[task] = train_or_load(
            task,
            load,
            directory,
            retrain=retrain,
            settings=settings,
            rows_available=plan.rows_available(),
            load_only=load_only,
        )
    return results


def trained(results: dict[str, TaskResult | str]) -> list[TaskResult]:
    return [result for result in results.values() if isinstance(result, TaskResult)]


def metrics_rows(results: dict[str, TaskResult | str], settings: Settings | None = None) -> pd.DataFrame:
    """Metrics of trained tasks (status 'trained' or 'reused') and one row per
    model for a skipped task (status 'skipped: <reason>', metrics null)."""
    frame = metrics_frame(trained(results))
    frame["status"] = frame["task"].map(
        lambda task: "reused" if results[task].reused else "trained"  # type: ignore[union-attr]
    )
    skipped = [
        {"task": task, "model": model, "evaluation": "forecast", "status": f"skipped: {reason}"}
        for task, reason in results.items()
        if isinstance(reason, str)
        for model in (settings or Settings()).models
    ]
    if skipped:
        frame = pd.concat([frame, pd.DataFrame(skipped)], ignore_index=True)
    return frame.reindex(columns=outputs.MODEL_METRICS.columns)  # recommendation columns: null


def importance_rows(results: dict[str, TaskResult | str]) -> pd.DataFrame:
    return importance_frame(trained(results))


def _diagnostic_rows(results: dict[str, TaskResult | str], key: str, **extra: Any) -> list[dict[str, Any]]:
    return [
        {"task": m.task, "model": m.model, "evaluation": m.evaluation, "model_version": m.model_version}
        | extra
        | row
        for result in trained(results)
        for m in result.models.values()
        for row in m.diagnostics.get(key, [])
    ]


def calibration_rows(results: dict[str, TaskResult | str]) -> pd.DataFrame:
    """Reliability tables of the saved models on their test rows, with and
    without calibration (`calibrated`)."""
    rows = _diagnostic_rows(results, "reliability", calibrated=True)
    rows += _diagnostic_rows(results, "reliability_uncalibrated", calibrated=False)
    return pd.DataFrame(rows).reindex(columns=outputs.CALIBRATION.columns)


def curve_rows(results: dict[str, TaskResult | str]) -> pd.DataFrame:
    """ROC and precision-recall points of the saved models on their test rows."""
    return pd.DataFrame(_diagnostic_rows(results, "curves")).reindex(columns=outputs.EVALUATION_CURVES.columns)


# --- one call per dbt Python model -------------------------------------------

def conform(frame: Any, schema: outputs.OutputSchema) -> Any:
    """A Spark frame with exactly `schema`'s columns and types, in order: the
    columns it lacks are null (e.g. classifier metrics on recommender rows)."""
    from pyspark.sql import functions as F

    present = set(frame.columns)
    return frame.select(*[
        (F.col(name) if name in present else F.lit(None)).cast(kind).alias(name) for name, kind in schema.fields
    ])


def with_status(frame: Any, status: str) -> Any:
    """`frame` with a constant `status` column."""
    from pyspark.sql import functions as F

    return frame.withColumn("status", F.lit(status))


def metrics_model(
    session: Any,
    tables: dict[str, Any],
    configured_dir: Any,
    retrain: Any,
    settings: Settings | None = None,
    other_metrics: Any = None,
) -> Any:
    """ml_model_metrics: train (or reuse) both tasks, return their metrics,
    followed by `other_metrics` (a Spark frame, e.g. the recommenders')."""
    results = train_tasks(tables, model_dir(configured_dir), retrain=flag(retrain), settings=settings)
    metrics = to_spark(session, metrics_rows(results, settings), METRICS_SCHEMA)
    if other_metrics is None:
        return metrics
    return metrics.unionByName(conform(other_metrics, outputs.MODEL_METRICS))


def importance_model(
    session: Any, tables: dict[str, Any], configured_dir: Any, settings: Settings | None = None
) -> Any:
    """ml_feature_importance: importances of the saved forecast models."""
    results = train_tasks(tables, model_dir(configured_dir), retrain=False, settings=settings, load_only=True)
    return to_spark(session, importance_rows(results), IMPORTANCE_SCHEMA)


def calibration_model(
    session: Any, tables: dict[str, Any], configured_dir: Any, settings: Settings | None = None
) -> Any:
    """ml_calibration: reliability tables of the saved models."""
    results = train_tasks(tables, model_dir(configured_dir), retrain=False, settings=settings, load_only=True)
    return to_spark(session, calibration_rows(results), outputs.CALIBRATION.ddl)


def curves_model(
    session: Any, tables: dict[str, Any], configured_dir: Any, settings: Settings | None = None
) -> Any:
    """ml_evaluation_curves: ROC and precision-recall points of the saved models."""
    results = train_tasks(tables, model_dir(configured_dir), retrain=False, settings=settings, load_only=True)
    return to_spark(session, curve_rows(results), outputs.EVALUATION_CURVES.ddl)


def predictions_model(
    session: Any, task: str, training: Any, configured_dir: Any, settings: Settings | None = None
) -> Any:
    """ml_purchase_predictions / ml_cart_predictions: score the rows awaiting a
    score with the best saved forecast model of `task`, batch by batch in
    Spark; empty when the task could not be trained."""
    results = train_tasks({task: training}, model_dir(configured_dir), retrain=False, settings=settings, load_only=True)
    result = results.get(task)
    score, columns, schema = SCORING[task]
    if not isinstance(result, TaskResult):
        return to_spark(session, pd.DataFrame(columns=columns), schema)
    spec = get_task(task)
    fitted = result.get(result.best_model())
    awaiting = training.filter(training["split"] == spec.score_split)
    spark_io.require_unique_keys(awaiting, list(spec.keys), f"{task} {spec.score_split} rows")
    needed = list(dict.fromkeys(passed_through(columns) + fitted.features))
    scored_at = pd.Timestamp.now(tz="UTC")  # one value for every batch of this run
    return spark_io.score_in_batches(awaiting.select(*needed), score, fitted, columns, schema, scored_at)
