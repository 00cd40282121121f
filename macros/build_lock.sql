{#-
  One build at a time on a set of schemas. Two `dbt build` runs on the same
  schemas (two people, or a scheduled build and a manual one, through the same
  Spark server) would drop each other's build tables, source tables and swap
  leftovers. So the first on-run-start hook after the vars check claims a lock
  before anything is touched: the database `<schema>__build_lock`, whose
  creation the metastore grants to one caller only, with the holder (start
  time, host, pid, command, invocation) in its comment. A second build stops
  with one line naming the holder; the on-run-end hook drops the lock.

  A build that died without its on-run-end hook (killed, or a failed
  on-run-start hook) leaves the lock: the next build on the same host takes it
  over when that pid no longer runs (or is its own process: dbt invocations
  in one Python process run one after another); on another host it cannot
  know, and says how to remove the lock.
-#}
{% macro build_lock_name() %}
  {{ return(target.schema ~ '__build_lock') }}
{% endmacro %}

{#- The holder recorded in the lock ({started, host, pid, command, invocation}),
    or none when nobody holds it. -#}
{% macro build_lock_holder() %}
  {%- set lock = build_lock_name() -%}
  {%- if run_query("show databases like '" ~ lock ~ "'").rows | length == 0 -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set holder = {} -%}
  {%- for row in run_query("describe database " ~ lock).rows if row[0] == 'Comment' -%}
    {%- for item in (row[1] or '').split(';') if '=' in item -%}
      {%- do holder.update({item.split('=', 1)[0]: item.split('=', 1)[1]}) -%}
    {%- endfor -%}
  {%- endfor -%}
  {{ return(holder) }}
{% endmacro %}

{% macro claim_build_lock() %}
  {%- if not execute -%}
    {{ return('') }}
  {%- endif -%}
  {%- set lock = build_lock_name() -%}
  {%- set me = adapter.this_process() -%}
  {%- set holder = build_lock_holder() -%}
  {%- if holder is not none -%}
    {%- set running = adapter.process_is_running(holder.get('host', ''), holder.get('pid', '0')) -%}
    {%- if running is sameas false or (holder.get('host') == me.host and holder.get('pid') == me.pid) -%}
      {%- do log("build lock: taking over " ~ lock ~ " from a build that is no longer running (started "
                 ~ holder.get('started') ~ ", pid " ~ holder.get('pid') ~ ")", info=true) -%}
      {%- do run_query("drop database if exists " ~ lock) -%}
    {%- else -%}
      {{ exceptions.raise_compiler_error(
          "Another dbt " ~ holder.get('command') ~ " is running on the schemas " ~ target.schema ~ "_*: started "
          ~ holder.get('started') ~ " on " ~ holder.get('host') ~ " (pid " ~ holder.get('pid') ~ "). Wait for it"
          ~ " to finish; if it is no longer running, drop its lock: `drop database " ~ lock ~ "`.") }}
    {%- endif -%}
  {%- endif -%}
  {%- set comment = 'started=' ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S UTC') ~ ';host=' ~ me.host
      ~ ';pid=' ~ me.pid ~ ';command=' ~ flags.WHICH ~ ';invocation=' ~ invocation_id -%}
  {%- do run_query("create database " ~ lock ~ " comment '" ~ comment ~ "'") -%}
  {{ return('') }}
{% endmacro %}

{#- on-run-end: drop the lock if this invocation holds it. -#}
{% macro release_build_lock() %}
  {%- if execute -%}
    {%- set holder = build_lock_holder() -%}
    {%- if holder is not none and holder.get('invocation') == invocation_id -%}
      {%- do run_query("drop database if exists " ~ build_lock_name()) -%}
    {%- endif -%}
  {%- endif -%}
  {{ return('') }}
{% endmacro %}
