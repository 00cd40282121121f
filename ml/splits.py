"""Train/test/validation splits per (task, evaluation), with leakage guards.

forecast     : fit on `train` rows, evaluate on the later `test` rows. Guards:
               purchase task -> every train label window ends before any test
               label window starts; cart task -> every test cart is at or after
               every train cart.
same_window  : (purchase task only) random stratified split of `same_window`
               rows; reproduces the published, non-forecast setup.
rolling_origin: the forecast repeated at successive earlier origins (fold 1 =
               the forecast's own), at the folds ml_training_windows defines
               for both tasks. Purchase task: the training set carries each
               fold's windows as splits `rolling_<k>_train/test`. Cart task:
               a fold's train and test rows are the labelled carts (train,
               gap, test) dated in its train and test windows.
Validation   : rows carved from TRAIN only (never from test) for XGBoost early
               stopping: the latest share by time when rows have a time order
               (cart task), else a seeded stratified random share (the purchase
               train rows share one window, so time cannot order them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from ml.preprocess import date_bounds, labels, prepare_features, require_columns, timestamps, to_date
from ml.settings import Settings
from ml.tasks import FORECAST, LABEL, ROLLING_ORIGIN, SAME_WINDOW, TaskSpec

WINDOW_KEYS = ("train_start", "train_end", "test_start", "test_end")
# Window columns of tasks without a time column (the purchase task's rows).
FEATURE_WINDOW_COLUMNS = ("feature_start_date", "feature_end_date")
LABEL_WINDOW_COLUMNS = ("label_start_date", "label_end_date")


@dataclass
class EvaluationData:
    """Prepared matrices for one (task, evaluation)."""

    task: str
    evaluation: str
    numeric: list[str]
    categorical: list[str]
    X_train: pd.DataFrame
    y_train: np.ndarray
    X_test: pd.DataFrame
    y_test: np.ndarray
    valid_mask: np.ndarray  # bool per train row: held out for early stopping
    window: dict[str, dt.date | None] = field(default_factory=dict)
    train_rows: pd.DataFrame | None = None  # raw rows (keys, times), aligned with X_train
    test_rows: pd.DataFrame | None = None  # raw rows, aligned with X_test

    @property
    def features(self) -> list[str]:
        return self.numeric + self.categorical


def _rows(frame: pd.DataFrame, split: str) -> pd.DataFrame:
    return frame.loc[frame["split"].astype(str) == split]


def stratified_mask(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Seeded random boolean mask selecting ~fraction of rows, stratified when possible."""
    n = len(y)
    mask = np.zeros(n, dtype=bool)
    n_pick = int(round(n * fraction))
    if n_pick == 0 or n_pick == n:
        return mask
    counts = np.bincount(y, minlength=2)
    # train_test_split cannot stratify a class with fewer than 2 members.
    stratify = y if counts.min() >= 2 and min(n_pick, n - n_pick) >= 2 else None
    _, picked = train_test_split(np.arange(n), test_size=n_pick, random_state=seed, stratify=stratify)
    mask[picked] = True
    return mask


def latest_mask(times: pd.Series, fraction: float) -> np.ndarray:
    """Boolean mask of the latest ~fraction of rows by time.

    Rows tied with the cut-off time all go to the held-out side, so every kept
    row is strictly earlier than every held-out row.
    """
    t = timestamps(times).to_numpy()
    n = len(t)
    n_pick = int(round(n * fraction))
    if n_pick == 0:
        return np.zeros(n, dtype=bool)
    cutoff = np.sort(t)[n - n_pick]
    return t >= cutoff


def check_time_order(train_times: pd.Series, test_times: pd.Series) -> None:
    """Raise if any test row is earlier than the latest train row."""
    if len(train_times) == 0 or len(test_times) == 0:
        return
    train_max, test_min = timestamps(train_times).max(), timestamps(test_times).min()
    if test_min < train_max:
        raise ValueError(
            f"time split violated: a test row ({test_min}) is earlier than the latest train row "
            f"({train_max}); the forecast evaluation would train on the future"
        )


def check_label_windows(train: pd.DataFrame, test: pd.DataFrame) -> None:
    """Raise if any train label window ends after a test label window starts."""
    if train.empty or test.empty:
        return
    train_end = pd.to_datetime(train["label_end_date"]).max()
    test_start = pd.to_datetime(test["label_start_date"]).min()
    if pd.isna(train_end) or pd.isna(test_start):
        raise ValueError("train/test rows need non-null label_start_date/label_end_date")
    if train_end > test_start:
        raise ValueError(
            f"label windows overlap: train labels run to {train_end.date()} but test labels start "
            f"{test_start.date()}; the forecast evaluation would see test-period outcomes"
        )


