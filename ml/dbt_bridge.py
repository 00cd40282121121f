"""What the dbt Python models in models/ml call: Spark in, Spark out.

The models stay a few lines each. One node trains (ml_training_runs): for
each task it decides whether training is due (ml.runs.due_reason), and only
then converts a capped, stratified sample of the training table to pandas,
trains, saves the models and returns every measure of the run as long rows.
The scoring nodes read the model version from the latest run (through
ml_model_metrics or ml_recommendation_metrics) and load that saved model;
rows to score never reach the driver (scored batch by batch in Spark).
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd

from ml import outputs, persist, recommend, runs, spark_io
from ml.pipeline import (
    CART_SCORE_COLUMNS,
    PURCHASE_SCORE_COLUMNS,
    best_model,
    passed_through,
    save_models,
    score_carts,
    score_purchase,
    train_task,
)
from ml.sampling import plan_sample
from ml.settings import Settings
from ml.spark_io import label_counts, to_spark
from ml.tasks import CART_TASK, PURCHASE_TASK, get_task

log = logging.getLogger(__name__)

RECOMMENDATION_TASK = recommend.TASK

# Per task: the scoring function, its output columns, and the Spark schema they are written with.
SCORING = {
    PURCHASE_TASK: (score_purchase, PURCHASE_SCORE_COLUMNS, outputs.PURCHASE_PREDICTIONS.ddl),
    CART_TASK: (score_carts, CART_SCORE_COLUMNS, outputs.CART_PREDICTIONS.ddl),
}

# Statuses of ml_model_metrics whose model scores (see its SQL).
SCORING_STATUSES = ("trained", "reused")

# The dbt vars the Python models read: one JSON config value (`ml_vars`, set
# once in models/ml/ml_outputs.yml), var name -> RecommendSettings field.
RECOMMENDER_VARS = {
    "rec_top_n": "top_n",
    "ml_label_window_days": "test_days",
    "rec_active_days": "active_days",
    "rec_repeat_purchase_min_share": "repeat_min_share",
    "rec_repeat_purchase_min_buyers": "repeat_min_buyers",
}


def _given(value: Any) -> bool:
    return value is not None and str(value).strip().lower() not in {"", "none", "null"}


def ml_vars(config_value: Any) -> dict[str, Any]:
    """The project's ML vars from the models' `ml_vars` config (JSON)."""
    if isinstance(config_value, dict):
        return config_value
    return json.loads(config_value) if _given(config_value) else {}


def flag(value: Any) -> bool:
    """A var value ('True', 'false', 1, ...) as a bool."""
    return str(value).strip().lower() in {"true", "1", "yes"}


def recommend_settings(variables: dict[str, Any]) -> recommend.RecommendSettings:
    """RecommendSettings from the vars; k, the cut-off of the metrics, follows top_n."""
    chosen: dict[str, Any] = {}
    for var, name in RECOMMENDER_VARS.items():
        value = variables.get(var)
        if _given(value):
            chosen[name] = float(str(value)) if name == "repeat_min_share" else int(str(value))
    if "top_n" in chosen:
        chosen["k"] = chosen["top_n"]
    return recommend.RecommendSettings(**chosen)


def model_dir(configured: Any, schema: str) -> Path:
    """Where the models of one target schema are saved: the `ml_model_dir`
    var, else <REES46_WAREHOUSE_DIR>/ml_models, then a folder per schema, so
    that two schemas on one warehouse never score with each other's models."""
    if _given(configured):
        root = Path(str(configured))
    else:
        root = Path(os.environ.get("REES46_WAREHOUSE_DIR", "warehouse")) / "ml_models"
    return (root / schema).resolve()


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


# --- ml_training_runs: train what is due ----------------------------------------

def _artifacts_saved(directory: Path, task: str, previous: runs.PreviousRun | None) -> bool:
    if previous is None:
        return False
    if task == RECOMMENDATION_TASK:
        return all(recommend.factors_saved(recommend.factors_path(directory, version))
                   for model, version in previous.versions if model == "als")
    return all(persist.is_saved(directory, task, model, version) for model, version in previous.versions)


def _previous(existing: Any) -> dict[str, runs.PreviousRun]:
    """The latest run of each task in the existing table (None: first build)."""
    if existing is None:
        return {}
    from pyspark.sql import functions as F

    needed = existing.filter(F.col("record").isin(runs.RUN, runs.METRICS) & F.col("measure").isin(
        "data_end_date", "fingerprint", "status")).select("run_id", "task", "model", "evaluation", "fold",
                                                         "model_version", "record", "measure", "text")
    with spark_io.arrow(existing.sparkSession):
        return runs.previous_runs(needed.toPandas())


def _train_classifier(task: str, table: Any, windows: pd.DataFrame, settings: Settings, run: runs.Run,
                      directory: Path) -> tuple[list[dict], str | None]:
    """(long rows, reason it could not be trained or None) of one classifier task.
    The training table is a view: computed once here (counts and sample)."""
    began = time.perf_counter()
    table = table.persist()
    try:
        counts = label_counts(table)
        reason = untrainable_reason(task, counts)
        if reason is not None:
            log.warning("%s: not trained: %s", task, reason)
            return runs.skipped_rows(run, task, settings.models, reason), reason
        spec = get_task(task)
        plan = plan_sample(spec, counts, settings)
        log.debug("%s: rows per split available %s, sampled %s", task, plan.rows_available(), plan.rows_kept())
        training = spark_io.training_sample(table, spec, plan, settings.seed)
    finally:
        table.unpersist()
    result = train_task(task, training, windows, settings, plan.rows_available(), trained_at=run.trained_at)
    save_models(result, directory)
    forecast = ", ".join(f"{m.model} {m.metrics['auc_roc']:.3f}" for (_, e), m in sorted(result.models.items())
                         if e == "forecast" and m.model != "baseline")
    log.info("%s: trained on %s of %s rows in %.0f s; forecast AUC-ROC %s", task, f"{len(training):,}",
             f"{sum(plan.rows_available().values()):,}", time.perf_counter() - began, forecast)
    return runs.task_rows(run, result), None


