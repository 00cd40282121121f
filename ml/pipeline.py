"""Training and scoring, pandas in, pandas out.

    result = train_task("purchase_propensity", training_pdf, windows_pdf)
    save_models(result, model_dir)
    fitted = load_model(model_dir, "purchase_propensity", "xgboost", version)
    scores = score_purchase(fitted, training_pdf)      # rows with split == 'score'
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ml.evaluate import (
    IMPORTANCE_COLUMNS,
    compute_metrics,
    evaluation_curves,
    feature_importance,
    metrics_row,
    reliability_table,
)
from ml.models import FittedModel, fit_estimator, tuned_settings
from ml.outputs import CART_PREDICTIONS, PURCHASE_PREDICTIONS
from ml.persist import save_model
from ml.preprocess import require_columns
from ml.sampling import fold_sample_rate
from ml.settings import Settings
from ml.splits import EvaluationData, available_evaluations, build_evaluation, build_fold, rolling_origin_folds
from ml.tasks import CART_TASK, FORECAST, PURCHASE_TASK, ROLLING_ORIGIN, SAME_WINDOW, TaskSpec, get_task

log = logging.getLogger(__name__)

# Columns scoring adds; the others of *_SCORE_COLUMNS are passed through from the rows.
SCORE_OUTPUTS = ["purchase_probability", "predicted_purchase", "model", "model_version", "scored_at"]
PURCHASE_SCORE_COLUMNS = PURCHASE_PREDICTIONS.columns
CART_SCORE_COLUMNS = CART_PREDICTIONS.columns
# Preferred on equal forecast AUC (and when every AUC is undefined).
MODEL_PREFERENCE = {"xgboost": 0, "logistic_regression": 1}


def passed_through(columns: list[str]) -> list[str]:
    """The columns of a *_SCORE_COLUMNS list that scoring copies from its input rows."""
    return [c for c in columns if c not in SCORE_OUTPUTS]


@dataclass
class TaskResult:
    """The fitted models of one task (their metrics and diagnostics inside)
    and the forecast models' feature importances."""

    task: str
    models: dict[tuple[str, str], FittedModel]  # (model name, evaluation) -> model
    importance: pd.DataFrame  # IMPORTANCE_COLUMNS, forecast models only

    def get(self, model: str, evaluation: str = FORECAST) -> FittedModel:
        try:
            return self.models[(model, evaluation)]
        except KeyError:
            raise KeyError(f"{self.task}: no {model!r} model for {evaluation!r}; have {sorted(self.models)}") from None

    def metrics(self) -> list[dict]:
        """Every metrics row: each model's own and its rolling-origin folds'."""
        return [row for m in self.models.values() for row in [m.metrics, *m.diagnostics.get("rolling_origin", [])]]


def best_model(metrics: pd.DataFrame) -> pd.Series | None:
    """The metrics row (forecast, not the baseline) of the model that scores:
    the highest forecast AUC-ROC (NaN counts as worst), ties -> xgboost
    first; None when there is none."""
    rows = metrics.loc[(metrics["evaluation"] == FORECAST) & (metrics["model"] != "baseline")
                       & metrics["fold"].isna() & metrics["model_version"].notna()]
    if rows.empty:
        return None

    def key(index: int) -> tuple[float, int]:
        auc = rows.at[index, "auc_roc"]
        return (-auc if auc is not None and auc == auc else math.inf, MODEL_PREFERENCE.get(rows.at[index, "model"], 9))

    return rows.loc[min(rows.index, key=key)]


