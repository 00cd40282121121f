{#- Reconciliation: an aggregate over the model equals an aggregate over
    another relation (e.g. a mart's total purchases = purchase events in
    stg_events). Returns one row with both totals when they differ. -#}
{% test totals_match(model, expression, compare_model, compare_expression, compare_where=None) %}

with model_total as (

    select {{ expression }} as model_total
    from {{ model }}

),

compare_total as (

    select {{ compare_expression }} as compare_total
    from {{ compare_model }}
    {%- if compare_where %}
    where {{ compare_where }}
    {%- endif %}

)

select
    model_total.model_total,
    compare_total.compare_total
from model_total
cross join compare_total
where not (model_total.model_total <=> compare_total.compare_total)

{% endtest %}
