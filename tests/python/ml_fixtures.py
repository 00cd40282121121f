"""Synthetic training tables shaped like the dbt contracts, for the ml tests.

Frames mimic Spark's `toPandas()` output: DATE columns hold `datetime.date`
objects, and `purchased` is float64 with NaN on unlabelled rows.
With signal=True the label depends on the features through a known logit;
with signal=False the label is an independent coin flip.
"""

from __future__ import annotations

import datetime as dt
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


def make_purchase_frame(n_users: int = 1500, signal: bool = True, seed: int = 0) -> pd.DataFrame:
    """One row per (user, split) for train/test/same_window/score.

    same_window rows follow the published study: `purchased` = (purchases > 0)
    in the same window, so `purchases`/`purchase_value` carry the label. With
    signal=False the other features are independent of that label.
    """
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n_users)
    user_ids = np.arange(1_000_000, 1_000_000 + n_users, dtype="int64")
    parts = []
    for split, fs, fe, ls, le in PURCHASE_WINDOWS:
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
