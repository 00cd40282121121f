"""Task definitions: keys, label, splits and feature lists per task and evaluation.

Everything that decides *which columns a model may see* lives here, so leakage
review is one file. The feature lists are constants; the pipeline never
discovers features from a frame (a new column in the dbt model must be added
here on purpose).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

PURCHASE_TASK = "purchase_propensity"
CART_TASK = "cart_conversion"
TASKS: tuple[str, ...] = (PURCHASE_TASK, CART_TASK)

FORECAST = "forecast"
SAME_WINDOW = "same_window"
EVALUATIONS: tuple[str, ...] = (FORECAST, SAME_WINDOW)
# The forecast procedure repeated at successive earlier origins (metrics only;
# its models are not saved: scoring uses the forecast models).
ROLLING_ORIGIN = "rolling_origin"

LABEL = "purchased"

# Columns that carry (or are derived from) the outcome. They must never be a
# feature. The exact names cover the current contracts; the patterns cover
# columns someone may add later (`purchases_after_cart`, `label_end_date`).
LEAKY_COLUMNS: frozenset[str] = frozenset(
    {
        LABEL,
        "label",
        "target",
        "session_purchases",
        "label_start_date",
        "label_end_date",
        "purchased_at",
        "purchase_probability",
        "predicted_purchase",
    }
)
_LEAKY_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"^label_"),  # label window bounds and anything about it
    re.compile(r"(^|_)after(_|$)"),  # `*_after`, `*_after_cart`: happened after the cut-off
    re.compile(r"^purchased_"),  # `purchased_within_7d`, ... : label variants
)

# Identifiers, split assignment and window bounds: not leaky in themselves but
# never meaningful as features (ids memorise users; windows encode time).
NON_FEATURE_COLUMNS: frozenset[str] = frozenset(
    {
        "user_id",
        "product_id",
        "cart_event_id",
        "user_session",
        "split",
        "cart_at",
        "cart_date",
        "feature_start_date",
        "feature_end_date",
    }
)


class LeakageError(ValueError):
    """A label-derived or otherwise forbidden column was offered as a feature."""


def is_leaky(column: str) -> bool:
    """True if `column` carries label information by name."""
    name = column.strip().lower()
    return name in LEAKY_COLUMNS or any(p.search(name) for p in _LEAKY_PATTERNS)


def assert_no_leakage(features: Iterable[str]) -> None:
    """Raise LeakageError naming every forbidden column in `features`."""
    features = list(features)
    leaky = [f for f in features if is_leaky(f)]
    forbidden = [f for f in features if f.strip().lower() in NON_FEATURE_COLUMNS]
    if leaky or forbidden:
        parts = []
        if leaky:
            parts.append(f"label-derived columns {leaky} (the label is {LABEL!r})")
        if forbidden:
            parts.append(f"identifier/window columns {forbidden}")
        raise LeakageError("refusing to use as features: " + "; ".join(parts))


@dataclass(frozen=True)
class TaskSpec:
    """Static description of one prediction task and its input contract."""

    name: str
    keys: tuple[str, ...]  # one output row per key combination when scoring
    numeric_features: tuple[str, ...]
    categorical_features: tuple[str, ...]
    # Heavy-tailed counts/values that the logistic regression sees through
    # log1p; bounded columns (rates, hour, flags) are only standardised.
    log_features: tuple[str, ...]
    train_split: str
    test_split: str
    score_split: str
    same_window_split: str | None  # None: the task has no same-window evaluation
    # Features that ARE the label within the same window (excluded there only).
    same_window_excluded: tuple[str, ...] = ()
    time_column: str | None = None  # orders rows for time-aware validation
    date_column: str | None = None  # reported window bounds (cart task)
    # Labelled rows between train and test (left out of the forecast so no train
    # label reaches into the test period); earlier rolling-origin folds test on them.
    gap_split: str | None = None

    @property
    def evaluations(self) -> tuple[str, ...]:
        return (FORECAST, SAME_WINDOW) if self.same_window_split else (FORECAST,)

    def features(self, evaluation: str = FORECAST) -> list[str]:
        """Feature list (numeric first, then categorical) for one evaluation."""
        if evaluation not in self.evaluations:
            raise ValueError(f"task {self.name!r} has no evaluation {evaluation!r}; valid: {self.evaluations}")
        drop = set(self.same_window_excluded) if evaluation == SAME_WINDOW else set()
        return [f for f in self.numeric_features + self.categorical_features if f not in drop]

    def numeric(self, evaluation: str = FORECAST) -> list[str]:
        return [f for f in self.features(evaluation) if f in self.numeric_features]

    def categorical(self, evaluation: str = FORECAST) -> list[str]:
        return [f for f in self.features(evaluation) if f in self.categorical_features]


_PURCHASE_NUMERIC = (
    "views",
    "carts",
    "remove_from_carts",
    "purchases",
    "sessions",
    "active_days",
    "product_days",
    "category_days",
    "avg_view_price",
    "max_view_price",
    "cart_value",
    "purchase_value",
    "days_since_last_event",
    "view_to_cart_rate",
    "events_per_session",
)

PURCHASE_SPEC = TaskSpec(
    name=PURCHASE_TASK,
    keys=("user_id",),
    numeric_features=_PURCHASE_NUMERIC,
    categorical_features=(),
    log_features=tuple(f for f in _PURCHASE_NUMERIC if f != "view_to_cart_rate"),
    train_split="train",
    test_split="test",
    score_split="score",
    same_window_split="same_window",
    # In the same window `purchased` == (purchases > 0): these two ARE the label.
    same_window_excluded=("purchases", "purchase_value"),
)

_CART_NUMERIC = (
    "hour_of_day",
    "day_of_week",
    "price",
    "price_relative_to_category",
    "user_views_before",
    "user_carts_before",
    "user_purchases_before",
    "user_sessions_before",
    "product_views_before",
    "product_carts_before",
    "product_purchases_before",
    "session_views_before",
    "session_carts_before",
    "seconds_since_session_start",
    "user_viewed_product_today",
)

# `iso_week` is in the cart contract but deliberately NOT a feature: with a
# time split every test week is unseen in training, so the model could only
# learn a trend over the week number (trees clamp it to the last train week,
# a linear model extrapolates it). It stays available for diagnostics.
CART_SPEC = TaskSpec(
    name=CART_TASK,
    keys=("cart_event_id",),
    numeric_features=_CART_NUMERIC,
    categorical_features=("category_l1", "category_l2", "brand"),
    log_features=tuple(
        f for f in _CART_NUMERIC if f not in {"hour_of_day", "day_of_week", "user_viewed_product_today"}
    ),
    train_split="train",
    test_split="test",
    score_split="open",
    same_window_split=None,
    time_column="cart_at",
    date_column="cart_date",
    gap_split="gap",
)

SPECS: dict[str, TaskSpec] = {PURCHASE_TASK: PURCHASE_SPEC, CART_TASK: CART_SPEC}


def get_task(task: str) -> TaskSpec:
    """Look up a task by name with a helpful error."""
    try:
        return SPECS[task]
    except KeyError:
        raise ValueError(f"unknown task {task!r}; valid tasks: {TASKS}") from None


def feature_columns(task: str, evaluation: str = FORECAST) -> list[str]:
    """Public shortcut: the feature list a model for (task, evaluation) uses."""
    return get_task(task).features(evaluation)


# Fail at import, not at 3am in a dbt run, if someone edits a list badly.
for _spec in SPECS.values():
    for _evaluation in _spec.evaluations:
        assert_no_leakage(_spec.features(_evaluation))
