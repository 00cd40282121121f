{#-
  What the stored rows of an incremental SQL model were built with, and a
  rebuild when that changed.

  An incremental build rewrites only the dates (files) with new data; rows of
  other dates keep what they were built with: the price bands of the seed as
  it was, the staging vars as they were, the models' SQL as it was. So each
  such table records its definition in a table property (`rees46.definition`):
  a short hash of every ingredient, namely the SQL of the model and of every
  model it reads, directly or not, the vars named in that SQL, and the seeds
  among its ancestors (their file checksums). When the definition the project
  has now differs, the model is rebuilt whole, as with `--full-refresh`, and
  the build log says which ingredients changed. A var that shapes rows is
  read in a model's SQL, never inside a macro, so it is seen here
  (test_project_conventions.py checks that).

  The stored definition is read from the relation dbt lists at the start of
  the run (`show table extended` gives the table properties): no extra query.
-#}

{#- The names of the vars a piece of Jinja SQL reads (`var('name')`). -#}
{% macro vars_named_in(code) %}
  {{ return(modules.re.findall("var\\(\\s*['\"]([A-Za-z0-9_]+)['\"]", code) | unique | sort | list) }}
{% endmacro %}

{#- The current definition of a model: {ingredient: short hash}, ingredients
    named `model.<name>`, `var.<name>` and `seed.<name>`. -#}
{% macro stored_definition(node) %}
  {%- set parts = {} -%}
  {%- do add_definition_parts(node, parts) -%}
  {{ return(parts) }}
{% endmacro %}

{% macro add_definition_parts(node, parts) %}
  {%- if node.resource_type == 'seed' -%}
    {%- do parts.update({'seed.' ~ node.name: node.checksum.checksum[:8]}) -%}
  {%- elif node.resource_type == 'model' and ('model.' ~ node.name) not in parts -%}
    {%- do parts.update({'model.' ~ node.name: local_md5(node.raw_code)[:8]}) -%}
    {%- for name in vars_named_in(node.raw_code) -%}
      {%- do parts.update({'var.' ~ name: local_md5(tojson(var(name, none)))[:8]}) -%}
    {%- endfor -%}
    {%- for parent in node.depends_on.nodes if parent in graph.nodes -%}
      {%- do add_definition_parts(graph.nodes[parent], parts) -%}
    {%- endfor -%}
  {%- endif -%}
{% endmacro %}

{#- The record's key for an ingredient: a short hash of its name, so that the
    recorded value holds hex digits, ':' and ';' only. Spark redacts a table
    property whose value matches `spark.sql.redaction.options.regex`
    (`(?i)url` by default): with names in it, the record of
    fct_hourly_activity read back as `*********(redacted)`. -#}
{% macro definition_key(name) %}
  {{ return(local_md5(name)[:8]) }}
{% endmacro %}

{#- Whether the model being run records its definition: incremental SQL
    models (a Python model's rows are its own log, e.g. ml_training_runs). -#}
{% macro records_its_definition() %}
  {{ return(execute and model is defined and model.resource_type == 'model'
            and model.language == 'sql' and config.get('materialized') == 'incremental'
            and graph.nodes is defined and model.unique_id in graph.nodes) }}
{% endmacro %}

{#- The ingredients whose hash differs between the table's record and the
    project now (sorted); a table without a record lists `no record`, a
    missing table `no table`. -#}
{% macro stored_definition_changes() %}
  {%- set relation = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
  {%- if relation is none -%}
    {{ return(['no table']) }}
  {%- endif -%}
  {%- set found = modules.re.search("rees46\\.definition=([^,\\]\\s]*)", relation.information or '') -%}
  {%- if not found -%}
    {{ return(['no record']) }}
  {%- endif -%}
  {%- set stored = {} -%}
  {%- for item in found.group(1).split(';') if ':' in item -%}
    {%- do stored.update({item.split(':')[0]: item.split(':')[1]}) -%}
  {%- endfor -%}
  {%- set current = stored_definition(graph.nodes[model.unique_id]) -%}
  {%- set names = [] -%}
  {%- set current_keys = [] -%}
  {%- for name in current.keys() | sort -%}
    {%- do current_keys.append(definition_key(name)) -%}
    {%- if stored.get(definition_key(name)) != current[name] -%}
      {%- do names.append(name) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if stored.keys() | reject('in', current_keys) | list -%}
    {%- do names.append('an ingredient no longer read') -%}
  {%- endif -%}
  {{ return(names) }}
{% endmacro %}

{#- dbt's should_full_refresh (`--full-refresh`, or the `full_refresh`
    config), and also true for an incremental model whose stored rows were
    built with another definition. dbt's is_incremental and the incremental
    materialization both ask it, so the model's SQL is rendered for a whole
    rebuild and the table is rebuilt whole (built aside and swapped in). -#}
{% macro should_full_refresh() %}
  {%- set flagged = config.get('full_refresh') -%}
  {%- if flagged is none -%}
    {%- set flagged = flags.FULL_REFRESH -%}
  {%- endif -%}
  {%- if flagged or not records_its_definition() -%}
    {{ return(flagged) }}
  {%- endif -%}
  {%- set changes = stored_definition_changes() -%}
  {{ return(changes | length > 0 and changes != ['no table']) }}
{% endmacro %}

{#- Pre-hook: one line in the build log when a table is rebuilt whole because
    its definition changed (not for a first build or `--full-refresh`). -#}
{% macro report_definition_change() %}
  {%- if records_its_definition() and not flags.FULL_REFRESH -%}
    {%- set changes = stored_definition_changes() -%}
    {%- if changes and changes != ['no table'] -%}
      {%- do log(this.identifier ~ ": rebuilt whole: its stored rows were built with another definition ("
                 ~ changes | join(', ') ~ " changed)", info=true) -%}
    {%- endif -%}
  {%- endif -%}
{% endmacro %}

{#- Post-hook: record the definition on the table when it was (re)built whole
    or has no record yet; an incremental run with the same definition keeps
    the record it has. -#}
{% macro record_definition() %}
  {%- if records_its_definition() and (flags.FULL_REFRESH or stored_definition_changes()) -%}
    {%- set parts = stored_definition(graph.nodes[model.unique_id]) -%}
    alter table {{ this }} set tblproperties ('rees46.definition' = '
    {%- for name in parts.keys() | sort -%}{{ definition_key(name) }}:{{ parts[name] }}{{ ';' if not loop.last }}{%- endfor -%}')
  {%- endif -%}
{% endmacro %}