def _matrices(spec: TaskSpec, evaluation: str, rows: pd.DataFrame, what: str) -> tuple[pd.DataFrame, np.ndarray]:
    X = prepare_features(rows, spec.numeric(evaluation), spec.categorical(evaluation))
    return X, labels(rows, what)


def build_evaluation(
    spec: TaskSpec, training: pd.DataFrame, evaluation: str, settings: Settings
) -> EvaluationData:
    """Split `training` for one evaluation and prepare features/labels."""
    require_columns(training, ["split", LABEL, *spec.features(evaluation)], f"{spec.name} training frame")
    train_split, test_split = evaluation_splits(spec, evaluation)
    if evaluation == FORECAST:
        train, test = _rows(training, train_split), _rows(training, test_split)
    else:  # same_window: one split, cut at random into train and test rows
        rows = _rows(training, train_split)
        is_test = stratified_mask(labels(rows, "same_window rows"), settings.same_window_test_fraction, settings.seed)
        train, test = rows.loc[~is_test], rows.loc[is_test]
    return prepare_evaluation(spec, evaluation, train, test, settings)


def fold_splits(spec: TaskSpec, fold: int) -> tuple[str, str]:
    """(train split, test split) names of rolling-origin fold `fold` in
    ml_training_windows: fold 1 is the forecast's own train and test."""
    return (spec.train_split, spec.test_split) if fold == 1 else rolling_split_names(fold)


def rolling_origin_folds(
    spec: TaskSpec, training: pd.DataFrame, windows: pd.DataFrame
) -> list[tuple[int, pd.DataFrame, pd.DataFrame]]:
    """(fold, train rows, test rows) of every rolling-origin fold of
    `windows` (the task's rows of ml_training_windows, where the folds are
    defined) that `training` covers, fold 1 being the forecast's own.

    Purchase rows carry their fold's windows as their split. Cart rows are
    cut by date: a fold's train and test rows are the labelled carts (train,
    gap and test splits) dated inside its train and test windows."""
    folds = sorted({int(f) for f in windows["fold"].dropna()})
    if spec.date_column:
        labelled = training.loc[training["split"].astype(str).isin([spec.train_split, spec.gap_split, spec.test_split])]
        dates = pd.to_datetime(labelled[spec.date_column]).dt.date
        bounds = {row.split: (to_date(row.start_date), to_date(row.end_date)) for row in windows.itertuples()}

        def rows(split: str) -> pd.DataFrame:
            if split not in bounds:
                return labelled.iloc[0:0]
            start, end = bounds[split]
            return labelled.loc[(dates >= start) & (dates < end)]
    else:
        def rows(split: str) -> pd.DataFrame:
            return _rows(training, split)

    out = []
    for fold in folds:
        train_split, test_split = fold_splits(spec, fold)
        train, test = rows(train_split), rows(test_split)
        if not train.empty and not test.empty:
            out.append((fold, train, test))
    return out


def build_fold(
    spec: TaskSpec, train: pd.DataFrame, test: pd.DataFrame, settings: Settings
) -> EvaluationData:
    """One rolling-origin fold, prepared (and guarded) like the forecast."""
    return prepare_evaluation(spec, ROLLING_ORIGIN, train, test, settings)


