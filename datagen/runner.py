"""Orchestration: catalogue + population + simulator -> one CSV file per month."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import population as popmod
from .catalog import build_catalog, n_products_for
from .simulate import Simulator
from .writer import MonthWriter

# Real November: 67.5 M events from ~3.7 M users -> ~18.2 events per active user.
EVENTS_PER_ACTIVE_USER = 18.2
# Share of the simulated population that shows up at least once in a month (measured);
# the population is sized so that active users ~ events / 18.2.
ACTIVE_SHARE = 0.675


@dataclass
class GenerationResult:
    """What a run produced (also used for the CLI summary line)."""

    files: list[Path] = field(default_factory=list)
    rows: int = 0
    rows_per_file: list[int] = field(default_factory=list)
    active_users: list[int] = field(default_factory=list)  # per month
    n_products: int = 0
    n_categories: int = 0
    n_brands: int = 0
    seconds: float = 0.0


def generate(out_dir: str | Path, *, events: int | None = None, users: int | None = None,
             seed: int = 42, months: list[tuple[int, int]] | None = None,
             compressed: bool = False, duplicate_rate: float = 0.0005,
             remove_from_cart: bool = False, daily_files: bool = False,
             days: int | None = None) -> GenerationResult:
    """Generate REES46-like monthly CSV files into ``out_dir``.

    ``events`` is the target number of rows per month (default 1 000 000); alternatively
    ``users`` fixes the initial population size and the volume follows from it.  The same
    arguments always give byte-identical files.  With ``daily_files`` each day goes to a
    file of its own (``2019-Nov-01.csv``, ...): the same rows, split the way a daily
    export would deliver them.  With ``days`` only the first that many days of each month
    are generated (``events`` is then the target for those days): a short period for
    tests whose cost grows with the number of dates.
    """
    t0 = time.perf_counter()
    if events is not None and users is not None:
        raise ValueError("give either events or users, not both")
    months = months or [(2019, 11)]
    if users is not None:
        n_users = int(users)
        target = n_users * ACTIVE_SHARE * EVENTS_PER_ACTIVE_USER
    else:
        target = float(events if events is not None else 1_000_000)
        # (at least 50 users so tiny targets still spread over a few people)
        n_users = max(50, int(round(target / EVENTS_PER_ACTIVE_USER / ACTIVE_SHARE)))
    if target < 1:
        raise ValueError("the event target must be positive")
    if days is not None and days < 1:
        raise ValueError("days must be positive")

    # Independent streams: changing the simulation never reshuffles the catalogue.
    ss_cat, ss_pop, ss_sim = np.random.SeedSequence(seed).spawn(3)
    rng_cat = np.random.Generator(np.random.PCG64(ss_cat))
    rng_pop = np.random.Generator(np.random.PCG64(ss_pop))
    rng_sim = np.random.Generator(np.random.PCG64(ss_sim))

    cat = build_catalog(n_products_for(target), rng_cat)
    pop = popmod.initial_population(n_users, cat, rng_pop)
    sim = Simulator(cat, pop, rng_sim, duplicate_rate=duplicate_rate,
                    remove_from_cart=remove_from_cart)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = GenerationResult(n_products=cat.n_products, n_categories=cat.n_categories,
                              n_brands=len(cat.brand_names))
    for i, (year, month) in enumerate(months):
        if i:
            popmod.next_month(pop, cat, rng_pop)
        writer = None if daily_files else MonthWriter(out, year, month, compressed)
        try:
            for batch in sim.month(year, month, target, days):
                if daily_files:
                    writer = MonthWriter(out, year, month, compressed, day=batch.date.day)
                writer.write(batch)
                if daily_files:
                    _close(writer, result)
                    writer = None
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        if not daily_files:
            _close(writer, result)
        result.active_users.append(int(sim.seen.sum()))
    result.seconds = time.perf_counter() - t0
    return result


def _close(writer: MonthWriter, result: GenerationResult) -> None:
    result.files.append(writer.close())
    result.rows_per_file.append(writer.rows)
    result.rows += writer.rows
