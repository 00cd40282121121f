{#-
  Which raw files an incremental run has to parse: those in the folder that the
  manifest of loaded files (the stg_raw_files model) does not list yet.

  A file is identified by its name and known by its size and modification
  time. Rule for files already loaded (documented in stg_raw_files.yml): if one
  has changed (other size or modification time) or disappeared, its events are
  already part of stg_events and cannot be taken out one file at a time, so the
  run stops with a message naming the files and the way out (restore them, or
  `dbt build --full-refresh`). It never half-applies a change.

  `listing` is source('rees46', 'events_raw_files'). The manifest is looked up
  by name in the model's own schema (a ref would make a cycle: the manifest is
  built from what this run loads). Without a manifest, every file is new.
-#}
{% macro raw_files_to_load(listing) %}
  {%- if not execute -%}
    {{ return([]) }}
  {%- endif -%}
  {%- set manifest = adapter.get_relation(database=this.database, schema=this.schema, identifier='stg_raw_files') -%}
  {%- set files_query -%}
    select
        _metadata.file_name as file_name,
        _metadata.file_size as file_size,
        _metadata.file_modification_time as file_modified_at
    from {{ listing }}
  {%- endset -%}
  {%- if manifest is none -%}
    {%- set new_files = run_query('select file_name from (' ~ files_query ~ ') as files').columns[0].values() -%}
    {{ return(new_files | sort | list) }}
  {%- endif -%}
  {%- set compared = run_query(
      "select coalesce(files.file_name, loaded.source_file) as file_name,"
      ~ " case when loaded.source_file is null then 'new'"
      ~ " when files.file_name is null then 'removed'"
      ~ " when files.file_size != loaded.file_size_bytes or files.file_modified_at != loaded.file_modified_at"
      ~ " then 'changed' else 'loaded' end as state,"
      ~ " concat('size ', loaded.file_size_bytes, ' -> ', files.file_size, ' bytes, modified ',"
      ~ " loaded.file_modified_at, ' -> ', files.file_modified_at) as change"
      ~ " from (" ~ files_query ~ ") as files"
      ~ " full outer join " ~ manifest ~ " as loaded on files.file_name = loaded.source_file") -%}
  {%- set new_files = [] -%}
  {%- set problems = [] -%}
  {%- for row in compared.rows -%}
    {%- if row['state'] == 'new' -%}
      {%- do new_files.append(row['file_name']) -%}
    {%- elif row['state'] == 'removed' -%}
      {%- do problems.append(row['file_name'] ~ ': loaded before, no longer in the raw folder') -%}
    {%- elif row['state'] == 'changed' -%}
      {%- do problems.append(row['file_name'] ~ ': changed since it was loaded (' ~ row['change'] ~ ')') -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if problems -%}
    {{ exceptions.raise_compiler_error(
        "Raw files already loaded have changed:\n  - " ~ (problems | sort | join("\n  - "))
        ~ "\nTheir events are already staged and cannot be replaced one file at a time. Restore the"
        ~ " files, or rebuild from the files as they are now with `dbt build --full-refresh`.") }}
  {%- endif -%}
  {%- do log(this.identifier ~ ": " ~ (new_files | length) ~ " new raw file(s) to load", info=true) -%}
  {{ return(new_files | sort | list) }}
{% endmacro %}

{#- `column in ('a', 'b')` for a list of names (quotes escaped); false when empty. -#}
{% macro in_list(column, values) -%}
  {%- if values | length == 0 -%}
    false
  {%- else -%}
    {{ column }} in ({% for value in values %}'{{ value | replace("\\", "\\\\") | replace("'", "\\'") }}'{{ ", " if not loop.last }}{% endfor %})
  {%- endif -%}
{%- endmacro %}
