"""Seeded product catalogue: category ids/codes, brands, products, base prices, appeal.

The catalogue is built once per run from the static tables in ``taxonomy.py`` and scaled
to the requested volume (~1 product per 350 events, as 190 k products / 67.5 M events in
the real November file).  Products are stored grouped by category so that the simulator
can sample "a product of category c" with two index look-ups (vectorised).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import taxonomy
from .brands import assign_brands

EVENTS_PER_PRODUCT = 350
MIN_PRODUCTS = 400
# Share of all category weight held by category ids without a code (~1/3 of events).
UNCODED_SHARE = 0.335
ZERO_PRICE_SHARE = 0.001


@dataclass
class Catalog:
    """Immutable product catalogue; all per-product arrays are indexed by product index."""

    cat_id: np.ndarray        # int64 [C]  19-digit category ids
    cat_code: list[str]       # [C] dotted code or "" (empty for ~half of the ids)
    cat_top: list[str]        # [C] level-1 of the code, or the hidden domain if uncoded
    cat_weight: np.ndarray    # float64 [C] popularity, sums to 1
    cat_start: np.ndarray     # int64 [C] first product index of the category
    cat_n: np.ndarray         # int64 [C] number of products in the category
    by_price: np.ndarray      # int32 [P] product indices, grouped by category, cheap first
    by_pop: np.ndarray        # int32 [P] product indices, grouped by category, popular first
    prod_id: np.ndarray       # int64 [P]
    prod_cat: np.ndarray      # int32 [P]
    prod_brand: np.ndarray    # int32 [P] brand index or -1 (empty brand)
    brand_names: list[str]    # [B]
    price_cents: np.ndarray   # int64 [P] base price in cents (0 for a few products)
    appeal_cart: np.ndarray   # float32 [P] relative propensity to be carted (mean ~1)
    appeal_buy: np.ndarray    # float32 [P] relative propensity to be bought (mean ~1)
    brand_start: np.ndarray   # int64 [B] offsets into brand_prods
    brand_n: np.ndarray       # int64 [B]
    brand_prods: np.ndarray   # int32 products grouped by brand, popular first
    prefix: list[str]         # [P] "product_id,category_id,category_code,brand,"

    @property
    def n_products(self) -> int:
        return int(self.prod_id.size)

    @property
    def n_categories(self) -> int:
        return int(self.cat_id.size)


def n_products_for(events_per_month: float) -> int:
    """Catalogue size for a monthly event volume (~1 product per 350 events)."""
    return max(MIN_PRODUCTS, int(round(events_per_month / EVENTS_PER_PRODUCT)))


def n_categories_for(n_products: int) -> int:
    """Several hundred category ids at full scale (~660 for 190 k products), >=100 small."""
    return int(np.clip(round(25.0 * n_products ** 0.27), 100, 700))


def _category_ids(rng: np.random.Generator, coded: np.ndarray) -> np.ndarray:
    """19-digit ids: most in the old 2053013552... block, newer uncoded ones above it."""
    n = coded.size
    old = 2053013552000000000 + rng.integers(0, 14_000_000_000, n, dtype=np.int64)
    new = rng.integers(2055100000000000000, 2175000000000000000, n, dtype=np.int64)
    use_new = np.where(coded, rng.random(n) < 0.05, rng.random(n) < 0.45)
    ids = np.where(use_new, new, old)
    # Collisions are astronomically unlikely, but ids must be unique per category.
    while np.unique(ids).size != n:
        ids = ids + rng.integers(1, 1000, n, dtype=np.int64)
    return ids


def _price_bump(price: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Bell-shaped factor in log-price: mid-priced items convert best (non-monotonic)."""
    z = (np.log1p(price) - np.log(centre)) / width
    return np.exp(-0.5 * z * z)


@dataclass
class _Categories:
    codes: list[str]        # dotted code or ""
    tops: list[str]         # level-1 of the code, or hidden domain
    weight: np.ndarray      # popularity, sums to 1
    median: np.ndarray      # median price (USD)
    sd: np.ndarray          # log-sd of price
    ids: np.ndarray         # 19-digit ids


