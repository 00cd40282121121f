{#-
  Seeds without a gap, and loaded only when they changed. dbt-spark's seed
  drops the table and creates it again, so a build killed or failing between
  the two leaves the seed missing (the kill test found `behaviour_segments`
  gone), and every build reloads every seed although they rarely change.

  Here a seed is what a table model is (atomic_table.sql): a view over a build
  table in `<schema>__builds`, swapped in one metastore operation once the
  rows are loaded. The build table is named after the seed's content (the
  file's checksum and the seed's config), so a build whose seed file and
  config are unchanged finds the view already on that build table and loads
  nothing. `--full-refresh` loads it again, under a name of its own.
-#}

{#- The statements that load `agate_table`'s rows into `relation`, a new table:
    dbt-spark's create_csv_table and load_csv_rows, which write only to
    `this`, aimed at the build table. -#}
{% macro sparklocal_load_seed(relation, agate_table) %}
  {%- set column_override = config.get('column_types', {}) -%}
  {%- set quote_seed_column = config.get('quote_columns', None) -%}
  {%- set types = [] -%}
  {%- for col_name in agate_table.column_names -%}
    {%- do types.append(column_override.get(col_name, adapter.convert_type(agate_table, loop.index0))) -%}
  {%- endfor -%}

  {% set create_sql %}
    create table {{ relation }} (
      {%- for col_name in agate_table.column_names -%}
        {{ adapter.quote_seed_column(col_name | string, quote_seed_column) }} {{ types[loop.index0] }}
        {%- if not loop.last -%}, {% endif -%}
      {%- endfor -%}
    )
    {{ file_format_clause() }}
    {{ comment_clause() }}
  {% endset %}
  {% call statement('create_seed_build') -%}{{ create_sql }}{%- endcall %}

  {%- set first_insert = [] -%}
  {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
    {%- set bindings = [] -%}
    {%- for row in chunk -%}{%- do bindings.extend(row) -%}{%- endfor -%}
    {% set insert_sql %}
      insert into {{ relation }} values
      {% for row in chunk -%}
        ({%- for type in types -%}cast({{ get_binding_char() }} as {{ type }}){%- if not loop.last -%},{%- endif -%}{%- endfor -%})
        {%- if not loop.last -%},{%- endif %}
      {% endfor %}
    {% endset %}
    {% do adapter.add_query(insert_sql, bindings=bindings, abridge_sql_log=True) %}
    {%- if not first_insert -%}{%- do first_insert.append(insert_sql) -%}{%- endif -%}
  {%- endfor -%}
  {{ return(get_csv_sql(create_sql, first_insert[0] if first_insert else '')) }}
{% endmacro %}

{% materialization seed, adapter='sparklocal' %}
  {%- set target_relation = api.Relation.create(identifier=model['alias'], schema=schema,
                                                database=database, type='view') -%}
  {%- set old_relation = adapter.get_relation(database=database, schema=schema, identifier=model['alias']) -%}
  {%- set agate_table = load_agate_table() -%}
  {%- do store_result('agate_table', response='OK', agate_table=agate_table) -%}
  {%- set rows = agate_table.rows | length -%}

  {%- set content_id = local_md5(model['checksum']['checksum'] ~ tojson(model['config'], sort_keys=True))[:16] -%}
  {%- set build_id = (invocation_id | replace('-', ''))[:16] if should_full_refresh() else content_id -%}
  {%- set build_relation = sparklocal_build_relation(target_relation, build_id) -%}
  {%- set current_build = sparklocal_current_build(target_relation) -%}

  {{ run_hooks(pre_hooks) }}

  {%- if current_build is not none and current_build.identifier == build_relation.identifier -%}
    {% call noop_statement('main', 'UNCHANGED ' ~ rows, 'UNCHANGED', rows) -%}
      -- {{ target_relation }} already reads {{ build_relation }}, loaded from this file and config
    {%- endcall %}
  {%- else -%}
    {% do sparklocal_drop_other_builds(target_relation, current_build) %}
    {%- set load_sql = sparklocal_load_seed(build_relation, agate_table) -%}
    {% call noop_statement('main', 'INSERT ' ~ rows, 'INSERT', rows) -%}
      {{ load_sql }};
    {%- endcall %}
    {% do sparklocal_point_at_build(target_relation, old_relation, build_relation) %}
  {%- endif -%}

  {% do sparklocal_after_swap(target_relation, old_relation) %}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
