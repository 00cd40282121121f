{#- The model has exactly `expected` rows, or as many as `compare_expression`
    computes over `compare_model`; with `date_column`, on the dates the model's
    latest load wrote (as in totals_match). -#}
{% test row_count_equals(model, expected=None, compare_model=None, compare_expression='count(*)',
                         date_column=None, compare_date_column=None) %}

{%- set dates = latest_load_dates(model, date_column) if date_column else none %}

with actual as (

    select count(*) as actual_rows from {{ model }}
    where {{ in_dates(date_column, dates) }}

),

expected as (

    {%- if compare_model is not none %}
    select {{ compare_expression }} as expected_rows from {{ compare_model }}
    where {{ in_dates(compare_date_column or date_column, dates) }}
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
