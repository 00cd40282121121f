{#- The folder of raw files: the `raw_events_path` var, else env REES46_RAW_DIR,
    else data/raw. A relative path is taken from the directory dbt runs in
    (Spark would otherwise resolve it inside the schema's own folder). -#}
{% macro raw_events_path() %}
  {%- set path = (var('raw_events_path', env_var('REES46_RAW_DIR', 'data/raw')) | string).strip() -%}
  {%- if path.startswith('/') or '://' in path -%}
    {{ return(path) }}
  {%- endif -%}
  {%- set working_dir = env_var('PWD', '') -%}
  {%- if not working_dir -%}
    {{ exceptions.raise_compiler_error("raw_events_path '" ~ path ~ "' is relative and PWD is unset: give an absolute path") }}
  {%- endif -%}
  {{ return(working_dir.rstrip('/') ~ '/' ~ path) }}
{% endmacro %}

{#-
  Registers the folder of raw REES46 files as two external tables in the
  schema <target schema>_raw:

    events_raw        one row per physical line (text source), so staging can
                      parse every line itself and quarantine what it cannot
                      parse (a CSV reader would drop or null such lines silently);
    events_raw_files  one row per file (binaryFile source, contents not read):
                      name, size and modification time, which the manifest of
                      loaded files (stg_raw_files) compares to decide what is new.

  Idempotent: both are dropped and created again on every invocation, so a
  changed path or new files are picked up. They are external (they have a
  path), so dropping them never deletes the raw files. Only *.csv and
  *.csv.gz are read (not *.csv.part, *.csv~, *.csv.zip, ...). Spark reads
  .csv.gz transparently and strips \n, \r\n and \r line endings.
-#}
{% macro register_raw_events() %}
  {{ return(adapter.dispatch('register_raw_events', 'rees46')()) }}
{% endmacro %}

{% macro default__register_raw_events() %}
  {%- if execute -%}
    {%- set schema = target.schema ~ '_raw' -%}
    {%- set path = raw_events_path() -%}
    {%- set options = "options (path '" ~ path ~ "', pathGlobFilter '*.{csv,csv.gz}')" -%}
    {%- do log("raw events: registering " ~ path ~ " as " ~ schema ~ ".events_raw", info=true) -%}
    {%- do run_query("create schema if not exists " ~ schema) -%}
    {%- do run_query("drop table if exists " ~ schema ~ ".events_raw") -%}
    {%- do run_query("create table " ~ schema ~ ".events_raw (value string) using text " ~ options) -%}
    {%- do run_query("drop table if exists " ~ schema ~ ".events_raw_files") -%}
    {%- do run_query("create table " ~ schema ~ ".events_raw_files using binaryFile " ~ options) -%}
    {#- A missing or empty folder would otherwise build empty tables without a
        word. The probe asks the file listing (no file is opened), so a damaged
        file is reported by the model that reads it, by name. -#}
    {%- set probe = run_query("select 1 from " ~ schema ~ ".events_raw_files where length > 0 limit 1") -%}
    {%- if probe.rows | length == 0 -%}
      {{ exceptions.raise_compiler_error(
          "No raw event lines found in '" ~ path ~ "' (*.csv, *.csv.gz). Generate demo data with "
          ~ "`python -m datagen --out " ~ path ~ "` or point REES46_RAW_DIR at the Kaggle files.") }}
    {%- endif -%}
  {%- endif -%}
  {#- the hook itself runs no further SQL -#}
  select 1
{% endmacro %}
