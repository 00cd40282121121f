"""What the dbt Python models in models/ml call: Spark in, Spark out.

The models stay a few lines each; everything they share lives here:
converting training tables to pandas, training or reusing the models for both
tasks, skipping a task when the data cannot support it (too few days or a
single class, as on small samples), and turning results into Spark frames
with fixed schemas, NaN written as null.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

from ml.evaluate import METRIC_COLUMNS
from ml.pipeline import (
    CART_SCORE_COLUMNS,
    PURCHASE_SCORE_COLUMNS,
    TaskResult,
    importance_frame,
    metrics_frame,
    score_carts,
    score_purchase,
    train_or_load,
)
from ml.settings import Settings
from ml.tasks import CART_TASK, LABEL, PURCHASE_TASK, get_task

log = logging.getLogger(__name__)



METRICS_SCHEMA = (
    "task string, model string, evaluation string, auc_roc double, pr_auc double, log_loss double, "
    "brier double, accuracy double, precision double, recall double, threshold double, n_train bigint, "
    "n_test bigint, positive_rate_test double, train_start date, train_end date, test_start date, "
    "test_end date, model_version string, trained_at timestamp, status string"
)
IMPORTANCE_SCHEMA = (
    "task string, model string, feature string, importance double, importance_type string, "
    "rank bigint, model_version string"
)
PURCHASE_PREDICTIONS_SCHEMA = (
    "user_id bigint, purchase_probability double, predicted_purchase boolean, model string, "
    "model_version string, scored_at timestamp"
)
CART_PREDICTIONS_SCHEMA = (
    "cart_event_id string, user_id bigint, product_id bigint, cart_at timestamp, "
    "purchase_probability double, predicted_purchase boolean, model string, model_version string, "
    "scored_at timestamp"
)

# Per task: the scoring function, its output columns, and the Spark schema they are written with.
SCORING = {
    PURCHASE_TASK: (score_purchase, PURCHASE_SCORE_COLUMNS, PURCHASE_PREDICTIONS_SCHEMA),
    CART_TASK: (score_carts, CART_SCORE_COLUMNS, CART_PREDICTIONS_SCHEMA),
}


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
            return f"no {split} rows (the data covers too few days for the configured windows)"
        if len(present) < 2:
            return f"{split} rows hold a single class (label {next(iter(present))!r})"
    return None


def label_counts(table: Any) -> dict[str, dict[Any, int]]:
    """split -> {label value: rows} of a Spark training table, computed in Spark."""
    counts: dict[str, dict[Any, int]] = {}
    for row in table.groupBy("split", LABEL).count().collect():
        counts.setdefault(row["split"], {})[row[LABEL]] = row["count"]
    return counts


def train_tasks(spark_tables: dict[str, Any], directory: Path, retrain: bool) -> dict[str, TaskResult | str]:
    """Train (or reuse) both tasks; a task that cannot be trained maps to its reason.
    A table is converted to pandas only when a model has to be trained."""
    results: dict[str, TaskResult | str] = {}
    for task, table in spark_tables.items():
        reason = untrainable_reason(task, label_counts(table))
        if reason is not None:
            log.warning("%s: not trained: %s", task, reason)
            results[task] = reason
            continue
        results[task] = train_or_load(task, table.toPandas, directory, retrain=retrain, settings=Settings())
    return results


def trained(results: dict[str, TaskResult | str]) -> list[TaskResult]:
    return [result for result in results.values() if isinstance(result, TaskResult)]


def metrics_rows(results: dict[str, TaskResult | str]) -> pd.DataFrame:
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
        for model in Settings().models
    ]
    if skipped:
        frame = pd.concat([frame, pd.DataFrame(skipped)], ignore_index=True)
    return frame[METRIC_COLUMNS + ["status"]]


def scores(results: dict[str, TaskResult | str], task: str, table: Any) -> pd.DataFrame:
    """Predictions for the rows of `table` awaiting a score; empty when the task was not trained."""
    result = results.get(task)
    score, columns, _ = SCORING[task]
    if not isinstance(result, TaskResult):
        return pd.DataFrame(columns=columns)
    awaiting = table.filter(table["split"] == get_task(task).score_split)  # only these are scored
    scored = score(result, awaiting.toPandas())[columns]
    scored["predicted_purchase"] = scored["predicted_purchase"].astype(bool)
    return scored


def importance_rows(results: dict[str, TaskResult | str]) -> pd.DataFrame:
    return importance_frame(trained(results))


def to_spark(session: Any, frame: pd.DataFrame, schema: str) -> Any:
    """A Spark frame with `schema`; NaN and NaT become null, timestamps UTC-naive."""
    records = [
        tuple(_plain(value) for value in row)
        for row in frame.itertuples(index=False, name=None)
    ]
    return session.createDataFrame(records, schema=schema)


def _plain(value: Any) -> Any:
    """Python values Spark's createDataFrame accepts for the declared types."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        if value.tzinfo is not None:
            value = value.tz_convert("UTC").tz_localize(None)
        return value.to_pydatetime()
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return value


# --- one call per dbt Python model -------------------------------------------

def metrics_model(session: Any, tables: dict[str, Any], configured_dir: Any, retrain: Any) -> Any:
    """ml_model_metrics: train (or reuse) both tasks, return their metrics."""
    results = train_tasks(tables, model_dir(configured_dir), retrain=flag(retrain))
    return to_spark(session, metrics_rows(results), METRICS_SCHEMA)


def importance_model(session: Any, tables: dict[str, Any], configured_dir: Any) -> Any:
    """ml_feature_importance: importances of the saved forecast models."""
    results = train_tasks(tables, model_dir(configured_dir), retrain=False)
    return to_spark(session, importance_rows(results), IMPORTANCE_SCHEMA)


def predictions_model(session: Any, task: str, training: Any, configured_dir: Any) -> Any:
    """ml_purchase_predictions / ml_cart_predictions: score the rows awaiting a
    score with the saved forecast model of `task`."""
    results = train_tasks({task: training}, model_dir(configured_dir), retrain=False)
    return to_spark(session, scores(results, task, training), SCORING[task][2])
