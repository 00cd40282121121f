"""`python -m report [--out DIR] [dbt options, e.g. --target thrift]`: build the static report site."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from report.pages import PAGES
from report.queries import QUERIES
from report.site import write_site
from report.source import ReportDataError, run_queries

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def default_out() -> Path:
    return Path(os.environ.get("REES46_REPORT_DIR")
                or Path(os.environ.get("REES46_WAREHOUSE_DIR", PROJECT_ROOT / "warehouse")) / "report")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m report", description=__doc__)
    parser.add_argument("--out", type=Path, default=None, help="output folder (default warehouse/report)")
    # every other argument goes to dbt, e.g. --target thrift
    options, dbt_args = parser.parse_known_args(argv)
    out = (options.out or default_out()).resolve()
    try:
        frames = run_queries(QUERIES, PROJECT_ROOT, dbt_args)
    except ReportDataError as error:
        print(f"report: {error}", file=sys.stderr)
        return 1
    pages = [build(frames) for build in PAGES]
    index = write_site(pages, frames["time_range"], out, datetime.now(timezone.utc))
    print(f"report: {len(pages)} pages written; open file://{index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
