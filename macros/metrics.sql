{#- Shared metric definitions, so every mart computes a rate or a score the same way. -#}

{#- numerator / denominator as a double; null when the denominator is 0 or null
    (an undefined rate is not a zero rate). -#}
{% macro safe_divide(numerator, denominator) -%}
  cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0)
{%- endmacro %}

{#- Event counts of the funnel steps over the rows of a group. -#}
{% macro funnel_event_counts() -%}
    count_if(event_type = 'view') as views,
    count_if(event_type = 'cart') as carts,
    count_if(event_type = 'purchase') as purchases,
    count_if(event_type = 'remove_from_cart') as remove_from_carts
{%- endmacro %}

{#- The three event-based conversion rates, from columns views, carts, purchases. -#}
{% macro funnel_event_rates() -%}
    {{ safe_divide('carts', 'views') }} as view_to_cart_rate,
    {{ safe_divide('purchases', 'carts') }} as cart_to_purchase_rate,
    {{ safe_divide('purchases', 'views') }} as view_to_purchase_rate
{%- endmacro %}

{#- Revenue of the purchase events in a group (0 when there are none). -#}
{% macro purchase_revenue() -%}
    coalesce(sum(case when event_type = 'purchase' then price end), 0)
{%- endmacro %}

{#- A 1-5 quintile score of `column` over all rows, 5 best. Ties share the
    score of the tie group's first position, so equal values always score the
    same: score = 1 + floor(5 * (rank - 1) / n), rank ascending when
    higher_is_better, descending otherwise. -#}
{% macro quintile_score(column, higher_is_better=true) -%}
    cast(1 + floor(
        5 * (rank() over (order by {{ column }} {{ 'asc' if higher_is_better else 'desc' }}) - 1)
        / count(*) over ()
    ) as int)
{%- endmacro %}

{#- z-score of log(1 + relation.column), given the population mean and sample
    standard deviation of log(1 + column) in columns `<column>_log_mean` and
    `<column>_log_stddev` of `stats` (see log_moments); 0 when the deviation is
    0 or undefined (all users alike, or a single user). -#}
{% macro log_zscore(column, relation, stats='stats') -%}
    coalesce((log1p({{ relation }}.{{ column }}) - {{ stats }}.{{ column }}_log_mean) / nullif({{ stats }}.{{ column }}_log_stddev, 0), 0)
{%- endmacro %}

{#- The population mean and sample standard deviation of log(1 + column). -#}
{% macro log_moments(column) -%}
    avg(log1p({{ column }})) as {{ column }}_log_mean, stddev_samp(log1p({{ column }})) as {{ column }}_log_stddev
{%- endmacro %}

{#- The analysis date for recency: the var when set, else the day after the
    last event date in stg_events. -#}
{% macro analysis_date() -%}
  {%- if var('rfm_analysis_date') -%}
    to_date('{{ var("rfm_analysis_date") }}')
  {%- else -%}
    (select date_add(max(event_date), 1) from {{ ref('stg_events') }})
  {%- endif -%}
{%- endmacro %}
