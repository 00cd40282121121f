{#- A fingerprint (md5) of how the named models are defined: each one's SQL as
    written and the value of every var it names (`var('...')` in its code),
    so an edit of a training set's SQL or of a window var changes it, while a
    change elsewhere in the project does not. Macros the models call are not
    included. Read from the parsed project (`graph`), so it costs no query. -#}
{% macro definition_hash(model_names) %}
  {#- no graph at parse time, nor in a unit test (which checks rows, not this) -#}
  {%- if not execute or graph.nodes is not defined -%}
    {{ return('') }}
  {%- endif -%}
  {%- set parts = [] -%}
  {%- set models = graph.nodes.values() | selectattr('resource_type', 'equalto', 'model')
      | selectattr('name', 'in', model_names) | sort(attribute='name') -%}
  {%- if (models | map(attribute='name') | list) != (model_names | sort) -%}
    {{ exceptions.raise_compiler_error("definition_hash: no model named "
        ~ (model_names | reject('in', models | map(attribute='name') | list) | join(', '))) }}
  {%- endif -%}
  {%- for node in models -%}
    {%- do parts.append(node.name ~ '\n' ~ node.raw_code) -%}
    {%- for name in vars_named_in(node.raw_code) -%}
      {%- do parts.append(name ~ '=' ~ tojson(var(name))) -%}
    {%- endfor -%}
  {%- endfor -%}
  {{ return(local_md5(parts | join('\n'))) }}
{% endmacro %}
