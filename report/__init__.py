"""The visual report: a static site of charts built from the marts.

`python -m report` (or `make report`, the last step of `make demo`) reads the
marts through the active dbt target (local session or the Spark server), so
the figures are the ones analysts get in SQL, and writes an index page and one
page per report under `$REES46_REPORT_DIR` (default `warehouse/report`). Pages
open from the file system with no network: plotly's JavaScript is written once
to `assets/` and every page references it.

Modules: queries (what each report reads, one SQL per figure), source (runs
them through dbt), charts (plotly figures; a note instead of a broken chart
when data is missing), pages (one builder per report, with a plain-language
reading computed from the data), site (HTML files).
"""
