{#- None of `columns` holds a null. One query for many columns (a big table is
    read once, not once per column); the failing row counts the nulls of each. -#}
{% test all_not_null(model, columns) %}

select
    {%- for column in columns %}
    count_if({{ column }} is null) as {{ column }}_nulls{{ ',' if not loop.last }}
    {%- endfor %}
from {{ model }}
having
    {%- for column in columns %}
    count_if({{ column }} is null) > 0{{ ' or' if not loop.last }}
    {%- endfor %}

{% endtest %}