def _train_recommender(daily: Any, windows: pd.DataFrame, settings: recommend.RecommendSettings,
                       run: runs.Run, directory: Path) -> list[dict]:
    bounds = {row.split: (row.start_date, row.end_date) for row in windows.itertuples()}
    if "train" not in bounds or "test" not in bounds:
        reason = "the data covers no more days than the held-out window (ml_label_window_days)"
        log.warning("%s: not trained: %s", RECOMMENDATION_TASK, reason)
        return runs.skipped_rows(run, RECOMMENDATION_TASK, recommend.RECOMMENDERS, reason)
    window = recommend.EvaluationDays(bounds["train"][0], bounds["test"][0], bounds["test"][1])
    metrics = recommend.train_and_evaluate(daily, window, settings, directory, run.trained_at)
    return runs.metrics_rows(run, metrics.to_dict("records"))


def training_runs_model(
    session: Any,
    existing: Any,
    tables: dict[str, Any],
    daily: Any,
    windows: Any,
    variables: dict[str, Any],
    schema: str,
) -> Any:
    """ml_training_runs: the long rows of the tasks trained in this build
    (none when nothing is due). `existing`: the table as it stands (None on
    the first build); `tables`: task -> training table; `daily`:
    fct_user_product_daily (the recommender's input); `windows`:
    ml_training_windows."""
    directory = model_dir(variables.get("ml_model_dir"), schema)
    forced = flag(variables.get("ml_retrain"))
    every_days = int(variables.get("ml_retrain_every_days") or 7)
    settings, rec_settings = Settings(), recommend_settings(variables)
    with spark_io.arrow(session):
        frame = windows.toPandas()
    previous = _previous(existing)
    run = runs.Run.starting()
    rows: list[dict] = []
    for task in (PURCHASE_TASK, CART_TASK, RECOMMENDATION_TASK):
        task_windows = frame.loc[frame["task"] == task]
        definition = str(task_windows["definition_hash"].iloc[0]) if len(task_windows) else ""
        data_end = frame["data_end_date"].max() if len(frame) else None
        data_end = None if data_end is None or pd.isna(data_end) else pd.Timestamp(data_end).date()
        if task == RECOMMENDATION_TASK:
            decided_by = [rec_settings.__dict__]
        else:
            spec = get_task(task)
            decided_by = [{e: spec.features(e) for e in spec.evaluations}, settings.to_dict()]
        fingerprint = runs.fingerprint(definition, *decided_by, persist.FORMAT_VERSION, persist.library_versions())
        reason = runs.due_reason(previous.get(task), fingerprint, data_end, every_days, forced,
                                 _artifacts_saved(directory, task, previous.get(task)))
        if reason is None:
            log.info("%s: not due for training; scoring with the models of run %s", task, previous[task].run_id)
            continue
        log.info("%s: training: %s", task, reason)
        if task == RECOMMENDATION_TASK:
            rows += _train_recommender(daily, task_windows, rec_settings, run, directory)
        else:
            task_rows, _ = _train_classifier(task, tables[task], task_windows, settings, run, directory)
            rows += task_rows
        rows += runs.run_record(run, task, data_end, fingerprint, reason)
    return to_spark(session, runs.frame(rows), outputs.TRAINING_RUNS.ddl)


# --- scoring ---------------------------------------------------------------------

def current_models(metrics: Any, task: str) -> pd.DataFrame:
    """The rows of ml_model_metrics (a Spark frame) of `task` whose model scores."""
    from pyspark.sql import functions as F

    rows = metrics.filter((F.col("task") == task) & F.col("status").isin(*SCORING_STATUSES))
    with spark_io.arrow(metrics.sparkSession):
        return rows.toPandas()


def predictions_model(session: Any, task: str, training: Any, metrics: Any, variables: dict[str, Any],
                      schema: str) -> Any:
    """ml_purchase_predictions / ml_cart_predictions: score the rows awaiting
    a score with the task's scoring model of the latest run (best forecast
    AUC-ROC), batch by batch in Spark; empty when the task has none."""
    score, columns, ddl = SCORING[task]
    chosen = best_model(current_models(metrics, task))
    if chosen is None:
        return to_spark(session, pd.DataFrame(columns=columns), ddl)
    directory = model_dir(variables.get("ml_model_dir"), schema)
    fitted = persist.load_model(directory, task, chosen["model"], chosen["model_version"])
    spec = get_task(task)
    awaiting = training.filter(training["split"] == spec.score_split)
    spark_io.require_unique_keys(awaiting, list(spec.keys), f"{task} {spec.score_split} rows")
    needed = list(dict.fromkeys(passed_through(columns) + fitted.features))
    scored_at = pd.Timestamp.now(tz="UTC")  # one value for every batch of this run
    return spark_io.score_in_batches(awaiting.select(*needed), score, fitted, columns, ddl, scored_at)


def recommendations_model(session: Any, daily: Any, metrics: Any, variables: dict[str, Any], schema: str) -> Any:
    """ml_product_recommendations: every recently active user's list, from
    the saved factors of the latest trained ALS model, or the better
    baseline for users it has not seen."""
    current = current_models(metrics, RECOMMENDATION_TASK)
    directory = model_dir(variables.get("ml_model_dir"), schema)
    return recommend.recommend(daily, current, recommend_settings(variables), directory)