def prepare_evaluation(
    spec: TaskSpec, evaluation: str, train: pd.DataFrame, test: pd.DataFrame, settings: Settings
) -> EvaluationData:
    """Guards, validation carving, window bounds and feature matrices for one
    (train rows, test rows) pair; rolling_origin folds are forecasts."""
    features_of = FORECAST if evaluation == ROLLING_ORIGIN else evaluation
    is_forecast = features_of == FORECAST
    if train.empty:
        raise ValueError(f"{spec.name}/{evaluation}: no training rows")

    if spec.time_column:  # cart task: ordered by cart time
        require_columns(train, [spec.time_column], f"{spec.name} training frame")
        if is_forecast:
            check_time_order(train[spec.time_column], test[spec.time_column])
        # Sort so that positional masks and any later inspection follow time.
        train = train.sort_values(spec.time_column, kind="stable")
        valid_mask = latest_mask(train[spec.time_column], settings.validation_fraction)
        date_col = spec.date_column if spec.date_column in train.columns else spec.time_column
        train_start, train_end = date_bounds(train[date_col], end_exclusive_from_max=True)
        test_start, test_end = date_bounds(test[date_col], end_exclusive_from_max=True)
    else:  # purchase task: rows carry explicit feature/label windows
        require_columns(train, list(FEATURE_WINDOW_COLUMNS), f"{spec.name} training frame")
        y_tmp = labels(train, f"{evaluation} train rows")
        valid_mask = stratified_mask(y_tmp, settings.validation_fraction, settings.seed)
        if is_forecast:
            require_columns(train, list(LABEL_WINDOW_COLUMNS), f"{spec.name} training frame")
            check_label_windows(train, test)
            # Train/test windows span feature start .. label end (end exclusive).
            train_start, train_end = date_bounds(train["feature_start_date"])[0], date_bounds(train["label_end_date"])[1]
            test_start, test_end = date_bounds(test["feature_start_date"])[0], date_bounds(test["label_end_date"])[1]
        else:  # same window: features and label share [feature_start, feature_end)
            train_start, train_end = date_bounds(train["feature_start_date"])[0], date_bounds(train["feature_end_date"])[1]
            test_start, test_end = date_bounds(test["feature_start_date"])[0], date_bounds(test["feature_end_date"])[1]

    X_train, y_train = _matrices(spec, features_of, train, f"{evaluation} train rows")
    X_test, y_test = _matrices(spec, features_of, test, f"{evaluation} test rows")
    return EvaluationData(
        task=spec.name,
        evaluation=evaluation,
        numeric=spec.numeric(features_of),
        categorical=spec.categorical(features_of),
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        valid_mask=valid_mask,
        window=dict(zip(WINDOW_KEYS, (train_start, train_end, test_start, test_end), strict=True)),
        train_rows=train,
        test_rows=test,
    )


def available_evaluations(spec: TaskSpec, training: pd.DataFrame) -> list[str]:
    """Evaluations the frame supports: forecast always; same_window if its rows exist."""
    out = [FORECAST]
    if spec.same_window_split and "split" in training.columns:
        if (training["split"].astype(str) == spec.same_window_split).any():
            out.append(SAME_WINDOW)
    return out


def evaluation_splits(spec: TaskSpec, evaluation: str) -> tuple[str, str]:
    """(split holding the training rows, split holding the test rows) of one
    evaluation; same_window cuts both from its one split."""
    if evaluation == FORECAST:
        return spec.train_split, spec.test_split
    if evaluation == SAME_WINDOW and spec.same_window_split:
        return spec.same_window_split, spec.same_window_split
    raise ValueError(f"task {spec.name!r} has no evaluation {evaluation!r}")


ROLLING_PREFIX = "rolling_"


def rolling_split_names(fold: int) -> tuple[str, str]:
    """(train split, test split) of rolling-origin fold `fold` >= 2 in a
    window-based training set (fold 1 uses the forecast's own splits)."""
    return f"{ROLLING_PREFIX}{fold}_train", f"{ROLLING_PREFIX}{fold}_test"


def training_splits(spec: TaskSpec, present: Iterable[str] = ()) -> list[str]:
    """Every split some evaluation of `spec` trains or tests on (not the score
    split): the forecast's and same window's, the gap, and the rolling-origin
    splits among `present` (the split values the table holds)."""
    splits = [split for evaluation in spec.evaluations for split in evaluation_splits(spec, evaluation)]
    if spec.gap_split:
        splits.append(spec.gap_split)
    splits += sorted(s for s in present if str(s).startswith(ROLLING_PREFIX))
    return list(dict.fromkeys(splits))


def training_columns(spec: TaskSpec) -> list[str]:
    """Every column build_evaluation may read for any evaluation of `spec`, plus
    the keys: all that has to reach pandas to train. The date column is
    optional (the time column stands in for it when absent)."""
    features = [f for evaluation in spec.evaluations for f in spec.features(evaluation)]
    if spec.time_column:
        windows = [spec.time_column, *([spec.date_column] if spec.date_column else [])]
    else:
        windows = [*FEATURE_WINDOW_COLUMNS, *LABEL_WINDOW_COLUMNS]
    return list(dict.fromkeys([*spec.keys, "split", LABEL, *features, *windows]))
