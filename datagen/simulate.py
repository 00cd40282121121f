"""Day-by-day session simulation (vectorised with numpy).

:meth:`Simulator.month` yields one :class:`DayBatch` per day, sorted by time.  Only
population-sized state arrays and one day's events live in memory, so memory does not
grow with the number of days.

A day (every step is a handful of numpy operations over all sessions of the day):

1. visits: each user starts Poisson(activity x day factor) sessions; users whose deferred
   purchase is due today get an extra "return" session that starts at that product;
2. browsing: a session stays in one category; it starts at an anchor product (favourite
   brand, favourite category or a popular category) and views a small pool of products
   of that category, revisiting some of them (repeat views of the same product);
3. carts: Poisson(user cart rate) candidate views, thinned by product appeal (brand x
   price x favourite brand); a cart follows its view by a few seconds;
4. purchases: a cart is bought with the user's probability x product appeal, mostly in
   the same session, otherwise days later in a return session; plus a few direct
   purchases without a cart;
5. events past midnight are carried into the next day; a few rows are duplicated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from . import rhythm
from .catalog import Catalog, pick_in_category, pick_of_brand
from .population import Population
from .strings import format_prices, uuid4_strings

EVENT_TYPES = ("view", "cart", "purchase", "remove_from_cart")
VIEW, CART, PURCHASE, REMOVE = 0, 1, 2, 3
DAY = 86_400

MAX_VIEWS = 400
RETURN_VIEW_P = 0.45       # return sessions: geometric views, mean ~2.2
FAV_CATEGORY_SHARE = 0.7   # sessions that start in one of the user's favourite categories
POOL_NEW_SHARE = 0.55      # distinct products per additional view (rest are repeat views)
GAP_MEDIAN_S = 35.0        # median seconds between two views of a session
DEFER_SHARE = 0.3          # bought carts that are paid in a later session
DEFER_DAY_P = 0.3          # geometric delay (days) of a deferred purchase, mean ~3.3
BRAND_MATCH_CART = 1.5     # the user's favourite brand gets carted more ...
BRAND_MATCH_BUY = 1.3      # ... and bought more
REPEAT_CART_KEEP = 0.3     # repeated carts of one product in a session that are kept
REBUY_FACTOR = 0.15        # the product a user just bought is rarely bought again
REMOVE_SHARE = 0.3         # with --remove-from-cart: abandoned carts that get removed
DAILY_PRICE_CHANGE = 0.02  # products whose price moves a little on a given day
SALE_SHARE = 0.3           # products discounted on sale days
# Realised / closed-form expected events (the estimate ignores a few second-order
# effects); the per-day feedback in ``month`` corrects whatever is left.
EVENTS_CORRECTION = 1.003

Carry = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]


@dataclass
class DayBatch:
    """One day's events, sorted by time, plus the strings needed to format them."""

    date: dt.date
    sec: np.ndarray        # int64 seconds since midnight (non-decreasing)
    etype: np.ndarray      # uint8 index into EVENT_TYPES
    prod: np.ndarray       # int32 index into ``products``
    sess: np.ndarray       # int32 index into ``sessions``
    sessions: list[str]    # "user_id,user_session"
    products: list[str]    # "product_id,category_id,category_code,brand,price"

    @property
    def size(self) -> int:
        return int(self.sec.size)


