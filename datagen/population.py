"""Users with persistent tastes and a heavy-tailed purchase propensity.

Each user is a handful of numbers kept in population-sized numpy arrays (no per-user
Python objects), so memory is bounded by the population, not by the number of events:

* ``z``: latent purchase intent, N(0, 1), drifting slowly week to week.  It raises the
  cart rate, the chance that a cart is bought and the rate of direct purchases together,
  which is what makes "users who cart a lot buy more" and RFM/ML signals real.
* ``activity``: visit rate, log-normal (most users come once or twice a month, a few
  almost daily) times exp(0.3 z), so keen buyers also visit more often.
* ``price_q``: preferred price quantile inside a category.  A high value means a high
  average viewed price, and it lowers the purchase probability (README profile).
* ``fav_cats`` / ``fav_brand`` / ``brand_loyal``: what the user browses.
* ``group``: 1 = "churn warning" (views a lot, never carts), 2 = "high interest / high
  risk" (carts a lot, never buys); 0 = everybody else.
* ``pending_*``: one carted product the user decided to buy in a later session;
  ``last_bought`` keeps the same product from being bought over and over.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .catalog import Catalog, pick_in_category

FIRST_USER_ID = 512_000_000
ID_SPAN = 40_000_000  # ids of the first month's population spread over 512M..552M

GROUP_REGULAR, GROUP_CHURN, GROUP_RISK = 0, 1, 2
SHARE_CHURN = 0.07
SHARE_RISK = 0.04

# Scale of the per-session cart rate, per-cart purchase logit and direct-purchase rate;
# tuned so the event mix lands on views ~93.5% / carts ~4.9% / purchases ~1.6%.
CART_RATE0 = 0.0745
BUY_LOGIT0 = -2.11
DIRECT_RATE0 = 0.0045
VIEWS_MEDIAN = 3.3


@dataclass
class Population:
    """Per-user state arrays (index = internal user index)."""

    user_id: np.ndarray       # int64, 9 digits, increasing with registration
    z: np.ndarray             # float32 latent intent
    e_cart: np.ndarray        # float32 idiosyncratic cart taste
    e_buy: np.ndarray         # float32 idiosyncratic buying taste
    group: np.ndarray         # int8 GROUP_*
    activity_base: np.ndarray # float32 intent-free part of the session rate (heavy-tailed)
    activity: np.ndarray      # float32 derived: relative session rate
    view_mean: np.ndarray     # float32 mean views per session
    price_q: np.ndarray       # float32 preferred price quantile in (0, 1)
    fav_cats: np.ndarray      # int16 [n, 3] favourite category indices
    fav_brand: np.ndarray     # int32 brand index or -1
    brand_loyal: np.ndarray   # float32 probability a session starts from fav_brand
    pending_prod: np.ndarray  # int32 product to buy later or -1
    pending_day: np.ndarray   # int32 global day index of that purchase or -1
    last_bought: np.ndarray   # int32 last product bought or -1 (rarely bought twice)
    cart_rate: np.ndarray     # float32 derived: expected carts per session (before appeal)
    buy_prob: np.ndarray      # float32 derived: P(a cart is bought)
    direct_rate: np.ndarray   # float32 derived: expected direct purchases per session

    @property
    def size(self) -> int:
        return int(self.user_id.size)

    def refresh(self) -> None:
        """Recompute the behavioural rates from the latent traits (after drift)."""
        z, price_z = self.z, (self.price_q - 0.5) / 0.22
        cart = CART_RATE0 * np.exp(1.1 * z + 0.5 * self.e_cart)
        logit = BUY_LOGIT0 + 1.0 * z + 0.6 * self.e_buy - 0.7 * price_z
        buy = 1.0 / (1.0 + np.exp(-logit))
        direct = DIRECT_RATE0 * np.exp(0.9 * z + 0.3 * self.e_buy - 0.3 * price_z)
        churn = self.group == GROUP_CHURN
        risk = self.group == GROUP_RISK
        cart = np.where(churn, 0.0, np.where(risk, np.maximum(cart, 0.25) * 2.5, cart))
        self.cart_rate = np.minimum(cart, 4.0).astype(np.float32)
        self.buy_prob = np.where(risk | churn, 0.0, buy).astype(np.float32)
        self.direct_rate = np.where(risk | churn, 0.0, direct).astype(np.float32)
        # Keen buyers also visit more often; deriving this here (not once at creation)
        # keeps the link stationary while z drifts, so the mix does not decay over months.
        self.activity = (self.activity_base * np.exp(0.3 * z)).astype(np.float32)

    def drift(self, rng: np.random.Generator, rho: float = 0.92) -> None:
        """Weekly AR(1) drift of intent: persistent, but not perfectly predictable."""
        noise = rng.standard_normal(self.size).astype(np.float32)
        self.z = (rho * self.z + np.sqrt(1.0 - rho * rho) * noise).astype(np.float32)
        self.refresh()

    def extend(self, other: "Population") -> None:
        """Append ``other``'s users (new registrations in a later month)."""
        for f in fields(self):
            setattr(self, f.name, np.concatenate([getattr(self, f.name), getattr(other, f.name)]))


