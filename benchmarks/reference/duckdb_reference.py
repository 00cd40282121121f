"""Reference job in DuckDB: the project's staging, daily funnel, RFM and user
z-scores as plain SQL, one COPY ... TO Parquet per step.

    python benchmarks/reference/duckdb_reference.py --raw DIR --out DIR [--threads 2] [--memory-limit 12GB]
        [--seeds DIR] [--analysis-date YYYY-MM-DD]

Timed with time.perf_counter, each step ending in a Parquet write under --out (so
no work is left undone):

- staging: read every *.csv / *.csv.gz line, validate and type it, write the
  invalid lines to quarantine/ and the de-duplicated events to staging/
  (partitioned by event_date);
- daily_funnel, rfm, user_zscores: each reads staging/ back, assigns sessions
  (cheap: only events without a session id need a window) and writes its table;
  rfm scores F by the thresholds of the project's seeds/rfm_frequency_scores.csv
  and names segments from seeds/rfm_segment_map.csv (read at run time);
- total: the four steps back to back.

Not timed: opening the in-memory database, and reading the outputs back for the
"figures". The last line of stdout is one JSON object; see README.md beside this
file for the definitions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import time
from pathlib import Path

import duckdb

FEATURES = ["views", "carts", "remove_from_carts", "purchases", "sessions", "active_days",
            "product_days", "avg_view_price", "revenue"]
OUTPUTS = ["staging", "quarantine", "daily_funnel", "rfm", "user_zscores", "_duckdb"]
NEVER_IN_DATA = "\x01"  # the CSV delimiter, so that each line is read whole as one column
# the project's seeds: F thresholds and the (R, F) segment grid, read at run time
DEFAULT_SEEDS = Path(__file__).resolve().parents[2] / "seeds"
FREQUENCY_SEED = "rfm_frequency_scores.csv"
SEGMENT_SEED = "rfm_segment_map.csv"


def raw_files(raw_dir: str | Path) -> list[str]:
    """Every *.csv and *.csv.gz file of the folder, sorted."""
    folder = Path(raw_dir)
    files = sorted({*folder.glob("*.csv"), *folder.glob("*.csv.gz")})
    if not files:
        raise SystemExit(f"no *.csv or *.csv.gz files in {folder}")
    return [str(path.resolve()) for path in files]


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def connect(out: Path, threads: int, memory_limit: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    con.execute(f"SET threads = {int(threads)}")
    con.execute(f"SET memory_limit = {sql_text(memory_limit)}")
    con.execute(f"SET temp_directory = {sql_text(str(out / '_duckdb' / 'tmp'))}")
    # rows need not keep file order: lets large COPYs stream instead of buffering
    con.execute("SET preserve_insertion_order = false")
    return con


# --------------------------------------------------------------------------- staging

def classified_lines_sql(files: list[str]) -> str:
    """Every data line (header lines dropped) with its typed fields and `is_valid`."""
    file_list = "[" + ", ".join(sql_text(f) for f in files) + "]"
    return f"""
    with raw_lines as (
        -- one VARCHAR per physical line: no quoting, a delimiter that never occurs;
        -- a blank line reads as NULL
        select line
        from read_csv({file_list}, columns = {{'line': 'VARCHAR'}}, header = false,
                      delim = '{NEVER_IN_DATA}', quote = '', escape = '', new_line = '\\r\\n',
                      auto_detect = false, strict_mode = false)
    ),

    data_lines as (
        select coalesce(line, '') as line, string_split(coalesce(line, ''), ',') as parts
        from raw_lines
        where not starts_with(lower(trim(coalesce(line, ''))), 'event_time,event_type,')
    ),

    fields as (
        select
            line,
            len(parts) as field_count,
            trim(parts[1]) as event_time_text,
            lower(trim(parts[2])) as event_type,
            trim(parts[3]) as product_id_text,
            trim(parts[4]) as category_id_text,
            nullif(trim(parts[5]), '') as category_code,
            nullif(trim(parts[6]), '') as brand,
            trim(parts[7]) as price_text,
            trim(parts[8]) as user_id_text,
            nullif(trim(parts[9]), '') as user_session
        from data_lines
    ),

    typed as (
        select
            *,
            case when regexp_full_match(event_time_text, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}} [0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}} UTC')
                 then try_strptime(event_time_text, '%Y-%m-%d %H:%M:%S UTC') end as event_at,
            try_cast(product_id_text as bigint) as product_id,
            try_cast(category_id_text as bigint) as category_id,
            try_cast(price_text as decimal(12, 2)) as price,
            try_cast(user_id_text as bigint) as user_id
        from fields
    )

    select
        *,
        coalesce(
            trim(line) <> ''
            and field_count = 9
            and event_at is not null
            and event_type in ('view', 'cart', 'purchase', 'remove_from_cart')
            and regexp_full_match(product_id_text, '[0-9]+') and product_id is not null
            and regexp_full_match(category_id_text, '[0-9]+') and category_id is not null
            and regexp_full_match(price_text, '-?[0-9]+(\\.[0-9]+)?') and price is not null
            and price >= 0
            and regexp_full_match(user_id_text, '[0-9]+') and user_id is not null,
            false
        ) as is_valid
    from typed
    """


def stage(con: duckdb.DuckDBPyConnection, files: list[str], out: Path) -> None:
    # the raw text is parsed once, into a temporary table both outputs read
    con.execute(f"create or replace temp table lines as {classified_lines_sql(files)}")
    (out / "quarantine").mkdir()
    con.execute(f"""
        copy (select line from lines where not is_valid)
        to {sql_text(str(out / 'quarantine' / 'data.parquet'))} (format parquet)
    """)
    # exact duplicates (all nine normalised fields) collapse into one row
    con.execute(f"""
        copy (
            select
                event_at, event_type, product_id, category_id, category_code, brand,
                price, user_id, user_session,
                count(*) as source_row_count,
                cast(event_at as date) as event_date
            from lines
            where is_valid
            group by all
        )
        to {sql_text(str(out / 'staging'))} (format parquet, partition_by (event_date))
    """)
    con.execute("drop table lines")


def staged_sql(out: Path) -> str:
    path = sql_text(str(out / "staging" / "*" / "*.parquet"))
    return f"read_parquet({path}, hive_partitioning = true, hive_types = {{'event_date': DATE}})"


def sessionised_sql(out: Path) -> str:
    """Staged events plus `session_key`. Sessions are date-local: (user_id, event_date,
    user_session); events without a session id are split per user and day at gaps
    longer than 30 minutes."""
    staged = staged_sql(out)
    return f"""
    with without_id as (
        select
            *,
            lag(event_at) over (partition by user_id, event_date order by event_at) as previous_at
        from {staged}
        where user_session is null
    ),

    numbered as (
        select
            * exclude (previous_at),
            sum(case when previous_at is null then 1
                     when event_at - previous_at > interval 30 minute then 1
                     else 0 end)
                over (partition by user_id, event_date order by event_at
                      rows between unbounded preceding and current row) as session_number
        from without_id
    )

    select *, concat_ws('|', user_id, event_date, 'id', user_session) as session_key
    from {staged}
    where user_session is not null
    union all by name
    select * exclude (session_number),
           concat_ws('|', user_id, event_date, 'gap', session_number) as session_key
    from numbered
    """


# ------------------------------------------------------------------ daily funnel

def daily_funnel(con: duckdb.DuckDBPyConnection, out: Path) -> None:
    (out / "daily_funnel").mkdir()
    con.execute(f"""
        copy (
            with per_day as (
                select
                    event_date,
                    count(*) filter (where event_type = 'view') as views,
                    count(*) filter (where event_type = 'cart') as carts,
                    count(*) filter (where event_type = 'purchase') as purchases,
                    count(*) filter (where event_type = 'remove_from_cart') as remove_from_carts,
                    count(distinct user_id) as unique_users,
                    count(distinct session_key) as sessions,
                    coalesce(sum(price) filter (where event_type = 'purchase'), 0) as revenue
                from ({sessionised_sql(out)})
                group by event_date
            )
            select
                *,
                case when views > 0 then carts / views end as view_to_cart_rate,
                case when carts > 0 then purchases / carts end as cart_to_purchase_rate,
                case when views > 0 then purchases / views end as view_to_purchase_rate
            from per_day
            order by event_date
        )
        to {sql_text(str(out / 'daily_funnel' / 'data.parquet'))} (format parquet)
    """)


# ------------------------------------------------------------------------- RFM

def seed_sql(path: Path, columns: dict[str, str]) -> str:
    """A seed CSV as dbt loads it: header row, columns by name, cast to the seed's types
    (an empty cell is null)."""
    casts = ", ".join(f"cast(nullif({name}, '') as {kind}) as {name}" for name, kind in columns.items())
    return f"""(select {casts}
        from read_csv({sql_text(str(path))}, header = true, all_varchar = true, auto_detect = true))"""


def rfm(con: duckdb.DuckDBPyConnection, out: Path, seeds: Path, analysis_date: str | None = None) -> None:
    if analysis_date:  # the project's var rfm_analysis_date
        analysis = f"select cast({sql_text(analysis_date)} as date) as analysis_date"
    else:  # else the day after the last event date
        analysis = f"select max(event_date) + 1 as analysis_date from {staged_sql(out)}"
    thresholds = seed_sql(seeds / FREQUENCY_SEED, {"f_score": "integer", "min_frequency": "integer"})
    segment_map = seed_sql(seeds / SEGMENT_SEED,
                           {"r_score": "integer", "f_score": "integer", "rfm_segment": "varchar"})
    (out / "rfm").mkdir()
    con.execute(f"""
        copy (
            with purchasers as (
                select
                    user_id,
                    max(event_at) as last_purchase_at,
                    count(distinct session_key) as frequency,
                    sum(price) as monetary
                from ({sessionised_sql(out)})
                where event_type = 'purchase'
                group by user_id
            ),

            analysis as ({analysis}),

            measured as (
                select
                    purchasers.*,
                    analysis.analysis_date,
                    date_diff('day', cast(last_purchase_at as date), analysis.analysis_date) as recency_days
                from purchasers
                cross join analysis
            ),

            ranked as (
                select
                    *,
                    count(*) over () as rfm_users,
                    rank() over (order by recency_days desc) as recency_rank,
                    rank() over (order by monetary) as monetary_rank
                from measured
            ),

            -- F is not a quintile: the thresholds of rfm_frequency_scores.csv, each
            -- score running from its min_frequency up to the next score's minimum
            frequency_bands as (
                select
                    f_score,
                    min_frequency,
                    lead(min_frequency) over (order by min_frequency) as max_frequency
                from {thresholds}
            ),

            scored as (
                select
                    ranked.*,
                    -- 1 + floor(5 * (rank - 1) / n), in integers
                    cast(1 + (5 * (recency_rank - 1)) // rfm_users as integer) as r_score,
                    frequency_bands.f_score,
                    cast(1 + (5 * (monetary_rank - 1)) // rfm_users as integer) as m_score
                from ranked
                left join frequency_bands
                    on ranked.frequency >= frequency_bands.min_frequency
                    and (frequency_bands.max_frequency is null
                         or ranked.frequency < frequency_bands.max_frequency)
            )

            select
                scored.user_id, scored.last_purchase_at, scored.analysis_date, scored.recency_days,
                scored.frequency, scored.monetary,
                scored.r_score, scored.f_score, scored.m_score,
                -- null when a score is null, as Spark's concat
                scored.r_score::varchar || scored.f_score::varchar || scored.m_score::varchar as rfm_score,
                scored.r_score + scored.f_score + scored.m_score as rfm_total_score,
                segment_map.rfm_segment
            from scored
            left join {segment_map} as segment_map
                on scored.r_score = segment_map.r_score
                and scored.f_score = segment_map.f_score
        )
        to {sql_text(str(out / 'rfm' / 'data.parquet'))} (format parquet)
    """)


# ----------------------------------------------------------------- user z-scores

def user_zscores(con: duckdb.DuckDBPyConnection, out: Path) -> None:
    logs = ",\n                ".join(f"ln(1 + cast({f} as double)) as {f}_log" for f in FEATURES)
    stats = ",\n                ".join(f"avg({f}_log) as {f}_mean, stddev_samp({f}_log) as {f}_sd"
                                       for f in FEATURES)
    zscores = ",\n                ".join(
        f"case when {f}_sd > 0 then ({f}_log - {f}_mean) / {f}_sd else 0 end as z_{f}" for f in FEATURES)
    (out / "user_zscores").mkdir()
    con.execute(f"""
        copy (
            -- one row per user and day first: sessions and product_days are per-day counts
            with user_days as (
                select
                    user_id,
                    event_date,
                    count(*) filter (where event_type = 'view') as views,
                    count(*) filter (where event_type = 'cart') as carts,
                    count(*) filter (where event_type = 'remove_from_cart') as remove_from_carts,
                    count(*) filter (where event_type = 'purchase') as purchases,
                    count(distinct session_key) as sessions,
                    count(distinct product_id) filter (where event_type <> 'purchase') as products,
                    sum(price) filter (where event_type = 'view') as view_price_sum,
                    sum(price) filter (where event_type = 'purchase') as revenue
                from ({sessionised_sql(out)})
                group by user_id, event_date
            ),

            users as (
                select
                    user_id,
                    cast(sum(views) as bigint) as views,
                    cast(sum(carts) as bigint) as carts,
                    cast(sum(remove_from_carts) as bigint) as remove_from_carts,
                    cast(sum(purchases) as bigint) as purchases,
                    cast(sum(sessions) as bigint) as sessions,
                    count(*) as active_days,
                    cast(sum(products) as bigint) as product_days,
                    case when sum(views) > 0 then cast(sum(view_price_sum) as double) / sum(views)
                         else 0 end as avg_view_price,
                    coalesce(sum(revenue), 0) as revenue
                from user_days
                group by user_id
            ),

            logged as (
                select
                    *,
                {logs}
                from users
            ),

            stats as (
                select
                {stats}
                from logged
            )

            select
                user_id, {", ".join(FEATURES)},
                {zscores}
            from logged
            cross join stats
        )
        to {sql_text(str(out / 'user_zscores' / 'data.parquet'))} (format parquet)
    """)


# --------------------------------------------------------------------- figures

def money(value) -> str:
    return f"{value or 0:.2f}"


def counts(con: duckdb.DuckDBPyConnection, table: str, column: str) -> dict[str, int]:
    """Rows per value of `column`, keyed by the value as text ("null" for null), sorted."""
    rows = con.execute(f"select {column}, count(*) from {table} group by {column}").fetchall()
    return dict(sorted(("null" if value is None else str(value), int(n)) for value, n in rows))


def figures(con: duckdb.DuckDBPyConnection, out: Path) -> dict:
    """Check figures, read back from the written outputs (not timed)."""
    def parquet(name: str) -> str:
        return f"read_parquet({sql_text(str(out / name / '*.parquet'))})"

    staged_events, source_rows = con.execute(
        f"select count(*), sum(source_row_count) from {staged_sql(out)}").fetchone()
    quarantined = con.execute(f"select count(*) from {parquet('quarantine')}").fetchone()[0]
    views, carts, purchases, removes, revenue, sessions, days = con.execute(f"""
        select sum(views), sum(carts), sum(purchases), sum(remove_from_carts), sum(revenue),
               sum(sessions), count(*)
        from {parquet('daily_funnel')}""").fetchone()
    rfm_users, frequency, monetary, recency, r_sum, f_sum, m_sum = con.execute(f"""
        select count(*), sum(frequency), sum(monetary), sum(recency_days),
               sum(r_score), sum(f_score), sum(m_score)
        from {parquet('rfm')}""").fetchone()
    z = con.execute(f"""
        select count(*), {", ".join(f"sum(z_{f})" for f in FEATURES)},
               {", ".join(f"sum(abs(z_{f}))" for f in FEATURES)}
        from {parquet('user_zscores')}""").fetchone()
    n = len(FEATURES)
    return {
        "staged_events": int(staged_events),
        "source_rows": int(source_rows or 0),
        "quarantined_lines": int(quarantined),
        "views": int(views or 0),
        "carts": int(carts or 0),
        "purchases": int(purchases or 0),
        "remove_from_carts": int(removes or 0),
        "revenue": money(revenue),
        "days": int(days),
        "sessions": int(sessions or 0),
        "rfm_users": int(rfm_users),
        "rfm_frequency_sum": int(frequency or 0),
        "rfm_monetary_sum": money(monetary),
        "rfm_recency_sum": int(recency or 0),
        "rfm_score_counts": counts(con, parquet("rfm"), "rfm_score"),
        "rfm_r_score_counts": counts(con, parquet("rfm"), "r_score"),
        "rfm_f_score_counts": counts(con, parquet("rfm"), "f_score"),
        "rfm_m_score_counts": counts(con, parquet("rfm"), "m_score"),
        "rfm_segment_counts": counts(con, parquet("rfm"), "rfm_segment"),
        "rfm_r_score_sum": int(r_sum or 0),
        "rfm_f_score_sum": int(f_sum or 0),
        "rfm_m_score_sum": int(m_sum or 0),
        "zscore_users": int(z[0]),
        # sum of z over all users is 0 by construction (a sanity check only);
        # the sums of |z| are the discriminating figures
        "zscore_sums": {f: round(z[1 + i] or 0.0, 6) + 0.0 for i, f in enumerate(FEATURES)},
        "zscore_abs_sums": {f: round(z[1 + n + i] or 0.0, 6) + 0.0 for i, f in enumerate(FEATURES)},
    }


# ------------------------------------------------------------------------ main

def checked_seeds(seeds_dir: str | Path | None) -> Path:
    """The seeds folder (default: the project's), which must hold both RFM seed files."""
    seeds = Path(seeds_dir or DEFAULT_SEEDS).resolve()
    for name in (FREQUENCY_SEED, SEGMENT_SEED):
        if not (seeds / name).is_file():
            raise SystemExit(f"seed file not found: {seeds / name}")
    return seeds


def run(raw_dir: str | Path, out_dir: str | Path, threads: int = 2, *, memory_limit: str = "12GB",
        seeds_dir: str | Path | None = None, analysis_date: str | None = None) -> dict:
    """Run the four steps and return the result dict (also printed by the CLI)."""
    files = raw_files(raw_dir)
    seeds = checked_seeds(seeds_dir)
    if analysis_date is not None:
        analysis_date = dt.date.fromisoformat(analysis_date).isoformat()  # YYYY-MM-DD or ValueError
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        shutil.rmtree(out / name, ignore_errors=True)
    (out / "_duckdb" / "tmp").mkdir(parents=True)
    con = connect(out, threads, memory_limit)
    try:
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        for name, step in (("staging", lambda: stage(con, files, out)),
                           ("daily_funnel", lambda: daily_funnel(con, out)),
                           ("rfm", lambda: rfm(con, out, seeds, analysis_date)),
                           ("user_zscores", lambda: user_zscores(con, out))):
            step_started = time.perf_counter()
            step()
            seconds[name] = round(time.perf_counter() - step_started, 3)
        seconds["total"] = round(time.perf_counter() - started, 3)
        return {"engine": "duckdb", "engine_version": duckdb.__version__, "threads": threads,
                "seconds": seconds, "figures": figures(con, out)}
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw", required=True, help="folder of raw *.csv / *.csv.gz files")
    parser.add_argument("--out", required=True, help="folder for the Parquet outputs (replaced)")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (default 2)")
    parser.add_argument("--memory-limit", default="12GB", help="DuckDB memory_limit (default 12GB)")
    parser.add_argument("--seeds", default=str(DEFAULT_SEEDS),
                        help=f"folder with {FREQUENCY_SEED} and {SEGMENT_SEED} (default: the project's seeds/)")
    parser.add_argument("--analysis-date", default=None,
                        help="RFM analysis date YYYY-MM-DD, as the var rfm_analysis_date "
                             "(default: the day after the last event date)")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.raw, args.out, args.threads, memory_limit=args.memory_limit,
                         seeds_dir=args.seeds, analysis_date=args.analysis_date)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
