{#-
  Table models without a gap: every build writes a new, never-modified table
  (a "build table") in the companion schema `<schema>__builds`, then points
  the model's name, a view, at it in one metastore operation (`alter view ...
  as`, a single metastore update; Spark's `create or replace view` drops the
  view and creates it again, which leaves a gap). Readers see the previous build until that moment, and a
  build that fails or is killed before it leaves the previous build in place.

  dbt-spark's table materialization drops the table first and then creates it,
  so the table is missing for the whole build, and for good if the build fails.
  Renaming (old -> backup, new -> final) still leaves a window in which the
  name resolves to nothing, and Spark sessions cache a table's file listing by
  name, so a reader on a Thrift server that read the table before a rename or
  recreation fails on files that are gone. Build tables are never rewritten and
  never reused under another name, so no cached listing goes stale while its
  table exists.

  Kept: the build the view points to, and the one before it until the model's
  next build (a query that started on it before the swap can finish). Every
  other build table of the model (earlier ones, or one a killed run left
  half-made) is dropped at the model's next build. A directory a killed
  `create table` left without a metastore entry is never reused (each build
  table has a new name); it is only disk space (see the project README).
-#}

{#- The companion schema of the build tables of `relation`'s schema. -#}
{% macro sparklocal_builds_schema(relation) -%}
  {{ return(relation.schema ~ '__builds') }}
{%- endmacro %}

{#- The build table the model `relation` currently points to (a relation), or
    none when `relation` is not a view over a build table. Read from the view's
    text, the one thing that cannot disagree with what readers get. -#}
{% macro sparklocal_current_build(relation) %}
  {%- set found = adapter.get_relation(database=relation.database, schema=relation.schema,
                                       identifier=relation.identifier) -%}
  {%- if found is none or not found.is_view -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set described = run_query('describe table extended ' ~ relation) -%}
  {%- for row in described.rows if row[0] == 'View Text' -%}
    {%- set target = modules.re.search('([A-Za-z0-9_]+__builds)[.]([A-Za-z0-9_]+__build_[0-9a-f]+)', row[1]) -%}
    {%- if target -%}
      {{ return(api.Relation.create(database=relation.database, schema=target.group(1),
                                    identifier=target.group(2), type='table')) }}
    {%- endif -%}
  {%- endfor -%}
  {{ return(none) }}
{% endmacro %}

{#- The table statistics target of a model: its current build table when it is
    a view over one, else the relation itself. -#}
{% macro sparklocal_statistics_relation(relation) %}
  {{ return(sparklocal_current_build(relation) or relation) }}
{% endmacro %}

{#- The build table `build_id` of the model or seed `relation`. -#}
{% macro sparklocal_build_relation(relation, build_id) %}
  {{ return(api.Relation.create(database=relation.database, schema=sparklocal_builds_schema(relation),
                                identifier=relation.identifier ~ '__build_' ~ build_id, type='table')) }}
{% endmacro %}

{#- Drops every build table of `relation` but `keep` (the one readers use now,
    or none), and makes sure the companion schema exists. -#}
{% macro sparklocal_drop_other_builds(relation, keep) %}
  {%- set builds_schema = sparklocal_builds_schema(relation) -%}
  {% do adapter.create_schema(api.Relation.create(database=relation.database, schema=builds_schema)) %}
  {%- set existing_builds = run_query("show tables in " ~ builds_schema ~ " like '" ~ relation.identifier ~ "__build_*'") -%}
  {%- for row in existing_builds.rows -%}
    {%- if keep is none or row['tableName'] != keep.identifier -%}
      {% call statement('drop_earlier_build') -%}
        drop table if exists {{ builds_schema }}.{{ row['tableName'] }}
      {%- endcall %}
    {%- endif -%}
  {%- endfor -%}
{% endmacro %}

{#- Points the view `relation` (found as `old_relation`, or none) at
    `build_relation` in one metastore operation. -#}
{% macro sparklocal_point_at_build(relation, old_relation, build_relation) %}
  {#- A table of this name from before atomic builds (or a failed migration):
      the one moment the name is missing, once. -#}
  {%- if old_relation is not none and not old_relation.is_view -%}
    {% do adapter.drop_relation(old_relation) %}
  {%- endif -%}
  {% call statement('swap') -%}
    {{ 'alter' if old_relation is not none and old_relation.is_view else 'create' }} view {{ relation }}
    as select * from {{ build_relation }}
  {%- endcall %}
  {#- Known to dbt's relation cache now, for the post-hooks (table statistics). -#}
  {% do adapter.cache_added(relation) %}
{% endmacro %}

{#- What follows the swap in every materialization here: grants, column
    docs and the post-hooks, on the model's view. -#}
{% macro sparklocal_after_swap(relation, old_relation) %}
  {% do apply_grants(relation, config.get('grants'), should_revoke(old_relation, full_refresh_mode=True)) %}
  {% do persist_docs(relation, model) %}
  {% do run_hooks(post_hooks) %}
{% endmacro %}

{% materialization table, adapter='sparklocal', supported_languages=['sql', 'python'] %}
  {%- set language = model['language'] -%}
  {%- set target_relation = api.Relation.create(identifier=model['alias'], schema=schema,
                                                database=database, type='view') -%}
  {%- set old_relation = adapter.get_relation(database=database, schema=schema, identifier=model['alias']) -%}
  {%- set build_relation = sparklocal_build_relation(target_relation, (invocation_id | replace('-', ''))[:16]) -%}

  {{ run_hooks(pre_hooks) }}

  {% do sparklocal_drop_other_builds(target_relation, sparklocal_current_build(target_relation)) %}

  {%- call statement('main', language=language) -%}
    {{ create_table_as(False, build_relation, compiled_code, language) }}
  {%- endcall -%}

  {% do sparklocal_point_at_build(target_relation, old_relation, build_relation) %}

  {% do sparklocal_after_swap(target_relation, old_relation) %}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
