{#-
  Incremental processing by event date.

  Every date-partitioned model stamps its rows with `loaded_at` (the start of
  the dbt invocation that rebuilt their date). A model rebuilds exactly the
  dates whose upstream rows carry a newer stamp than its own rows of the same
  date, and the dates it lacks: a high-water mark kept per model and per date,
  so a run that failed or was killed half-way (even between two partitions of
  one `insert overwrite`) is caught up by the next run without any
  bookkeeping. Whole dates are always rebuilt (insert_overwrite of their
  partitions), never patched.
-#}

{#- The stamp this invocation writes into `loaded_at`: dbt's run_started_at (UTC). -#}
{% macro load_stamp() -%}
  timestamp'{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}'
{%- endmacro %}

{#- The dates of `upstream` (a relation with `date_column` and `loaded_at`) that
    this incremental model has to rebuild, as 'YYYY-MM-DD' strings, compared
    date by date: a date is rebuilt when its upstream rows carry a newer stamp
    than the model's rows of that date, or when the model has no row of it
    though the upstream has rows that yield one (`yields_rows`, a predicate on
    the upstream's rows: a date of quarantined lines only yields no event). So
    a build that committed some dates and not others (killed between two
    partitions of an `insert overwrite`) is completed by the next one. With
    `and_later`, every upstream date from the earliest of those on (for models
    whose rows depend on all earlier dates, such as running histories).
    Returns none when the model builds in full (first run or --full-refresh). -#}
{% macro dates_to_rebuild(upstream, date_column='event_date', and_later=false, yields_rows='true') %}
  {%- if not is_incremental() -%}
    {{ return(none) }}
  {%- endif -%}
  {%- if not execute -%}
    {{ return([]) }}
  {%- endif -%}
  {%- set partition_by = config.get('partition_by') -%}
  {%- set own_date = partition_by if partition_by is string else partition_by[0] -%}
  {%- set query -%}
    with upstream_dates as (
        select
            {{ date_column }} as load_date,
            max(loaded_at) as loaded_at,
            bool_or({{ yields_rows }}) as yields_rows
        from {{ upstream }}
        where {{ date_column }} is not null
        group by {{ date_column }}
    ),

    built_dates as (
        select
            {{ own_date }} as load_date,
            max(loaded_at) as loaded_at
        from {{ this }}
        group by {{ own_date }}
    ),

    stale_dates as (
        select upstream_dates.load_date
        from upstream_dates
        left join built_dates on upstream_dates.load_date = built_dates.load_date
        where upstream_dates.loaded_at > built_dates.loaded_at
            or (built_dates.load_date is null and upstream_dates.yields_rows)
    )

    select cast(load_date as string)
    {%- if and_later %}
    from upstream_dates
    where load_date >= (select min(load_date) from stale_dates)
    {%- else %}
    from stale_dates
    {%- endif %}
  {%- endset -%}
  {%- set dates = run_query(query).columns[0].values() | sort -%}
  {%- do log(this.identifier ~ ": rebuilding " ~ (dates | length) ~ " date(s)"
      ~ (": " ~ dates[0] ~ " .. " ~ dates[-1] if dates else ""), info=true) -%}
  {{ return(dates | list) }}
{% endmacro %}

{#- A predicate keeping the rows of `dates` (from dates_to_rebuild): true when
    the model builds in full, false when there is nothing to rebuild. -#}
{% macro in_dates(column, dates) -%}
  {%- if dates is none -%}
    true
  {%- elif dates | length == 0 -%}
    false
  {%- else -%}
    {{ column }} in ({% for d in dates %}date'{{ d }}'{{ ", " if not loop.last }}{% endfor %})
  {%- endif -%}
{%- endmacro %}

{#- The dates whose rows in `relation` the latest load wrote (those carrying
    its newest `loaded_at`), for data tests that check only what a run
    changed. Returns none with the var `full_data_checks: true` (check every
    date); the query reads only `loaded_at`, constant within each file. -#}
{% macro latest_load_dates(relation, date_column) %}
  {%- if var('full_data_checks') -%}
    {{ return(none) }}
  {%- endif -%}
  {%- if not execute -%}
    {{ return([]) }}
  {%- endif -%}
  {%- set query -%}
    select distinct cast({{ date_column }} as string) from {{ relation }}
    where loaded_at = (select max(loaded_at) from {{ relation }})
  {%- endset -%}
  {{ return(run_query(query).columns[0].values() | sort | list) }}
{% endmacro %}

{#- Data tests on the big date-partitioned models check only the rows the
    latest load wrote: their YAML says `where: "loaded_at = __latest_load__"`,
    and this override of dbt's get_where_subquery turns the token into the
    model's newest stamp, as a literal so that Parquet statistics skip every
    older file (timestamps are written as TIMESTAMP_MICROS for this, see the
    profile). With the var `full_data_checks: true` they check every row. -#}
{% macro default__get_where_subquery(relation) -%}
  {%- set where = config.get('where', '') -%}
  {%- if where and '__latest_load__' in where -%}
    {%- if var('full_data_checks') -%}
      {%- set where = 'true' -%}
    {%- elif execute -%}
      {%- set latest = run_query('select cast(max(loaded_at) as string) from ' ~ relation).columns[0].values()[0] -%}
      {%- set latest_literal = "timestamp'" ~ latest ~ "'" if latest is not none else 'null' -%}
      {%- set where = where | replace('__latest_load__', latest_literal) -%}
    {%- endif -%}
  {%- endif -%}
  {%- if where -%}
    {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') as dbt_subquery') -%}
  {%- else -%}
    {%- do return(relation) -%}
  {%- endif -%}
{%- endmacro %}

{#- The model's own table as its previous build left it, for a table model
    that starts from it instead of recomputing every row (fct_cart_outcomes):
    none on a full refresh, on the first build, or when that table predates
    the column `column` (built by an earlier definition). Unit tests override
    it to none. -#}
{% macro previous_build(column='loaded_at') %}
  {%- if not execute or flags.FULL_REFRESH -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set found = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
  {%- if found is none or column not in (adapter.get_columns_in_relation(found) | map(attribute='name') | list) -%}
    {{ return(none) }}
  {%- endif -%}
  {{ return(found) }}
{% endmacro %}
