"""Brand assignment: real brand names first, then a long tail of synthetic ones.

Each category gets a brand pool whose size grows sub-linearly with its number of
products: first the real brands known for the leaf code (``taxonomy.LEAF_BRANDS``) or its
top level, then synthetic names shared with sibling categories of the same domain.  A
product's brand is drawn Zipf-like from the pool (so samsung / apple / xiaomi dominate
smartphones) or left empty.  Each brand also gets a conversion factor: the README profile
says brand strongly influences purchase probability.
"""

from __future__ import annotations

import numpy as np

from . import taxonomy

# Pool size of a category ~ BRAND_POOL_A * n_products**BRAND_POOL_EXP, tuned so that the
# full-size catalogue (~190 k products) ends up with ~4 k distinct brands.
BRAND_POOL_A = 0.8
BRAND_POOL_EXP = 0.6
BRAND_REUSE = 0.6  # share of a pool's synthetic brands shared with sibling categories
# Share of products without a brand: coded categories rarely, uncoded ones more often
# (real head rows: ~12% of events have an empty brand).
EMPTY_BRAND_CODED = 0.08
EMPTY_BRAND_UNCODED = 0.25


def synthetic_brand(rng: np.random.Generator, taken: set[str]) -> str:
    """A new lower-case brand name like ``korvex`` or ``stalia-pro`` not in ``taken``."""
    start, end = taxonomy.SYLLABLES_START, taxonomy.SYLLABLES_END
    while True:
        parts = [start[rng.integers(len(start))]]
        if rng.random() < 0.5:
            parts.append(start[rng.integers(len(start))])
        parts.append(end[rng.integers(len(end))])
        name = "".join(parts)
        if rng.random() < 0.06:
            name += ("-pro", "-plus", "-home", "-line")[rng.integers(4)]
        if name not in taken:
            taken.add(name)
            return name


class _Registry:
    """Brand names in first-seen order, remembering which ones are real names."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.index: dict[str, int] = {}
        self.named: list[bool] = []

    def add(self, name: str, named: bool) -> int:
        if name not in self.index:
            self.index[name] = len(self.names)
            self.names.append(name)
            self.named.append(named)
        return self.index[name]


def assign_brands(codes: list[str], tops: list[str], cat_n: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Brand of every product (products grouped by category, ``cat_n`` per category).

    Returns (brand index per product or -1, brand names, conversion factor per brand).
    """
    reg = _Registry()
    taken: set[str] = set()
    for lst in (*taxonomy.LEAF_BRANDS.values(), *taxonomy.TOP_BRANDS.values()):
        taken.update(lst)
    domain_synth: dict[str, list[int]] = {}
    out = []
    for code, top, n_c in zip(codes, tops, cat_n.tolist()):
        named = taxonomy.LEAF_BRANDS.get(code) or taxonomy.TOP_BRANDS[top]
        k = int(np.clip(round(BRAND_POOL_A * n_c ** BRAND_POOL_EXP), 1, n_c))
        pool = [reg.add(b, True) for b in named[:k]]
        need = k - len(pool)
        if need > 0:
            synth = domain_synth.setdefault(top, [])
            reuse = min(len(synth), int(need * BRAND_REUSE))
            if reuse:
                pool.extend(rng.choice(synth, size=reuse, replace=False).tolist())
            for _ in range(need - reuse):
                b = reg.add(synthetic_brand(rng, taken), False)
                synth.append(b)
                pool.append(b)
        w = 1.0 / np.arange(1, len(pool) + 1) ** 1.05
        brands = np.asarray(pool, dtype=np.int32)[rng.choice(len(pool), size=n_c,
                                                              p=w / w.sum())]
        p_empty = EMPTY_BRAND_CODED if code else EMPTY_BRAND_UNCODED
        brands[rng.random(n_c) < p_empty] = -1
        out.append(brands)

    # Conversion factors: real names a bit above synthetic ones, the big ones clearly.
    n_brands = len(reg.names)
    brand_f = np.where(np.asarray(reg.named, dtype=bool),
                       np.exp(rng.normal(0.0, 0.35, n_brands)),
                       np.exp(rng.normal(-0.2, 0.5, n_brands)))
    for name, f in taxonomy.STRONG_BRANDS.items():
        if name in reg.index:
            brand_f[reg.index[name]] = f
    return np.concatenate(out).astype(np.int32), reg.names, brand_f
