"""Command line: ``rees46-generate`` / ``python -m datagen``."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from .runner import generate

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str) -> tuple[int, int]:
    """``2019-11`` -> (2019, 11)."""
    m = _MONTH_RE.match(text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def parse_months(text: str) -> list[tuple[int, int]]:
    """``2019-10,2019-11`` -> consecutive months (the population continues across them)."""
    months = [parse_month(t) for t in text.split(",") if t.strip()]
    if not months:
        raise argparse.ArgumentTypeError("no month given")
    for (y0, m0), (y1, m1) in zip(months, months[1:]):
        if (y1 * 12 + m1) - (y0 * 12 + m0) != 1:
            raise argparse.ArgumentTypeError("--months must list consecutive months in order")
    return months


def _positive_int(text: str) -> int:
    value = int(text.replace("_", ""))
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 0.5:
        raise argparse.ArgumentTypeError("must be in [0, 0.5)")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rees46-generate",
        description="Generate realistic REES46-format e-commerce clickstream CSV files "
                    "(one file per month, Kaggle layout).")
    p.add_argument("--out", required=True, type=Path, help="output directory")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--events", type=_positive_int,
                      help="target rows per month (default 1000000; lands within ~2%%)")
    size.add_argument("--users", type=_positive_int,
                      help="initial population size instead of an event target")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--month", type=parse_month, help="one month YYYY-MM (default 2019-11)")
    when.add_argument("--months", type=parse_months,
                      help="consecutive months, e.g. 2019-10,2019-11 (same population)")
    p.add_argument("--gzip", action="store_true", help="write YYYY-Mon.csv.gz")
    p.add_argument("--daily-files", action="store_true",
                   help="one file per day (YYYY-Mon-DD.csv) instead of one per month")
    p.add_argument("--duplicate-rate", type=_rate, default=0.0005,
                   help="share of exact duplicate rows (default 0.0005)")
    p.add_argument("--remove-from-cart", action="store_true",
                   help="also emit remove_from_cart events (the 2019 files have none)")
    p.add_argument("--if-empty", action="store_true",
                   help="do nothing if OUT already holds *.csv or *.csv.gz files")
    return p


def existing_outputs(out: Path) -> list[Path]:
    """CSV files (plain or gzip) already in ``out``."""
    if not out.is_dir():
        return []
    return sorted([*out.glob("*.csv"), *out.glob("*.csv.gz")])


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.if_empty:
        found = existing_outputs(args.out)
        if found:
            print(f"rees46-generate: {args.out} already holds {len(found)} CSV file(s) "
                  f"({found[0].name}, ...); nothing to do (--if-empty)")
            return 0
    months = args.months or [args.month or (2019, 11)]
    res = generate(args.out, events=args.events, users=args.users, seed=args.seed,
                   months=months, compressed=args.gzip, duplicate_rate=args.duplicate_rate,
                   remove_from_cart=args.remove_from_cart, daily_files=args.daily_files)
    names = ", ".join(f.name for f in res.files)
    if len(res.files) > 3:
        names = f"{res.files[0].name} ... {res.files[-1].name}"
    users = "+".join(f"{u:,}" for u in res.active_users)
    print(f"rees46-generate: wrote {len(res.files)} file(s) [{names}] to {args.out}: "
          f"{res.rows:,} rows, {users} users, {res.n_products:,} products, "
          f"{res.n_brands:,} brands, {res.n_categories:,} categories in "
          f"{res.seconds:.1f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
