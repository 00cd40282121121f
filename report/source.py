"""Run the report's queries through dbt, on the active target.

The project is parsed once; every query then goes through `dbt show --inline`
with that manifest, so `ref()` resolves to the target's schemas and the
connection is dbt's own (the in-process session, or the Spark server with
`--target thrift`).
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)


class ReportDataError(RuntimeError):
    """A query of the report could not run (the message says which and why)."""


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value


def to_frame(table: Any) -> pd.DataFrame:
    """An agate table (what dbt returns) as a pandas frame, numbers as floats."""
    rows = [[_plain(value) for value in row] for row in table.rows]
    return pd.DataFrame(rows, columns=list(table.column_names))


def run_queries(queries: Mapping[str, str], project_dir: Path, dbt_args: list[str]) -> dict[str, pd.DataFrame]:
    """name -> result frame of every query, through one dbt parse and one
    `dbt show` per query."""
    from dbt.cli.main import dbtRunner

    common = ["--project-dir", str(project_dir), *dbt_args]
    parsed = dbtRunner().invoke(["parse", "--quiet", *common])
    if not parsed.success:
        raise ReportDataError(f"dbt could not parse the project: {parsed.exception}")
    runner = dbtRunner(manifest=parsed.result)
    frames = {}
    for name, sql in queries.items():
        # `dbt show` prints its result even when quiet; the report only needs the table
        with contextlib.redirect_stdout(io.StringIO()):
            shown = runner.invoke(["show", "--quiet", "--inline", sql, "--limit", "-1", *common])
        if not shown.success:
            results = getattr(shown.result, "results", None) or []
            detail = shown.exception or next((r.message for r in results if r.message), "see the dbt log")
            raise ReportDataError(
                f"report query {name!r} failed ({' '.join(str(detail).split())[:500]}); "
                "has `dbt build` run on this target?"
            )
        frames[name] = to_frame(shown.result.results[0].agate_table)
        log.debug("%s: %d rows", name, len(frames[name]))
    return frames