@dataclass
class _Sessions:
    """The day's sessions (index s) and their views (flat, grouped by session)."""

    user: np.ndarray     # [S] user index; the last ``n_return`` are return sessions
    n_return: int
    anchor: np.ndarray   # [S] first product viewed
    k: np.ndarray        # [S] number of views
    v_off: np.ndarray    # [S] offset of the session's first view
    v_sess: np.ndarray   # [V] session of each view
    v_prod: np.ndarray   # [V] product of each view
    v_time: np.ndarray   # [V] second of day of each view (may pass midnight)

    def random_views(self, sess: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One uniformly chosen view index inside each given session."""
        return self.v_off[sess] + (rng.random(sess.size) * self.k[sess]).astype(np.int64)


def _segments(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner index per element, offset of each owner) for a ragged layout."""
    owner = np.repeat(np.arange(counts.size), counts)
    offsets = np.cumsum(counts) - counts
    return owner, offsets


def _first_of(sess: np.ndarray, sec: np.ndarray, prod: np.ndarray) -> np.ndarray:
    """Sorted indices of the first occurrence of each (session, second, product)."""
    key = (sess.astype(np.int64) * (4 * DAY) + sec) * 1_000_000 + prod
    return np.sort(np.unique(key, return_index=True)[1])


class Simulator:
    """Stateful month-by-month simulator over one catalogue and one population."""

    def __init__(self, cat: Catalog, pop: Population, rng: np.random.Generator,
                 duplicate_rate: float = 0.0005, remove_from_cart: bool = False) -> None:
        self.cat, self.pop, self.rng = cat, pop, rng
        self.duplicate_rate = duplicate_rate
        self.remove_from_cart = remove_from_cart
        self.day_index = 0                    # global day counter across months
        self.scale = 0.0                      # sessions per day per unit of activity
        self.cur_cents = cat.price_cents.copy()
        self.cat_cdf = np.cumsum(cat.cat_weight)
        # Upper bounds of the thinning acceptance ratios (see _carts / _direct_buys).
        self.amax_cart = float(cat.appeal_cart.max()) * BRAND_MATCH_CART
        self.amax_buy = float(cat.appeal_buy.max())
        self.seen = np.zeros(pop.size, dtype=bool)  # users active in the current month
        self._carry: Carry | None = None
        self._sale_disc = np.zeros(cat.n_products)

    # ------------------------------------------------------------------ calibration
    def expected_events_per_session(self) -> np.ndarray:
        """Closed-form expected events per session for each user (views + carts + buys)."""
        p = self.pop
        buys = p.cart_rate * p.buy_prob + p.direct_rate
        ret = p.cart_rate * p.buy_prob * DEFER_SHARE / RETURN_VIEW_P  # return-session views
        extra = p.cart_rate * REMOVE_SHARE * (1 - p.buy_prob) if self.remove_from_cart else 0.0
        return p.view_mean + p.cart_rate + buys + ret + extra

    def calibrate(self, factors: np.ndarray, target_events: float) -> float:
        """Session rate scale so the month's expected event count equals the target."""
        per_unit = float(np.sum(self.pop.activity * self.expected_events_per_session()))
        return target_events * EVENTS_CORRECTION / (per_unit * float(factors.sum()))

    # ------------------------------------------------------------------ month loop
    def month(self, year: int, month: int, target_events: float,
              days: int | None = None) -> Iterator[DayBatch]:
        """Yield the day batches of one month, or of its first `days` days
        (state carries over to the next call)."""
        rng = self.rng
        days = rhythm.month_days(year, month)[:days]
        factors = rhythm.day_factors(days, rng)
        base_scale = self.calibrate(factors, target_events)
        self.seen = np.zeros(self.pop.size, dtype=bool)
        on_sale = rng.random(self.cat.n_products) < SALE_SHARE
        self._sale_disc = np.where(on_sale, rng.uniform(0.05, 0.3, on_sale.size), 0.0)
        total_f, done = float(factors.sum()), 0
        for i, (date, factor) in enumerate(zip(days, factors)):
            if self.day_index and self.day_index % 7 == 0:
                self.pop.drift(rng)
            # Feedback: steer the remaining days towards the target so the month lands
            # within a fraction of a percent of it despite heavy-tailed randomness.
            planned_left = target_events * float(factors[i:].sum()) / total_f
            self.scale = base_scale * float(
                np.clip((target_events - done) / planned_left, 0.5, 2.0))
            batch = self._day(date, float(factor))
            done += batch.size
            self.day_index += 1
            yield batch

    # ------------------------------------------------------------------ one day
    def _day(self, date: dt.date, factor: float) -> DayBatch:
        rng = self.rng
        sale = rhythm.is_sale_day(date)
        ss = self._browse(date, *self._visits(factor))

        c_sess, c_prod, c_time, bought = self._carts_and_purchases(ss, sale)
        d_sess, d_prod, d_time = self._direct_buys(ss, sale)
        # return sessions pay their pending product after looking at it once more
        n_norm = ss.user.size - ss.n_return
        r_sess = np.arange(n_norm, ss.user.size)
        r_time = ss.v_time[ss.v_off[r_sess]] + rng.integers(20, 600, r_sess.size)

        b_sess = np.concatenate([bought[0], d_sess, r_sess])
        b_prod = np.concatenate([bought[1], d_prod, ss.anchor[n_norm:]])
        b_time = np.concatenate([bought[2], d_time, r_time])
        once = _first_of(b_sess, b_time, b_prod)  # no accidental identical purchase rows
        parts = [(VIEW, ss.v_sess, ss.v_prod, ss.v_time),
                 (CART, c_sess, c_prod, c_time),
                 (PURCHASE, b_sess[once], b_prod[once], b_time[once])]
        if self.remove_from_cart:
            rm = ~bought[3] & (rng.random(c_sess.size) < REMOVE_SHARE)
            parts.append((REMOVE, c_sess[rm], c_prod[rm],
                          c_time[rm] + rng.integers(10, 900, int(rm.sum()))))

        sessions = [f"{u},{s}" for u, s in zip(self.pop.user_id[ss.user].tolist(),
                                                uuid4_strings(rng, ss.user.size))]
        etype = np.concatenate([np.full(p[1].size, p[0], np.uint8) for p in parts])
        sess = np.concatenate([p[1] for p in parts]).astype(np.int32)
        prod = np.concatenate([p[2] for p in parts]).astype(np.int32)
        sec = np.concatenate([p[3] for p in parts]).astype(np.int64)
        return self._finish(date, sale, sec, etype, prod, sess, sessions)

    def _visits(self, factor: float) -> tuple[np.ndarray, np.ndarray]:
        """Session owners (normal sessions, then return sessions) and the due products."""
        pop, d = self.pop, self.day_index
        n_s = self.rng.poisson(pop.activity * (self.scale * factor))
        nz = np.flatnonzero(n_s)
        due = np.flatnonzero(pop.pending_day == d)
        ret_prod = pop.pending_prod[due].copy()
        pop.pending_day[due] = -1
        pop.pending_prod[due] = -1
        pop.last_bought[due] = ret_prod
        users = np.concatenate([np.repeat(nz, n_s[nz]), due])
        self.seen[users] = True
        return users, ret_prod

    def _browse(self, date: dt.date, users: np.ndarray, ret_prod: np.ndarray) -> _Sessions:
        """Session lengths, anchors, product pools, views and their times."""
        rng, pop, cat = self.rng, self.pop, self.cat
        n_sess, n_ret = users.size, ret_prod.size
        n_norm = n_sess - n_ret
        un = users[:n_norm]
        start = rhythm.session_starts(date, n_sess, rng)

        vm = pop.view_mean[users] * np.exp(rng.normal(-0.08, 0.4, n_sess))
        k = rng.geometric(1.0 / np.maximum(vm, 1.0))
        k[n_norm:] = rng.geometric(RETURN_VIEW_P, n_ret)
        k = np.minimum(k, MAX_VIEWS)

        # anchor: favourite category (60/30/10 over the three), else a popular category,
        # and for brand-loyal users sometimes a product of their favourite brand
        slot = np.searchsorted([0.6, 0.9], rng.random(n_norm), side="right")
        fav_c = pop.fav_cats[un, slot].astype(np.int64)
        glob_c = np.minimum(np.searchsorted(self.cat_cdf, rng.random(n_norm) * self.cat_cdf[-1]),
                            cat.n_categories - 1)
        cats = np.where(rng.random(n_norm) < FAV_CATEGORY_SHARE, fav_c, glob_c)
        anchor = np.empty(n_sess, dtype=np.int32)
        anchor[:n_norm] = pick_in_category(cat, cats, pop.price_q[un], rng)
        fb = pop.fav_brand[un]
        by_brand = np.flatnonzero((fb >= 0) & (rng.random(n_norm) < pop.brand_loyal[un]))
        if by_brand.size:
            anchor[by_brand] = pick_of_brand(cat, fb[by_brand], rng)
        anchor[n_norm:] = ret_prod

        # pool of distinct-ish products in the anchor's category; views revisit it
        m = np.minimum(k, 1 + rng.poisson(POOL_NEW_SHARE * (k - 1)))
        p_sess, p_off = _segments(m)
        pool = pick_in_category(cat, cat.prod_cat[anchor][p_sess], pop.price_q[users[p_sess]], rng)
        pool[p_off] = anchor
        v_sess, v_off = _segments(k)
        idx = (rng.random(v_sess.size) * m[v_sess]).astype(np.int64)
        idx[v_off] = 0
        v_prod = pool[p_off[v_sess] + idx]
        gaps = np.clip(np.rint(rng.lognormal(np.log(GAP_MEDIAN_S), 1.0, v_sess.size)), 1, 1800)
        gaps = gaps.astype(np.int64)
        gaps[v_off] = 0
        cs = np.cumsum(gaps)
        v_time = start[v_sess] + cs - cs[v_off][v_sess]
        return _Sessions(user=users, n_return=n_ret, anchor=anchor, k=k, v_off=v_off,
                         v_sess=v_sess, v_prod=v_prod, v_time=v_time)

    def _carts_and_purchases(self, ss: _Sessions, sale: bool) -> tuple[
            np.ndarray, np.ndarray, np.ndarray,
            tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """Cart events, and (session, product, time, bought-mask) of purchases now."""
        rng, pop, cat = self.rng, self.pop, self.cat
        fav_b = pop.fav_brand[ss.user]
        boost_c = rhythm.SALE_CART_BOOST if sale else 1.0
        lam = pop.cart_rate[ss.user] * boost_c * np.exp(rng.normal(-0.125, 0.5, ss.user.size))
        # Thinning: Poisson(lam x max appeal) candidates, each kept with appeal / max, gives
        # Poisson(lam x appeal of the viewed product) carts without a per-session loop.
        c_sess, _ = _segments(rng.poisson(lam * self.amax_cart))
        c_view = ss.random_views(c_sess, rng)
        c_prod = ss.v_prod[c_view]
        match = (cat.prod_brand[c_prod] == fav_b[c_sess]) & (fav_b[c_sess] >= 0)
        appeal = cat.appeal_cart[c_prod] * np.where(match, BRAND_MATCH_CART, 1.0)
        keep = np.flatnonzero(rng.random(c_sess.size) * self.amax_cart < appeal)
        c_sess, c_view, c_prod, match = c_sess[keep], c_view[keep], c_prod[keep], match[keep]
        c_time = ss.v_time[c_view] + rng.integers(2, 90, c_sess.size)
        # Most repeated carts of a product within a session are dropped (a few stay, like
        # a quantity change); identical (session, second, product) carts would be
        # accidental duplicate rows: duplicates are only added on purpose, in _finish.
        repeat = np.ones(c_sess.size, dtype=bool)
        repeat[_first_of(c_sess, np.zeros_like(c_time), c_prod)] = False
        kept = np.flatnonzero(~repeat | (rng.random(c_sess.size) < REPEAT_CART_KEEP))
        sel = kept[_first_of(c_sess[kept], c_time[kept], c_prod[kept])]
        c_sess, c_prod, c_time = c_sess[sel], c_prod[sel], c_time[sel]
        match, repeat = match[sel], repeat[sel]

        # purchase decision: once per (session, product), rarely the product just bought
        c_user = ss.user[c_sess]
        boost_b = rhythm.SALE_BUY_BOOST if sale else 1.0
        p_buy = (pop.buy_prob[c_user] * cat.appeal_buy[c_prod] * boost_b
                 * np.where(match, BRAND_MATCH_BUY, 1.0))
        p_buy[repeat] = 0.0
        p_buy[c_prod == pop.last_bought[c_user]] *= REBUY_FACTOR
        bought = rng.random(c_sess.size) < np.minimum(p_buy, 0.97)
        later = bought & (rng.random(c_sess.size) < DEFER_SHARE)
        self._defer(later, c_user, c_prod)
        pop.last_bought[c_user[bought]] = c_prod[bought]
        now = bought & ~later
        buy_time = c_time[now] + rng.integers(20, 900, int(now.sum()))
        return c_sess, c_prod, c_time, (c_sess[now], c_prod[now], buy_time, bought)

    def _defer(self, later: np.ndarray, c_user: np.ndarray, c_prod: np.ndarray) -> None:
        """Schedule deferred purchases (one pending per user); others are paid at once.

        ``later`` is updated in place: entries that cannot be deferred become False.
        """
        idx = np.flatnonzero(later)
        if not idx.size:
            return
        users = c_user[idx]
        first = np.zeros(idx.size, dtype=bool)
        first[np.unique(users, return_index=True)[1]] = True
        ok = first & (self.pop.pending_prod[users] < 0)
        later[idx[~ok]] = False
        go = idx[ok]
        self.pop.pending_prod[c_user[go]] = c_prod[go]
        self.pop.pending_day[c_user[go]] = self.day_index + self.rng.geometric(DEFER_DAY_P,
                                                                               go.size)

    def _direct_buys(self, ss: _Sessions, sale: bool) -> tuple[np.ndarray, np.ndarray,
                                                               np.ndarray]:
        """Purchases of a viewed product without a cart event (thinned by appeal)."""
        rng = self.rng
        lam = self.pop.direct_rate[ss.user] * (rhythm.SALE_BUY_BOOST if sale else 1.0)
        d_sess, _ = _segments(rng.poisson(lam * self.amax_buy))
        d_view = ss.random_views(d_sess, rng)
        d_prod = ss.v_prod[d_view]
        keep = rng.random(d_sess.size) * self.amax_buy < self.cat.appeal_buy[d_prod]
        d_sess, d_view, d_prod = d_sess[keep], d_view[keep], d_prod[keep]
        return d_sess, d_prod, ss.v_time[d_view] + rng.integers(15, 600, d_sess.size)

    def _finish(self, date: dt.date, sale: bool, sec: np.ndarray, etype: np.ndarray,
                prod: np.ndarray, sess: np.ndarray, sessions: list[str]) -> DayBatch:
        """Merge yesterday's spill, carry today's, sort by time, add duplicate rows."""
        if self._carry is not None:
            c_sec, c_type, c_prod, c_sess, c_strings = self._carry
            sec = np.concatenate([c_sec, sec])
            etype = np.concatenate([c_type, etype])
            prod = np.concatenate([c_prod, prod])
            sess = np.concatenate([c_sess + len(sessions), sess])
            sessions = sessions + c_strings
        spill = sec >= DAY
        self._carry = None
        if spill.any():
            sp = np.flatnonzero(spill & (sec < 2 * DAY))  # nothing realistic lasts 2 days
            uniq, inv = np.unique(sess[sp], return_inverse=True)
            self._carry = (sec[sp] - DAY, etype[sp], prod[sp], inv.astype(np.int32),
                           [sessions[i] for i in uniq.tolist()])
            stay = ~spill
            sec, etype, prod, sess = sec[stay], etype[stay], prod[stay], sess[stay]
        order = np.argsort(sec, kind="stable")  # ties: views before carts before buys
        if self.duplicate_rate > 0:
            # A duplicate sits right after its original; ~10% appear three times (the
            # real head has one row four times).
            dup = self.rng.random(order.size) < self.duplicate_rate / 1.1
            reps = np.ones(order.size, dtype=np.int64)
            reps[dup] = 2 + (self.rng.random(int(dup.sum())) < 0.1)
            order = np.repeat(order, reps)
        return DayBatch(date=date, sec=sec[order], etype=etype[order], prod=prod[order],
                        sess=sess[order], sessions=sessions,
                        products=self._prices_today(sale))

    def _prices_today(self, sale: bool) -> list[str]:
        """Per-product strings with today's price: stable, a few small moves, sale cuts."""
        rng, cat = self.rng, self.cat
        moved = np.flatnonzero(rng.random(cat.n_products) < DAILY_PRICE_CHANGE)
        self.cur_cents[moved] = np.rint(
            self.cur_cents[moved] * np.exp(rng.normal(0.0, 0.05, moved.size))).astype(np.int64)
        cents = self.cur_cents
        if sale:
            cents = np.rint(cents * (1.0 - self._sale_disc)).astype(np.int64)
        return [a + b for a, b in zip(cat.prefix, format_prices(cents))]
