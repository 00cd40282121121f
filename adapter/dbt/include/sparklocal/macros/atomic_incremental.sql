{#-
  dbt-spark's incremental materialization with one change: a full refresh
  (`--full-refresh`, or a model that is a view) builds the new table under
  `<name>__dbt_swap_new_<invocation>` and swaps it in by two renames (old ->
  `<name>__dbt_swap_old_<invocation>`, new -> name) before dropping the old
  one, instead of dropping the table and then building it. The name is
  missing only between the two renames (two metastore operations; on a
  managed table each rename also renames its directory, which is instant on a
  local or HDFS file system but a copy on an object store). A run killed
  mid-swap is repaired by the model's next run: with the table missing and a
  `__dbt_swap_old_*` table present, that table is renamed back; other
  leftovers are dropped. The names carry the invocation, so a directory a
  killed `create table` left behind never blocks a later run. Incremental runs
  (insert_overwrite of partitions) are unchanged.
-#}
{% macro sparklocal_swap_leftovers(relation, kind) %}
  {%- set found = run_query("show tables in " ~ relation.schema ~ " like '" ~ relation.identifier ~ "__dbt_swap_" ~ kind ~ "_*'") -%}
  {{ return(found.rows | map(attribute='tableName') | sort | list) }}
{% endmacro %}

{% macro sparklocal_repair_swap(relation) %}
  {%- set suffix = (invocation_id | replace('-', ''))[:16] -%}
  {%- set current = adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
  {%- set olds = sparklocal_swap_leftovers(relation, 'old') -%}
  {%- if current is none and olds -%}
    {%- do log(relation ~ ": restoring the table an interrupted full refresh had moved aside", info=true) -%}
    {%- do adapter.rename_relation(relation.incorporate(path={"identifier": olds[-1]}, type='table'),
                                   relation.incorporate(type='table')) -%}
    {%- set olds = olds[:-1] -%}
  {%- endif -%}
  {%- for leftover in olds + sparklocal_swap_leftovers(relation, 'new') -%}
    {%- do adapter.drop_relation(relation.incorporate(path={"identifier": leftover}, type='table')) -%}
  {%- endfor -%}
  {{ return({
      'new': relation.incorporate(path={"identifier": relation.identifier ~ '__dbt_swap_new_' ~ suffix}, type='table'),
      'old': relation.incorporate(path={"identifier": relation.identifier ~ '__dbt_swap_old_' ~ suffix}, type='table')}) }}
{% endmacro %}

{% materialization incremental, adapter='sparklocal', supported_languages=['sql', 'python'] -%}
  {#-- Validate early so we don't run SQL if the file_format + strategy combo is invalid --#}
  {%- set raw_file_format = config.get('file_format', default='parquet') -%}
  {%- set raw_strategy = config.get('incremental_strategy') or 'append' -%}
  {%- set grant_config = config.get('grants') -%}

  {%- set file_format = dbt_spark_validate_get_file_format(raw_file_format) -%}
  {%- set strategy = dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) -%}

  {#-- Set vars --#}

  {%- set unique_key = config.get('unique_key', none) -%}
  {%- set partition_by = config.get('partition_by', none) -%}
  {%- set language = model['language'] -%}
  {%- set on_schema_change = incremental_validate_on_schema_change(config.get('on_schema_change'), default='ignore') -%}
  {%- set incremental_predicates = config.get('predicates', none) or config.get('incremental_predicates', none) -%}
  {%- set target_relation = this -%}
  {%- set swap = sparklocal_repair_swap(this) -%}
  {%- set existing_relation = load_relation(this) -%}
  {% set tmp_relation = this.incorporate(path = {"identifier": this.identifier ~ '__dbt_tmp'}) -%}

  {#-- for SQL model we will create temp view that doesn't have database and schema --#}
  {%- if language == 'sql'-%}
    {%- set tmp_relation = tmp_relation.include(database=false, schema=false) -%}
  {%- endif -%}

  {#-- Set Overwrite Mode --#}
  {%- if strategy in ['insert_overwrite', 'microbatch'] and partition_by -%}
    {%- call statement() -%}
      set spark.sql.sources.partitionOverwriteMode = DYNAMIC
    {%- endcall -%}
  {%- endif -%}

  {#-- Run pre-hooks --#}
  {{ run_hooks(pre_hooks) }}

  {#-- Incremental run logic --#}
  {%- if existing_relation is none -%}
    {#-- Relation must be created --#}
    {%- call statement('main', language=language) -%}
      {{ create_table_as(False, target_relation, compiled_code, language) }}
    {%- endcall -%}
    {% do persist_constraints(target_relation, model) %}
  {%- elif existing_relation.is_view or should_full_refresh() -%}
    {#-- Relation must be dropped & recreated --#}
    {#-- Built aside, then swapped in (see above) --#}
    {%- call statement('main', language=language) -%}
      {{ create_table_as(False, swap.new, compiled_code, language) }}
    {%- endcall -%}
    {%- if existing_relation.is_view -%}
      {% do adapter.drop_relation(existing_relation) %}
    {%- else -%}
      {% do adapter.rename_relation(existing_relation, swap.old) %}
    {%- endif -%}
    {% do adapter.rename_relation(swap.new, target_relation.incorporate(type='table')) %}
    {% do adapter.drop_relation(swap.old) %}
    {% do persist_constraints(target_relation, model) %}
  {%- else -%}
    {#-- Relation must be merged --#}
    {%- call statement('create_tmp_relation', language=language) -%}
      {{ create_table_as(True, tmp_relation, compiled_code, language) }}
    {%- endcall -%}
    {%- do process_schema_changes(on_schema_change, tmp_relation, existing_relation) -%}
    {%- call statement('main') -%}
      {{ dbt_spark_get_incremental_sql(strategy, tmp_relation, target_relation, existing_relation, unique_key, incremental_predicates) }}
    {%- endcall -%}
    {%- if language == 'python' -%}
      {#--
      This is yucky.
      See note in dbt-spark/dbt/include/spark/macros/adapters.sql
      re: python models and temporary views.

      Also, why do neither drop_relation or adapter.drop_relation work here?!
      --#}
      {% call statement('drop_relation') -%}
        drop table if exists {{ tmp_relation }}
      {%- endcall %}
    {%- endif -%}
  {%- endif -%}

  {% set should_revoke = should_revoke(existing_relation, full_refresh_mode) %}
  {% do apply_grants(target_relation, grant_config, should_revoke) %}

  {% do persist_docs(target_relation, model) %}

  {{ run_hooks(post_hooks) }}

  {{ return({'relations': [target_relation]}) }}

{%- endmaterialization %}
