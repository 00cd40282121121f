"""Entry points for the dbt Python models: pandas in, pandas out.

    result = train_or_load("purchase_propensity", training_pdf, model_dir, retrain=False)
    metrics = metrics_frame([result, cart_result])
    scores = score_purchase(result, training_pdf)        # uses rows with split == 'score'
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ml.evaluate import (
    IMPORTANCE_COLUMNS,
    METRIC_COLUMNS,
    compute_metrics,
    evaluation_curves,
    feature_importance,
    metrics_row,
    reliability_table,
)
from ml.models import FittedModel, fit_estimator
from ml.outputs import CART_PREDICTIONS, PURCHASE_PREDICTIONS
from ml.persist import load_latest, save_model
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


def passed_through(columns: list[str]) -> list[str]:
    """The columns of a *_SCORE_COLUMNS list that scoring copies from its input rows."""
    return [c for c in columns if c not in SCORE_OUTPUTS]


class MissingModelError(RuntimeError):
    """Models were to be loaded, not trained, and none matches."""


@dataclass
class TaskResult:
    """Fitted models for one task plus their metrics and importances."""

    task: str
    models: dict[tuple[str, str], FittedModel]  # (model name, evaluation) -> model
    metrics: pd.DataFrame  # METRIC_COLUMNS, one row per model and evaluation
    importance: pd.DataFrame  # IMPORTANCE_COLUMNS, forecast models only
    reused: bool = False  # True when loaded from model_dir instead of trained
    model_versions: dict[tuple[str, str], str] = field(default_factory=dict)

    def get(self, model: str, evaluation: str = FORECAST) -> FittedModel:
        try:
            return self.models[(model, evaluation)]
        except KeyError:
            raise KeyError(f"{self.task}: no {model!r} model for {evaluation!r}; have {sorted(self.models)}") from None

    def best_model(self, evaluation: str = FORECAST) -> str:
        """Non-baseline model with the highest AUC (NaN counts as worst); ties -> xgboost first."""
        candidates = [m for (m, e) in self.models if e == evaluation and m != "baseline"]
        if not candidates:
            return "baseline"
        order = {"xgboost": 0, "logistic_regression": 1}

        def key(name: str) -> tuple[float, int]:
            auc = self.models[(name, evaluation)].metrics.get("auc_roc", math.nan)
            return (-auc if auc == auc else math.inf, order.get(name, 9))

        return min(candidates, key=key)


def metric_rows(models: Iterable[FittedModel]) -> list[dict]:
    """Every metrics row of `models`: their own and their rolling-origin folds'."""
    return [row for m in models for row in [m.metrics, *m.diagnostics.get("rolling_origin", [])]]