def _fit_and_evaluate(
    spec: TaskSpec,
    data: EvaluationData,
    name: str,
    settings: Settings,
    version: str,
    trained_at: pd.Timestamp,
    rates: tuple[float, float],
    fold: int | None = None,
    diagnostics: bool = True,
) -> FittedModel:
    """Fit one model on `data`'s train rows and evaluate it on its test rows."""
    fit = fit_estimator(
        name,
        data.X_train,
        data.y_train,
        numeric=data.numeric,
        categorical=data.categorical,
        log_features=spec.log_features,
        settings=settings,
        valid_mask=data.valid_mask,
    )
    fitted = FittedModel(
        task=spec.name,
        model=name,
        evaluation=data.evaluation,
        estimator=fit.estimator,
        calibrator=fit.calibrator,
        parameters=fit.parameters,
        numeric_features=data.numeric,
        categorical_features=data.categorical,
        model_version=version,
        trained_at=trained_at,
        threshold=settings.threshold,
        window=data.window,
        settings=settings.to_dict(),
    )
    proba = fitted.predict_proba(data.X_test)
    raw = fitted.predict_proba(data.X_test, calibrated=False)
    metrics = compute_metrics(data.y_test, proba, settings.threshold)
    metrics["brier_uncalibrated"] = compute_metrics(data.y_test, raw, settings.threshold)["brier"]
    fitted.metrics = metrics_row(fitted, metrics, len(data.y_train), rates, fold=fold)
    if diagnostics:
        fitted.diagnostics = {
            "reliability": reliability_table(data.y_test, proba).to_dict("records"),
            "reliability_uncalibrated": reliability_table(data.y_test, raw).to_dict("records"),
            "curves": evaluation_curves(data.y_test, proba).to_dict("records"),
        }
    return fitted


def _both_classes(y) -> bool:
    return len(set(y.tolist())) == 2


def train_task(
    task: str,
    training: pd.DataFrame,
    windows: pd.DataFrame,
    settings: Settings | None = None,
    rows_available: Mapping[str, int] | None = None,
    trained_at: pd.Timestamp | None = None,
) -> TaskResult:
    """Fit and evaluate every configured model for every evaluation the frame
    supports, then the rolling-origin folds of `windows` (the task's rows of
    ml_training_windows), whose metrics are kept with the forecast models as
    diagnostics["rolling_origin"]. Only the forecast searches its bounded
    grid (on its own training rows); the same-window models and the
    rolling-origin folds refit the forecast's choice and repeat the
    calibration check on their own held-out rows. Fold 1 is the forecast
    itself (the same windows and rows), so its metrics are the forecast's.

    `rows_available` (split -> rows in the full table) says `training` is a
    sample; metrics then record each split's sample rate (else 1.0). Rows are
    put in a fixed order first: the same rows in any order give the same models.
    """
    settings = settings or Settings()
    spec = get_task(task)
    require_columns(training, ["split", *spec.keys], f"{task} training frame")
    training = training.sort_values(["split", *spec.keys], kind="stable").reset_index(drop=True)
    trained_at = pd.Timestamp.now(tz="UTC") if trained_at is None else trained_at
    stamp = trained_at.strftime("%Y%m%dT%H%M%S%fZ")
    models: dict[tuple[str, str], FittedModel] = {}
    for evaluation in available_evaluations(spec, training):  # the forecast first
        data = build_evaluation(spec, training, evaluation, settings)
        rates = (
            fold_sample_rate(data.train_rows, training, rows_available),
            fold_sample_rate(data.test_rows, training, rows_available),
        )
        log.debug("%s/%s: %d train rows, %d test rows", task, evaluation, len(data.y_train), len(data.y_test))
        for name in settings.models:
            version = f"{task}-{name}-{evaluation}-{stamp}"
            # only the forecast searches; the same-window comparison refits its choice
            chosen = settings if evaluation == FORECAST else tuned_settings(
                name, settings, models[(name, FORECAST)].parameters)
            models[(name, evaluation)] = _fit_and_evaluate(spec, data, name, chosen, version, trained_at, rates)
    for fold, train, test in rolling_origin_folds(spec, training, windows):
        if fold == 1:  # the forecast's own windows, rows and procedure: its metrics
            for name in settings.models:
                forecast = models[(name, FORECAST)]
                row = forecast.metrics | {"evaluation": ROLLING_ORIGIN, "fold": 1,
                                          "model_version": f"{task}-{name}-{ROLLING_ORIGIN}-1-{stamp}"}
                forecast.diagnostics.setdefault("rolling_origin", []).append(row)
            continue
        data = build_fold(spec, train, test, settings)
        if not (_both_classes(data.y_train) and _both_classes(data.y_test)):
            log.warning("%s: rolling-origin fold %d left out: its train or test rows hold one class", task, fold)
            continue
        rates = (fold_sample_rate(train, training, rows_available), fold_sample_rate(test, training, rows_available))
        log.debug("%s/%s fold %d: %d train rows, %d test rows", task, ROLLING_ORIGIN, fold, len(train), len(test))
        for name in settings.models:
            forecast = models[(name, FORECAST)]
            version = f"{task}-{name}-{ROLLING_ORIGIN}-{fold}-{stamp}"
            chosen = tuned_settings(name, settings, forecast.parameters)
            fitted = _fit_and_evaluate(
                spec, data, name, chosen, version, trained_at, rates, fold=fold, diagnostics=False
            )
            forecast.diagnostics.setdefault("rolling_origin", []).append(fitted.metrics)
    importance = [feature_importance(m) for (_, e), m in models.items() if e == FORECAST]
    importance_df = pd.concat(importance, ignore_index=True) if importance else pd.DataFrame(columns=IMPORTANCE_COLUMNS)
    return TaskResult(task=task, models=models, importance=importance_df)


