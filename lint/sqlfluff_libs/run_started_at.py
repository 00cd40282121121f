"""Stand-in for dbt's `run_started_at` when sqlfluff renders the models.

sqlfluff's Jinja templater exposes each module of its `library_path` under the
module's name, so `run_started_at.strftime(...)` in macros/incremental.sql
renders here to a fixed stamp (dbt passes the invocation's start time).
"""


def strftime(_format: str) -> str:
    return "2019-12-01 00:00:00.000000"
