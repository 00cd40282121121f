{#- Reconciliation: an aggregate over the model equals an aggregate over
    another relation (e.g. a mart's total purchases = purchase events in
    stg_events). Returns one row with both totals when they differ.
    With `date_column`, both sides keep only the dates the model's latest load
    wrote (see latest_load_dates; every date with `full_data_checks`), so that
    a one-day refresh of a date-partitioned model reconciles that day, not the
    whole history. -#}
{% test totals_match(model, expression, compare_model, compare_expression, compare_where=None,
                     date_column=None, compare_date_column=None) %}

{%- set dates = latest_load_dates(model, date_column) if date_column else none %}

with model_total as (

    select {{ expression }} as model_total
    from {{ model }}
    where {{ in_dates(date_column, dates) }}

),

compare_total as (

    select {{ compare_expression }} as compare_total
    from {{ compare_model }}
    where {{ in_dates(compare_date_column or date_column, dates) }}
    {%- if compare_where %}
        and ({{ compare_where }})
    {%- endif %}

)

select
    model_total.model_total,
    compare_total.compare_total
from model_total
cross join compare_total
where not (model_total.model_total <=> compare_total.compare_total)

{% endtest %}
