"""Synthetic training tables shaped like the dbt contracts, for the ml tests.

Frames mimic Spark's `toPandas()` output: DATE columns hold `datetime.date`
objects, and `purchased` is float64 with NaN on unlabelled rows.
With signal=True the label depends on the features through a known logit;
with signal=False the label is an independent coin flip.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

# Make `import ml` work under plain `pytest` too (python -m pytest already has
# the cwd on sys.path; an installed package makes this a no-op).
_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

D = dt.date

# (split, feature_start, feature_end, label_start, label_end); end exclusive.
PURCHASE_WINDOWS = [
    ("train", D(2019, 10, 1), D(2019, 10, 22), D(2019, 10, 22), D(2019, 10, 29)),
    ("test", D(2019, 10, 8), D(2019, 10, 29), D(2019, 10, 29), D(2019, 11, 5)),
    ("same_window", D(2019, 10, 1), D(2019, 10, 29), D(2019, 10, 1), D(2019, 10, 29)),
    ("score", D(2019, 10, 15), D(2019, 11, 5), None, None),
]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _purchase_features(rng: np.random.Generator, z: np.ndarray, purchases: np.ndarray | None = None) -> dict:
    """Behaviour counts driven by a latent propensity z (higher z: more active)."""
    n = len(z)
    views = rng.poisson(np.exp(1.5 + 0.6 * z))
    carts = rng.binomial(views, _sigmoid(-2.0 + 0.8 * z))
    removes = rng.binomial(carts, 0.3)
    if purchases is None:
        purchases = rng.binomial(carts, 0.4)
    # Sessions/events are built from non-purchase activity only, so in the
    # same-window rows `purchases`/`purchase_value` are the ONLY label carriers.
    sessions = np.where(views + carts > 0, 1 + rng.poisson(views / 5.0), 0)
    price = np.round(rng.lognormal(3.5, 0.8, n), 2)
    avg_view_price = np.where(views > 0, price, 0.0)
    events = views + carts + removes
    return {
        "views": views,
        "carts": carts,
        "remove_from_carts": removes,
        "purchases": purchases,
        "sessions": sessions,
        "active_days": np.minimum(sessions, 21),
        "product_days": np.minimum(views, rng.poisson(2 + views / 2)),
        "category_days": np.minimum(views, rng.poisson(1 + views / 6)),
        "avg_view_price": avg_view_price,
        "max_view_price": np.round(avg_view_price * (1 + rng.uniform(0, 1, n)), 2),
        "cart_value": np.round(carts * price, 2),
        "purchase_value": np.round(purchases * price, 2),
        "days_since_last_event": np.clip(np.round(rng.exponential(6, n) * np.exp(-0.3 * z)), 0, 20),
        "view_to_cart_rate": np.where(views > 0, carts / np.maximum(views, 1), 0.0),
        "events_per_session": np.where(sessions > 0, events / np.maximum(sessions, 1), 0.0),
    }


def make_purchase_frame(
    n_users: int = 1500, signal: bool = True, seed: int = 0, rolling_folds: int = 1, step_days: int = 7
) -> pd.DataFrame:
    """One row per (user, split) for train/test/same_window/score, and with
    rolling_folds > 1 the rolling-origin splits rolling_<k>_train/test: the
    train and test windows moved back (k - 1) x step_days days, as
    ml_training_windows defines them (fresh features and labels).

    same_window rows follow the published study: `purchased` = (purchases > 0)
    in the same window, so `purchases`/`purchase_value` carry the label. With
    signal=False the other features are independent of that label.
    """
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n_users)
    user_ids = np.arange(1_000_000, 1_000_000 + n_users, dtype="int64")
    windows = list(PURCHASE_WINDOWS)
    for fold in range(2, rolling_folds + 1):  # appended last: the splits above keep their draws
        shift = dt.timedelta(days=(fold - 1) * step_days)
        for split, fs, fe, ls, le in PURCHASE_WINDOWS[:2]:  # train, test
            windows.append((f"rolling_{fold}_{split}", fs - shift, fe - shift, ls - shift, le - shift))
    parts = []
    for split, fs, fe, ls, le in windows:
        if split == "same_window":
            label = rng.binomial(1, _sigmoid(-1.0 + 1.5 * z) if signal else np.full(n_users, 0.3))
            purchases = label * (1 + rng.poisson(1.0, n_users))
            feats = _purchase_features(rng, z, purchases=purchases)
            y = (purchases > 0).astype(float)
        else:
            feats = _purchase_features(rng, z)
            p = _sigmoid(-1.5 + 1.5 * z) if signal else np.full(n_users, 0.3)
            y = rng.binomial(1, p).astype(float) if split != "score" else np.full(n_users, np.nan)
        part = pd.DataFrame(feats)
        part.insert(0, "user_id", user_ids)
        part.insert(1, "split", split)
        part["feature_start_date"], part["feature_end_date"] = fs, fe
        part["label_start_date"], part["label_end_date"] = ls, le
        part["purchased"] = y
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def make_cart_frame(n_carts: int = 3000, signal: bool = True, seed: int = 0, n_open: int = 200) -> pd.DataFrame:
    """One row per cart addition in October 2019; test = carts from Oct 25 on; open = Nov 1-2."""
    rng = np.random.default_rng(seed)
    n = n_carts + n_open
    start = pd.Timestamp("2019-10-01")
    seconds = np.concatenate(
        [rng.uniform(0, 31 * 86400, n_carts), rng.uniform(31 * 86400, 33 * 86400, n_open)]
    )
    cart_at = (start + pd.to_timedelta(np.round(seconds), unit="s")).sort_values()
    brands = np.array([f"brand_{i:02d}" for i in range(60)] + ["", None], dtype=object)
    brand_p = 1.0 / np.arange(1, len(brands) + 1)
    brand = rng.choice(brands, size=n, p=brand_p / brand_p.sum())
    cat2_idx = rng.zipf(1.6, n) % 40
    category_l2 = np.array([f"cat_{i:02d}" for i in cat2_idx], dtype=object)
    category_l1 = np.array([f"top_{i % 5}" for i in cat2_idx], dtype=object)
    price = np.round(rng.lognormal(4.0, 0.7, n) * (1 + cat2_idx / 40), 2)
    price_rel = price / pd.Series(price).groupby(category_l2).transform("mean").to_numpy()
    viewed = rng.binomial(1, 0.6, n)
    user_purchases = rng.poisson(0.8, n)
    frame = pd.DataFrame(
        {
            "cart_event_id": [f"c{i:06d}" for i in range(n)],
            "user_id": rng.integers(500_000, 500_800, n).astype("int64"),
            "product_id": rng.integers(1, 5000, n).astype("int64"),
            "cart_at": cart_at,
            "cart_date": cart_at.date,
            "hour_of_day": cart_at.hour,
            "day_of_week": cart_at.dayofweek + 1,
            "iso_week": cart_at.isocalendar().week.to_numpy(),
            "category_l1": category_l1,
            "category_l2": category_l2,
            "brand": brand,
            "price": price,
            "price_relative_to_category": price_rel,
            "user_views_before": rng.poisson(20, n),
            "user_carts_before": rng.poisson(3, n),
            "user_purchases_before": user_purchases,
            "user_sessions_before": rng.poisson(5, n),
            "product_views_before": rng.poisson(50, n),
            "product_carts_before": rng.poisson(8, n),
            "product_purchases_before": rng.poisson(2, n),
            "session_views_before": rng.poisson(6, n),
            "session_carts_before": rng.poisson(1, n),
            "seconds_since_session_start": np.round(rng.exponential(600, n)),
            "user_viewed_product_today": viewed,
        }
    )
    if signal:
        top_brand = np.isin(brand, ["brand_00", "brand_01", "brand_02"])
        logit = -1.2 + 1.5 * viewed + 0.8 * np.log1p(user_purchases) - 1.2 * np.log(price_rel) + 0.8 * top_brand
        y = rng.binomial(1, _sigmoid(logit)).astype(float)
    else:
        y = rng.binomial(1, 0.3, n).astype(float)
    dates = frame["cart_date"]
    frame["split"] = np.where(dates >= D(2019, 11, 1), "open", np.where(dates >= D(2019, 10, 25), "test", "train"))
    frame["purchased"] = np.where(frame["split"] == "open", np.nan, y)
    return frame


def mann_whitney_auc(y: np.ndarray, p: np.ndarray) -> float:
    """AUC as P(score_pos > score_neg) + 0.5 P(tie), via average ranks (no sklearn)."""
    y = np.asarray(y)
    p = np.asarray(p, dtype=float)
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    sorted_p = p[order]
    i = 0
    while i < len(p):  # average ranks over ties
        j = i
        while j + 1 < len(p) and sorted_p[j + 1] == sorted_p[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    n_pos, n_neg = (y == 1).sum(), (y == 0).sum()
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# --- ml_training_windows rows for the synthetic frames --------------------------

WINDOW_COLUMNS = [
    "task", "split", "fold", "start_date", "feature_end_date", "label_start_date", "end_date", "data_end_date",
    "definition_hash",
]  # fmt: skip
WINDOWS_DDL = (
    "task string, split string, fold bigint, start_date date, feature_end_date date, label_start_date date, "
    "end_date date, data_end_date date, definition_hash string"
)
_ROLLING = re.compile(r"^rolling_(\d+)_(train|test)$")


def _fold_of(split: str) -> int | None:
    """The rolling-origin fold a split name belongs to (train/test: fold 1)."""
    if split in ("train", "test"):
        return 1
    match = _ROLLING.match(split)
    return int(match.group(1)) if match else None


def _present(value: object) -> bool:
    return value is not None and not pd.isna(value)


def purchase_windows(frame: pd.DataFrame, definition_hash: str = "purchase-definition") -> pd.DataFrame:
    """The purchase_propensity rows of ml_training_windows that `frame` was
    cut by: one row per split, its dates read from its rows (start = feature
    start, end = label end, or feature end without a label), fold 1 for
    train/test, k for rolling_<k>_*, none for score and same_window; the
    data end date is the day after the last day any window covers."""
    columns = ["split", "feature_start_date", "feature_end_date", "label_start_date", "label_end_date"]
    per_split = frame[columns].drop_duplicates()
    if per_split["split"].duplicated().any():
        raise ValueError("a purchase split with more than one window")
    rows = []
    for w in per_split.itertuples(index=False):
        rows.append({
            "task": "purchase_propensity", "split": w.split, "fold": _fold_of(w.split),
            "start_date": w.feature_start_date, "feature_end_date": w.feature_end_date,
            "label_start_date": w.label_start_date if _present(w.label_start_date) else None,
            "end_date": w.label_end_date if _present(w.label_end_date) else w.feature_end_date,
        })  # fmt: skip
    out = pd.DataFrame(rows).astype({"fold": "Int64"})
    out["data_end_date"] = max(out["end_date"])
    out["definition_hash"] = definition_hash
    return out[WINDOW_COLUMNS]


def cart_windows(
    frame: pd.DataFrame, folds: int = 3, step_days: int = 1, definition_hash: str = "cart-definition"
) -> pd.DataFrame:
    """The cart_conversion rows of ml_training_windows for a cart frame, as
    the SQL derives them, from the frame's own dates: C = the day after the
    last test cart (every label window closed), T = the test days, the gap =
    the days between the last train cart and the first test cart. Fold k
    (shift s = (k - 1) x step_days): test [C - T - s, C - s), train
    [first cart date, C - T - gap - s); a window is kept only when it starts
    on or after the first date and is not empty."""
    split = frame["split"].astype(str)
    dates = pd.to_datetime(frame["cart_date"]).dt.date
    one_day = dt.timedelta(days=1)
    first_date, data_end = dates.min(), dates.max() + one_day
    test_dates, train_dates = dates[split == "test"], dates[split == "train"]
    closed_end = test_dates.max() + one_day
    test_days = (closed_end - test_dates.min()).days
    gap_days = (test_dates.min() - (train_dates.max() + one_day)).days
    rows = []
    for fold in range(1, folds + 1):
        shift = dt.timedelta(days=(fold - 1) * step_days)
        parts = {
            "test": (closed_end - dt.timedelta(days=test_days) - shift, closed_end - shift),
            "train": (first_date, closed_end - dt.timedelta(days=test_days + gap_days) - shift),
        }
        for part, (start, end) in parts.items():
            if start >= first_date and end > start:
                name = part if fold == 1 else f"rolling_{fold}_{part}"
                rows.append({"task": "cart_conversion", "split": name, "fold": fold, "start_date": start,
                             "feature_end_date": None, "label_start_date": None, "end_date": end})
    out = pd.DataFrame(rows, columns=WINDOW_COLUMNS).astype({"fold": "Int64"})
    out["data_end_date"] = data_end
    out["definition_hash"] = definition_hash
    return out


def windows_for(task: str, frame: pd.DataFrame, **kwargs: object) -> pd.DataFrame:
    """The task's ml_training_windows rows for a synthetic training frame."""
    if task == "purchase_propensity":
        return purchase_windows(frame, **kwargs)
    return cart_windows(frame, **kwargs)


def model_metrics_view(table: pd.DataFrame) -> pd.DataFrame:
    """What the SQL view ml_model_metrics makes of ml_training_runs rows:
    the metrics records of each task's latest run, one row per task, model,
    evaluation, fold and model version, a column per measure (numbers from
    `value`, strings and dates from `text`)."""
    latest = table.groupby("task")["run_id"].transform("max")
    metrics = table.loc[(table["run_id"] == latest) & (table["record"] == "metrics")]
    keys = ["task", "model", "evaluation", "fold", "model_version", "trained_at"]
    records = []
    for key, part in metrics.groupby([metrics[k].astype(str) for k in keys], sort=True):
        first = part.iloc[0]
        record = {k: (None if not _present(first[k]) else first[k]) for k in keys}
        for row in part.itertuples(index=False):
            record[row.measure] = row.value if _present(row.value) else (row.text if _present(row.text) else None)
        records.append(record)
    return pd.DataFrame(records)
