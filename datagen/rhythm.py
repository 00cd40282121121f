"""Calendar rhythm: daily (UTC hour) and weekly cycles, mid-month sale spike.

The store is Russian (UTC+3), so the busy local afternoon shows up as 10:00-16:00 UTC
and the night (00:00-05:00 UTC) is quiet.  Weekends start later in the day and carry a
little less traffic.  Days 15-17 of every month are sale days (the real November file has
a strong spike around 15-17 Nov) with more visits and a higher willingness to buy.
"""

from __future__ import annotations

import calendar
import datetime as dt

import numpy as np

# Relative sessions started per UTC hour (index = hour).
HOURS_WEEKDAY = np.array([
    0.26, 0.17, 0.15, 0.20, 0.36, 0.58, 0.80, 0.98, 1.12, 1.25, 1.40, 1.50,
    1.56, 1.60, 1.62, 1.58, 1.48, 1.36, 1.22, 1.06, 0.86, 0.64, 0.46, 0.34,
])
HOURS_WEEKEND = np.array([
    0.32, 0.22, 0.17, 0.18, 0.26, 0.40, 0.58, 0.78, 0.98, 1.18, 1.38, 1.52,
    1.60, 1.62, 1.60, 1.54, 1.44, 1.34, 1.22, 1.08, 0.90, 0.70, 0.52, 0.40,
])
# Monday .. Sunday.
WEEKDAY_FACTOR = np.array([1.02, 1.04, 1.03, 1.0, 0.96, 0.84, 0.88])
SALE_DAYS = {15: 1.75, 16: 2.15, 17: 1.8}
SALE_CART_BOOST = 1.1
SALE_BUY_BOOST = 1.15


def month_days(year: int, month: int) -> list[dt.date]:
    """All dates of a month."""
    n = calendar.monthrange(year, month)[1]
    return [dt.date(year, month, d) for d in range(1, n + 1)]


def day_factors(days: list[dt.date], rng: np.random.Generator) -> np.ndarray:
    """Relative traffic of each day: weekday x sale spike x a little day-to-day noise."""
    f = np.array([WEEKDAY_FACTOR[d.weekday()] * SALE_DAYS.get(d.day, 1.0) for d in days])
    return f * np.exp(rng.normal(0.0, 0.03, len(days)))


def is_sale_day(day: dt.date) -> bool:
    return day.day in SALE_DAYS


def hour_cdf(day: dt.date) -> np.ndarray:
    """Cumulative hour distribution for session starts on ``day``."""
    w = HOURS_WEEKEND if day.weekday() >= 5 else HOURS_WEEKDAY
    c = np.cumsum(w)
    return c / c[-1]


def session_starts(day: dt.date, n: int, rng: np.random.Generator) -> np.ndarray:
    """Start second-of-day of ``n`` sessions following the day's hourly profile."""
    hours = np.searchsorted(hour_cdf(day), rng.random(n), side="right")
    return np.minimum(hours, 23) * 3600 + rng.integers(0, 3600, n)