def save_models(result: TaskResult, model_dir: str | Path) -> None:
    """Save the models that score (the forecast ones; the same-window models
    are not forecasts and never score)."""
    for (_, evaluation), fitted in result.models.items():
        if evaluation == FORECAST:
            save_model(fitted, model_dir)


def _score(
    task: str,
    fitted: FittedModel,
    rows: pd.DataFrame,
    threshold: float | None,
    key_columns: list[str],
    columns: list[str],
    scored_at: pd.Timestamp | None,
) -> pd.DataFrame:
    spec = get_task(task)
    if fitted.task != task:
        raise ValueError(f"model is for task {fitted.task!r}, not {task!r}")
    if fitted.evaluation == SAME_WINDOW:
        raise ValueError("same_window models are not forecasts and must not be used for scoring")
    if "split" in rows.columns:  # allow passing the whole training table
        rows = rows.loc[rows["split"].astype(str) == spec.score_split]
    require_columns(rows, key_columns, f"{task} score rows")
    key = spec.keys[0]
    if rows[key].duplicated().any():
        raise ValueError(f"{task} score rows: {int(rows[key].duplicated().sum())} duplicated {key} values")
    cut = fitted.threshold if threshold is None else float(threshold)
    proba = fitted.predict_proba(rows)
    out = rows[key_columns].reset_index(drop=True).copy()
    if "user_id" in out and not out["user_id"].isna().any():
        out["user_id"] = out["user_id"].astype("int64")
    out["purchase_probability"] = proba.astype("float64")
    out["predicted_purchase"] = (proba >= cut).astype("int64")
    out["model"] = fitted.model
    out["model_version"] = fitted.model_version
    stamp = pd.Timestamp.now(tz="UTC") if scored_at is None else pd.Timestamp(scored_at)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    out["scored_at"] = pd.Series(stamp, index=out.index, dtype="datetime64[ns, UTC]")
    return out[columns]


def score_purchase(
    fitted: FittedModel,
    score_rows: pd.DataFrame,
    threshold: float | None = None,
    scored_at: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Purchase propensity per user for `score` rows (with a `split` column,
    only split == 'score' is used). `scored_at` (tz-aware) defaults to now;
    pass one value to stamp several batches alike. Returns
    PURCHASE_SCORE_COLUMNS, one row per user_id."""
    keys = passed_through(PURCHASE_SCORE_COLUMNS)
    return _score(PURCHASE_TASK, fitted, score_rows, threshold, keys, PURCHASE_SCORE_COLUMNS, scored_at)


def score_carts(
    fitted: FittedModel,
    open_carts: pd.DataFrame,
    threshold: float | None = None,
    scored_at: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Conversion probability per open cart (for retargeting); with a `split`
    column only split == 'open' is used. Returns CART_SCORE_COLUMNS, one row
    per cart_event_id (cart_at passed through)."""
    keys = passed_through(CART_SCORE_COLUMNS)
    return _score(CART_TASK, fitted, open_carts, threshold, keys, CART_SCORE_COLUMNS, scored_at)


def importance_frame(results: Iterable[TaskResult]) -> pd.DataFrame:
    """All feature-importance rows of several tasks, exactly IMPORTANCE_COLUMNS."""
    frames = [r.importance for r in results if not r.importance.empty]
    if not frames:
        return pd.DataFrame(columns=IMPORTANCE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[IMPORTANCE_COLUMNS]


__all__ = [
    "CART_SCORE_COLUMNS",
    "PURCHASE_SCORE_COLUMNS",
    "SCORE_OUTPUTS",
    "TaskResult",
    "best_model",
    "importance_frame",
    "passed_through",
    "save_models",
    "score_carts",
    "score_purchase",
    "train_task",
]
