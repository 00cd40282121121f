"""Realistic REES46 clickstream generator (numpy + standard library only).

Simulates people rather than rows: users with persistent tastes and a heavy-tailed
purchase propensity browse a seeded catalogue in sessions, cart, buy now or days later,
following daily/weekly cycles and a mid-month sale spike.  Output is one Kaggle-format
CSV per month (``2019-Nov.csv``).  See :func:`generate` and ``python -m datagen --help``.
"""

from .runner import GenerationResult, generate
from .writer import HEADER, month_filename

__all__ = ["GenerationResult", "generate", "HEADER", "month_filename"]
