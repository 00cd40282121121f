{#- The model has exactly `expected` rows, or as many as `compare_expression`
    computes over `compare_model`. -#}
{% test row_count_equals(model, expected=None, compare_model=None, compare_expression='count(*)') %}

with actual as (

    select count(*) as actual_rows from {{ model }}

),

expected as (

    {%- if compare_model is not none %}
    select {{ compare_expression }} as expected_rows from {{ compare_model }}
    {%- else %}
    select cast({{ expected }} as bigint) as expected_rows
    {%- endif %}

)

select
    actual.actual_rows,
    expected.expected_rows
from actual
cross join expected
where actual.actual_rows != expected.expected_rows

{% endtest %}
