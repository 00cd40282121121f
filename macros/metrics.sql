{#- Shared metric definitions, so every mart computes a rate or a score the
    same way. Column-level helpers only: each renders one or a few columns. -#}

{#- numerator / denominator as a double; null when the denominator is 0 or null
    (an undefined rate is not a zero rate). -#}
{% macro safe_divide(numerator, denominator) -%}
  cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0)
{%- endmacro %}

{#- The three event-based conversion rates, from columns views, carts, purchases. -#}
{% macro funnel_event_rates() -%}
    {{ safe_divide('carts', 'views') }} as view_to_cart_rate,
    {{ safe_divide('purchases', 'carts') }} as cart_to_purchase_rate,
    {{ safe_divide('purchases', 'views') }} as view_to_purchase_rate
{%- endmacro %}

{#- ABC class of a group ranked by revenue: A for the groups making the first
    80% of revenue (the group that crosses 80% included), B for the next 15%,
    C for the rest. -#}
{% macro pareto_class(cumulative_share, share) -%}
    case
        when {{ cumulative_share }} - {{ share }} < 0.80 then 'A'
        when {{ cumulative_share }} - {{ share }} < 0.95 then 'B'
        else 'C'
    end
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

{#- The analysis date recency is measured to: `fixed_date` (the var
    `rfm_analysis_date`, passed in by the model) when set, else the day after
    `last_event_date` (an expression such as `max(event_date)` over the
    model's import CTE). -#}
{% macro analysis_date(last_event_date, fixed_date) -%}
  {%- if fixed_date -%}
    to_date('{{ fixed_date }}')
  {%- else -%}
    date_add({{ last_event_date }}, 1)
  {%- endif -%}
{%- endmacro %}

{#- The key of a date-local session: a 64-bit hash of the user, the session id
    (the store's, or a derived one) and the date. Every aggregate groups by it
    together with the user and the date, so two sessions could only be mixed up
    if their keys collided within one user's day. -#}
{% macro session_key(session_id) -%}
    xxhash64(user_id, {{ session_id }}, event_date)
{%- endmacro %}

{#- One measure of ml_training_runs as a column of a pivot (rows grouped by
    their key): the number (`value`) cast to `type`, or for string and date
    columns the `text`. Only within a group by of the long rows. -#}
{% macro run_measure(name, type='double') -%}
  {%- if type in ('string', 'date') -%}
    {%- set picked = "max(case when measure = '" ~ name ~ "' then text end)" -%}
  {%- else -%}
    {%- set picked = "max(case when measure = '" ~ name ~ "' then value end)" -%}
  {%- endif -%}
  cast({{ picked }} as {{ type }}) as {{ name }}
{%- endmacro %}

{#- Whole-period distinct counts that a new day merges into instead of
    recounting: per day, a HyperLogLog sketch of the values of `column`
    (nulls ignored); over any range of days, the estimate of the union of the
    days' sketches (sketch_count). lgConfigK 12, fixed here for every sketch
    (sketches of one K merge): relative standard error about 1.6%, so 95% of
    counts lie within 3.3% of the exact count and 99.7% within 4.9%; a few
    hundred values or fewer are counted exactly (the sketch keeps their
    hashes), but for a rare collision of two hashes, which counts one less. See the `approximate_distinct_count` doc block. -#}
{% macro distinct_sketch(column) -%}
    hll_sketch_agg({{ column }}, 12)
{%- endmacro %}

{#- The distinct count of the union of the sketches in `sketch_column` (an
    aggregate: one count per group). -#}
{% macro sketch_count(sketch_column) -%}
    hll_sketch_estimate(hll_union_agg({{ sketch_column }}))
{%- endmacro %}

{#- The measures every per-dimension view of mart_funnel_by_dimension shows,
    after its dimension's value columns (one list for all of them). -#}
{% macro product_dimension_measures() -%}
    revenue_rank,
    views,
    carts,
    remove_from_carts,
    purchases,
    revenue,
    unique_users,
    viewers,
    carters,
    purchasers,
    sessions,
    view_to_cart_rate,
    cart_to_purchase_rate,
    view_to_purchase_rate,
    user_purchase_rate,
    avg_purchase_price,
    revenue_share,
    cumulative_revenue_share,
    pareto_class
{%- endmacro %}