def new_users(n: int, cat: Catalog, rng: np.random.Generator, first_id: int,
              id_gap: float) -> Population:
    """Draw ``n`` new users; ids start above ``first_id`` with mean gap ``id_gap``."""
    gaps = rng.integers(1, max(2, int(2 * id_gap)), n, dtype=np.int64)
    user_id = first_id + np.cumsum(gaps)
    z = rng.standard_normal(n).astype(np.float32)
    u = rng.random(n)
    group = np.where(u < SHARE_CHURN, GROUP_CHURN,
                     np.where(u < SHARE_CHURN + SHARE_RISK, GROUP_RISK, GROUP_REGULAR))
    group = group.astype(np.int8)
    # Heavy-tailed visit rate (x exp(0.3 z) in refresh); churn-warning users browse more
    # often and longer.
    activity = np.exp(rng.normal(0.0, 1.2, n))
    activity = np.where(group == GROUP_CHURN, activity * 1.5, activity).astype(np.float32)
    view_mean = VIEWS_MEDIAN * np.exp(rng.normal(0.0, 0.5, n))
    view_mean = np.where(group == GROUP_CHURN, view_mean * 1.8, view_mean)
    view_mean = np.maximum(view_mean, 1.0).astype(np.float32)
    price_q = rng.beta(2.2, 2.2, n).astype(np.float32)
    cw = np.cumsum(cat.cat_weight)
    fav = np.minimum(np.searchsorted(cw, rng.random((n, 3)) * cw[-1]), cw.size - 1)
    first_pick = pick_in_category(cat, fav[:, 0], price_q, rng)
    fav_brand = cat.prod_brand[first_pick].astype(np.int32)
    pop = Population(
        user_id=user_id, z=z,
        e_cart=rng.standard_normal(n).astype(np.float32),
        e_buy=rng.standard_normal(n).astype(np.float32),
        group=group, activity_base=activity, activity=activity, view_mean=view_mean,
        price_q=price_q,
        fav_cats=fav.astype(np.int16), fav_brand=fav_brand,
        brand_loyal=rng.beta(1.2, 5.0, n).astype(np.float32),
        pending_prod=np.full(n, -1, np.int32), pending_day=np.full(n, -1, np.int32),
        last_bought=np.full(n, -1, np.int32),
        cart_rate=np.empty(0, np.float32), buy_prob=np.empty(0, np.float32),
        direct_rate=np.empty(0, np.float32),
    )
    pop.refresh()
    return pop


def initial_population(n: int, cat: Catalog, rng: np.random.Generator) -> Population:
    """The first month's population: ids spread over 512M..552M like real 5xxxxxxxx ids."""
    return new_users(n, cat, rng, FIRST_USER_ID, ID_SPAN / max(n, 1))


def next_month(pop: Population, cat: Catalog, rng: np.random.Generator,
               growth: float = 0.2, dormancy: float = 0.3) -> None:
    """Month turnover: some users go (mostly) quiet, new users register with higher ids."""
    quiet = rng.random(pop.size) < dormancy
    pop.activity_base = np.where(quiet, pop.activity_base * 0.05,
                                 pop.activity_base).astype(np.float32)
    pop.refresh()
    n_new = int(round(growth * pop.size))
    if n_new:
        gap = ID_SPAN / max(pop.size, 1)
        pop.extend(new_users(n_new, cat, rng, int(pop.user_id.max()), gap))