def _result(task: str, models: dict[tuple[str, str], FittedModel], reused: bool) -> TaskResult:
    metrics = _metrics_from_rows(metric_rows(models.values()))
    importance = [feature_importance(m) for (_, e), m in models.items() if e == FORECAST]
    importance_df = pd.concat(importance, ignore_index=True) if importance else pd.DataFrame(columns=IMPORTANCE_COLUMNS)
    return TaskResult(
        task=task,
        models=models,
        metrics=metrics,
        importance=importance_df,
        reused=reused,
        model_versions={k: m.model_version for k, m in models.items()},
    )


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
    settings: Settings | None = None,
    rows_available: Mapping[str, int] | None = None,
) -> TaskResult:
    """Fit and evaluate every configured model for every evaluation the frame
    supports, then the rolling-origin folds (metrics kept with the forecast
    models as diagnostics["rolling_origin"]).

    `rows_available` (split -> rows in the full table) says `training` is a
    sample; metrics then record each split's sample rate (else 1.0). Rows are
    put in a fixed order first: the same rows in any order give the same models.
    """
    settings = settings or Settings()
    spec = get_task(task)
    require_columns(training, ["split", *spec.keys], f"{task} training frame")
    training = training.sort_values(["split", *spec.keys], kind="stable").reset_index(drop=True)
    trained_at = pd.Timestamp.now(tz="UTC")
    stamp = trained_at.strftime("%Y%m%dT%H%M%S%fZ")
    models: dict[tuple[str, str], FittedModel] = {}
    for evaluation in available_evaluations(spec, training):
        data = build_evaluation(spec, training, evaluation, settings)
        rates = (
            fold_sample_rate(data.train_rows, training, rows_available),
            fold_sample_rate(data.test_rows, training, rows_available),
        )
        log.info("%s/%s: %d train rows, %d test rows", task, evaluation, len(data.y_train), len(data.y_test))
        for name in settings.models:
            version = f"{task}-{name}-{evaluation}-{stamp}"
            models[(name, evaluation)] = _fit_and_evaluate(spec, data, name, settings, version, trained_at, rates)
    for fold, train, test in rolling_origin_folds(spec, training, settings):
        data = build_fold(spec, train, test, settings)
        if not (_both_classes(data.y_train) and _both_classes(data.y_test)):
            log.warning("%s: rolling-origin fold %d left out: its train or test rows hold one class", task, fold)
            continue
        rates = (fold_sample_rate(train, training, rows_available), fold_sample_rate(test, training, rows_available))
        log.info("%s/%s fold %d: %d train rows, %d test rows", task, ROLLING_ORIGIN, fold, len(train), len(test))
        for name in settings.models:
            version = f"{task}-{name}-{ROLLING_ORIGIN}-{fold}-{stamp}"
            fitted = _fit_and_evaluate(
                spec, data, name, settings, version, trained_at, rates, fold=fold, diagnostics=False
            )
            forecast = models[(name, FORECAST)]
            forecast.diagnostics.setdefault("rolling_origin", []).append(fitted.metrics)
    return _result(task, models, reused=False)


def _load_saved(spec: TaskSpec, model_dir: Path, settings: Settings) -> dict[tuple[str, str], FittedModel] | None:
    """Latest saved models for the task, or None if any forecast model is missing/stale."""
    loaded: dict[tuple[str, str], FittedModel] = {}
    for evaluation in spec.evaluations:
        for name in settings.models:
            fitted = load_latest(model_dir, spec.name, name, evaluation)
            # A model saved with a different feature list predates a code change: retrain.
            if fitted is not None and fitted.features == spec.features(evaluation):
                loaded[(name, evaluation)] = fitted
            elif evaluation == FORECAST:
                return None  # forecast models are required for scoring
    return loaded


def train_or_load(
    task: str,
    training: pd.DataFrame | Callable[[], pd.DataFrame],
    model_dir: str | Path,
    retrain: bool,
    settings: Settings | None = None,
    rows_available: Mapping[str, int] | None = None,
    load_only: bool = False,
) -> TaskResult:
    """Reuse the latest saved models (and their saved metrics) unless `retrain`.

    `load_only`: never train; raise MissingModelError when no complete saved
    set matches (scoring must use the models ml_model_metrics evaluated).

    Reuse requires a saved forecast model for every configured model with the
    current feature list; otherwise everything is trained and saved. With
    reuse, `training` is not read and current `settings` do not apply; it may
    be a function returning the frame, called only when training is needed
    (converting a large Spark table to pandas is the expensive part).
    `rows_available`: see train_task (set when `training` is a sample).
    """
    settings = settings or Settings()
    spec = get_task(task)
    model_dir = Path(model_dir)
    if not retrain:
        loaded = _load_saved(spec, model_dir, settings)
        if loaded is not None:
            log.info("%s: reusing saved models %s", task, sorted(m.model_version for m in loaded.values()))
            return _result(task, loaded, reused=True)
        if load_only:
            raise MissingModelError(
                f"{task}: no saved model set in {model_dir} matches the current features and models "
                f"{list(settings.models)}; build ml_model_metrics first (it trains and saves them)"
            )
        log.info("%s: no complete saved model set in %s; training", task, model_dir)
    result = train_task(task, training() if callable(training) else training, settings, rows_available)
    for fitted in result.models.values():
        save_model(fitted, model_dir)
    return result


