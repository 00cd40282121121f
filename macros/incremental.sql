{#-
  Incremental processing by event date.

  Every date-partitioned model stamps its rows with `loaded_at` (the start of
  the dbt invocation that rebuilt their date). A model rebuilds exactly the
  dates whose upstream rows carry a newer stamp than its own newest one: the
  classic high-water mark, kept per model, so a run that failed or was killed
  half-way is caught up by the next run without any bookkeeping. Whole dates
  are always rebuilt (insert_overwrite of their partitions), never patched.
-#}

{#- The stamp this invocation writes into `loaded_at`: dbt's run_started_at (UTC). -#}
{% macro load_stamp() -%}
  timestamp'{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}'
{%- endmacro %}

{#- The dates of `upstream` (a relation with `date_column` and `loaded_at`) that
    this incremental model has to rebuild, as 'YYYY-MM-DD' strings: those whose
    upstream rows are newer than this model's newest row. With `and_later`,
    every upstream date from the earliest of those on (for models whose rows
    depend on all earlier dates, such as running histories). Returns none when
    the model builds in full (first run or --full-refresh). -#}
{% macro dates_to_rebuild(upstream, date_column='event_date', and_later=false) %}
  {%- if not is_incremental() -%}
    {{ return(none) }}
  {%- endif -%}
  {%- if not execute -%}
    {{ return([]) }}
  {%- endif -%}
  {%- set newer -%}
    select {{ date_column }} from {{ upstream }}
    where loaded_at > (select coalesce(max(loaded_at), timestamp'1900-01-01') from {{ this }})
  {%- endset -%}
  {%- if and_later -%}
    {%- set query -%}
      select distinct cast({{ date_column }} as string) from {{ upstream }}
      where {{ date_column }} >= (select min({{ date_column }}) from ({{ newer }}) as newer)
    {%- endset -%}
  {%- else -%}
    {%- set query -%}
      select distinct cast({{ date_column }} as string) from ({{ newer }}) as newer
      where {{ date_column }} is not null
    {%- endset -%}
  {%- endif -%}
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
