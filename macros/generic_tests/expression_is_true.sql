{#- Fails with every row for which `expression` is not true (null counts as a
    failure). A project-local take on dbt-utils' test of the same name: dbt
    packages cannot be fetched on machines without internet access. -#}
{% test expression_is_true(model, expression, column_name=None, where_clause=None) %}

select *
from {{ model }}
where not coalesce({{ expression }}, false)
{%- if where_clause %}
    and ({{ where_clause }})
{%- endif %}

{% endtest %}