def _categories(n_cat: int, rng: np.random.Generator) -> _Categories:
    """The biggest real codes (up to half of the ids) plus uncoded ids (~1/3 of weight)."""
    coded_tab = sorted(taxonomy.CODED_CATEGORIES, key=lambda r: -r[1])
    n_coded = min(len(coded_tab), n_cat // 2)
    coded_tab = coded_tab[:n_coded]
    n_unc = n_cat - n_coded
    codes = [r[0] for r in coded_tab] + [""] * n_unc
    tops = [r[0].split(".")[0] for r in coded_tab]
    med = [r[2] for r in coded_tab]
    sd = [r[3] for r in coded_tab]
    # Uncoded ids: a hidden domain each (drawn by domain weight), Zipf-like popularity.
    dom_w = np.array([d[1] for d in taxonomy.UNCODED_DOMAINS])
    for d in rng.choice(len(dom_w), size=n_unc, p=dom_w / dom_w.sum()):
        name, _, m, s = taxonomy.UNCODED_DOMAINS[d]
        tops.append(name)
        med.append(m * float(np.exp(rng.normal(0.0, 0.5))))
        sd.append(s)
    w_coded = np.array([r[1] for r in coded_tab], dtype=np.float64)
    w_unc = rng.permutation(1.0 / np.arange(1, n_unc + 1) ** 0.85)
    weight = np.concatenate([w_coded / w_coded.sum() * (1.0 - UNCODED_SHARE),
                             w_unc / w_unc.sum() * UNCODED_SHARE])
    ids = _category_ids(rng, np.arange(n_cat) < n_coded)
    return _Categories(codes=codes, tops=tops, weight=weight, median=np.asarray(med),
                       sd=np.asarray(sd), ids=ids)


def _products_per_category(weight: np.ndarray, n_products: int,
                           rng: np.random.Generator) -> np.ndarray:
    """~weight**0.75 products per category (popular ones have longer tails), >= 1 each."""
    share = weight ** 0.75
    share = share / share.sum()
    cat_n = np.maximum(1, np.floor(share * n_products)).astype(np.int64)
    short = n_products - int(cat_n.sum())
    if short > 0:
        np.add.at(cat_n, rng.choice(weight.size, size=short, p=share), 1)
    elif short < 0:  # only possible when many categories were lifted to 1 product
        for c in np.argsort(-cat_n)[: -short]:
            cat_n[c] -= 1
    return cat_n


def _product_ids(cat_n: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each category owns a block of 100 000 ids (1004237-like, 7-8 digits)."""
    blocks = rng.choice(np.arange(10, 1000), size=cat_n.size, replace=False)
    return np.concatenate([
        blocks[c] * 100_000 + np.sort(rng.choice(100_000, size=int(n), replace=False))
        for c, n in enumerate(cat_n.tolist())]).astype(np.int64)


def _appeal(pb: np.ndarray, quality: np.ndarray, price_cents: np.ndarray,
            view_w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Relative cart / purchase propensity: brand x price bump x product quality.

    Cart appeal is flatter in price than purchase appeal, so expensive items get carted
    but bought less (the README's non-monotonic price relation).
    """
    price_usd = price_cents / 100.0
    cart = pb ** 0.6 * quality * (0.6 + 0.5 * _price_bump(price_usd, 150.0, 1.3))
    buy = pb * quality ** 0.25 * (0.2 + _price_bump(price_usd, 140.0, 0.85))
    # Clip the extremes so the simulator's thinning step stays efficient.
    cart = np.minimum(cart, 4.0 * np.median(cart))
    buy = np.minimum(buy, 4.0 * np.median(buy))
    zero = price_cents == 0
    cart[zero] *= 0.3
    buy[zero] *= 0.05
    # Normalise to a view-weighted mean of 1 so user-level rates keep their meaning.
    return cart / np.average(cart, weights=view_w), buy / np.average(buy, weights=view_w)


def _grouped_starts(counts: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)


def build_catalog(n_products: int, rng: np.random.Generator) -> Catalog:
    """Build a catalogue of ``n_products`` products with a seeded generator."""
    cats = _categories(n_categories_for(n_products), rng)
    cat_n = _products_per_category(cats.weight, n_products, rng)
    cat_start = _grouped_starts(cat_n)
    n_products = int(cat_n.sum())
    prod_cat = np.repeat(np.arange(cat_n.size, dtype=np.int32), cat_n)
    prod_id = _product_ids(cat_n, rng)

    # Prices: log-normal around the category median, in integer cents.
    price = cats.median[prod_cat] * np.exp(rng.normal(0.0, 1.0, n_products) * cats.sd[prod_cat])
    price_cents = np.clip(np.round(price * 100), 50, 3_000_000).astype(np.int64)
    # Product quality drives popularity and appeal; drawn here because the 0.00 prices
    # below go to low-quality products of big categories (rarely viewed ones).
    quality = np.exp(rng.normal(0.0, 0.3, n_products))
    # A few 0.00 prices (real head: 5 of 4,999 rows); at least two products so that even
    # small samples show them.
    n_zero = max(2, int(round(ZERO_PRICE_SHARE * n_products)))
    low = np.flatnonzero((quality < np.quantile(quality, 0.3)) & (cat_n[prod_cat] >= 20))
    if low.size < n_zero:
        low = np.arange(n_products)
    price_cents[rng.choice(low, size=n_zero, replace=False)] = 0

    prod_brand, names, brand_f = assign_brands(cats.codes, cats.tops, cat_n, rng)
    pb = np.where(prod_brand >= 0, brand_f[np.maximum(prod_brand, 0)], 0.7)
    appeal_cart, appeal_buy = _appeal(pb, quality, price_cents,
                                      cats.weight[prod_cat] / cat_n[prod_cat])

    # Popularity order inside a category: quality and brand strength, plus noise.
    pop_score = np.log(quality) + 0.5 * np.log(pb) + rng.gumbel(0.0, 0.6, n_products)
    by_pop = np.lexsort((-pop_score, prod_cat)).astype(np.int32)
    by_price = np.lexsort((price_cents, prod_cat)).astype(np.int32)
    # Products of each brand, most popular first (for brand-loyal sessions).
    has_b = np.flatnonzero(prod_brand >= 0)
    brand_prods = has_b[np.lexsort((-pop_score[has_b], prod_brand[has_b]))].astype(np.int32)
    brand_n = np.bincount(prod_brand[has_b], minlength=len(names)).astype(np.int64)

    bnames = [names[b] if b >= 0 else "" for b in prod_brand.tolist()]
    cid = cats.ids.tolist()
    prefix = [f"{p},{cid[c]},{cats.codes[c]},{b},"
              for p, c, b in zip(prod_id.tolist(), prod_cat.tolist(), bnames)]
    return Catalog(
        cat_id=cats.ids, cat_code=cats.codes, cat_top=cats.tops, cat_weight=cats.weight,
        cat_start=cat_start, cat_n=cat_n, by_price=by_price, by_pop=by_pop,
        prod_id=prod_id, prod_cat=prod_cat, prod_brand=prod_brand, brand_names=names,
        price_cents=price_cents, appeal_cart=appeal_cart.astype(np.float32),
        appeal_buy=appeal_buy.astype(np.float32), brand_start=_grouped_starts(brand_n),
        brand_n=brand_n, brand_prods=brand_prods, prefix=prefix,
    )


def pick_in_category(cat: Catalog, cats: np.ndarray, price_q: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    """Vectorised: one product per entry of ``cats``.

    Half of the picks follow popularity (head-heavy: index ~ n * u**2.5), half follow the
    user's preferred price quantile (+ noise) inside the category, so a user's average
    viewed price reflects a persistent taste.
    """
    n = cats.size
    start = cat.cat_start[cats]
    cnt = cat.cat_n[cats]
    u = rng.random(n)
    pop_pos = (cnt * u ** 2.5).astype(np.int64)
    # Noise on the logit scale: clipping would pile mass on the cheapest/dearest product.
    logit = np.log(price_q / (1.0 - price_q)) + rng.normal(0.0, 0.7, n)
    q = 1.0 / (1.0 + np.exp(-logit))
    price_pos = (cnt * q).astype(np.int64)
    by_pop = cat.by_pop[start + np.minimum(pop_pos, cnt - 1)]
    by_price = cat.by_price[start + np.minimum(price_pos, cnt - 1)]
    return np.where(rng.random(n) < 0.5, by_pop, by_price)


def pick_of_brand(cat: Catalog, brands: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Vectorised: one (popularity-weighted) product of each brand in ``brands``."""
    cnt = cat.brand_n[brands]
    pos = (cnt * rng.random(brands.size) ** 2).astype(np.int64)
    return cat.brand_prods[cat.brand_start[brands] + np.minimum(pos, cnt - 1)]
