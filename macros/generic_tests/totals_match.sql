{#- Reconciliation: aggregates over the model equal aggregates over another
    relation (e.g. a mart's views, carts, purchases and revenue = those of the
    event fact). `expression` and `compare_expression` are one aggregate each
    or lists of the same length, compared pairwise: one test reconciles every
    metric of a model. Returns one row with both sides when any differs.
    With `date_column`, both sides keep only the dates the model's latest load
    wrote (see latest_load_dates; every date with `full_data_checks`), so that
    a one-day refresh of a date-partitioned model reconciles that day, not the
    whole history. With `group_by`, every group of the model (e.g. each
    dimension of a long table) must match the other relation's totals. -#}
{% test totals_match(model, expression, compare_model, compare_expression, compare_where=None,
                     date_column=None, compare_date_column=None, group_by=None) %}

{%- set expressions = [expression] if expression is string else expression %}
{%- set compare_expressions = [compare_expression] if compare_expression is string else compare_expression %}
{%- if expressions | length != compare_expressions | length %}
  {{ exceptions.raise_compiler_error("totals_match: expression and compare_expression must have the same length") }}
{%- endif %}
{%- set dates = latest_load_dates(model, date_column) if date_column else none %}

with model_total as (

    select
        {%- if group_by %}
        {{ group_by }} as model_group,
        {%- endif %}
        {%- for item in expressions %}
        {{ item }} as model_total_{{ loop.index }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}
    where {{ in_dates(date_column, dates) }}
    {%- if group_by %}
    group by {{ group_by }}
    {%- endif %}

),

compare_total as (

    select
        {%- for item in compare_expressions %}
        {{ item }} as compare_total_{{ loop.index }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ compare_model }}
    where {{ in_dates(compare_date_column or date_column, dates) }}
    {%- if compare_where %}
        and ({{ compare_where }})
    {%- endif %}

)

select
    model_total.*,
    compare_total.*
from model_total
cross join compare_total
where not (
    {%- for item in expressions %}
    model_total.model_total_{{ loop.index }} <=> compare_total.compare_total_{{ loop.index }}
    {{- ' and' if not loop.last }}
    {%- endfor %}
)

{% endtest %}