def _metrics_from_rows(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=METRIC_COLUMNS)
    floats = [
        "auc_roc", "pr_auc", "log_loss", "brier", "brier_uncalibrated", "accuracy", "precision", "recall",
        "threshold", "train_sample_rate", "test_sample_rate", "positive_rate_test",
    ]  # fmt: skip
    frame[floats] = frame[floats].astype("float64")
    frame[["n_train", "n_test"]] = frame[["n_train", "n_test"]].astype("int64")
    frame["fold"] = frame["fold"].astype("Int64")
    frame["trained_at"] = pd.to_datetime(frame["trained_at"], utc=True)
    return frame.sort_values(["task", "evaluation", "model", "fold"]).reset_index(drop=True)


def metrics_frame(results: list[TaskResult]) -> pd.DataFrame:
    """All metrics rows of several tasks, exactly METRIC_COLUMNS.

    Window bounds are `datetime.date` objects (Spark DATE); trained_at is a
    tz-aware UTC timestamp.
    """
    return _metrics_from_rows(metric_rows(m for r in results for m in r.models.values()))


def importance_frame(results: list[TaskResult]) -> pd.DataFrame:
    """All feature-importance rows of several tasks, exactly IMPORTANCE_COLUMNS."""
    frames = [r.importance for r in results if not r.importance.empty]
    if not frames:
        return pd.DataFrame(columns=IMPORTANCE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[IMPORTANCE_COLUMNS]


ModelSource = TaskResult | FittedModel | Mapping[tuple[str, str], FittedModel]


def _pick(source: ModelSource, task: str, model: str | None) -> FittedModel:
    """Resolve the forecast model used for scoring (default: best by forecast AUC)."""
    if isinstance(source, FittedModel):
        fitted = source
    else:
        result = source if isinstance(source, TaskResult) else _result(task, dict(source), reused=True)
        fitted = result.get(model or result.best_model(FORECAST), FORECAST)
    if fitted.task != task:
        raise ValueError(f"model is for task {fitted.task!r}, not {task!r}")
    if fitted.evaluation == SAME_WINDOW:
        raise ValueError("same_window models are not forecasts and must not be used for scoring")
    return fitted


def _score(
    task: str,
    source: ModelSource,
    rows: pd.DataFrame,
    model: str | None,
    threshold: float | None,
    key_columns: list[str],
    columns: list[str],
    scored_at: pd.Timestamp | None,
) -> pd.DataFrame:
    spec = get_task(task)
    fitted = _pick(source, task, model)
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
    source: ModelSource,
    score_rows: pd.DataFrame,
    model: str | None = None,
    threshold: float | None = None,
    scored_at: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Purchase propensity per user for `score` rows.

    model=None picks the non-baseline forecast model with the best forecast
    AUC. If `score_rows` has a `split` column, only split == 'score' is used.
    `scored_at` (tz-aware) defaults to now; pass one value to stamp several
    batches alike. Returns PURCHASE_SCORE_COLUMNS, one row per user_id.
    """
    keys = passed_through(PURCHASE_SCORE_COLUMNS)
    return _score(PURCHASE_TASK, source, score_rows, model, threshold, keys, PURCHASE_SCORE_COLUMNS, scored_at)


def score_carts(
    source: ModelSource,
    open_carts: pd.DataFrame,
    model: str | None = None,
    threshold: float | None = None,
    scored_at: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Conversion probability per open cart (for retargeting).

    If `open_carts` has a `split` column only split == 'open' is used.
    `scored_at` as in score_purchase. Returns CART_SCORE_COLUMNS, one row per
    cart_event_id (cart_at passed through).
    """
    keys = passed_through(CART_SCORE_COLUMNS)
    return _score(CART_TASK, source, open_carts, model, threshold, keys, CART_SCORE_COLUMNS, scored_at)


__all__ = [
    "CART_SCORE_COLUMNS",
    "MissingModelError",
    "PURCHASE_SCORE_COLUMNS",
    "SCORE_OUTPUTS",
    "TaskResult",
    "importance_frame",
    "metrics_frame",
    "passed_through",
    "score_carts",
    "score_purchase",
    "train_or_load",
    "train_task",
]
