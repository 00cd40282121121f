{#- Demand at the grain of one dimension of int_events_sessionised, ranked by
    revenue with its share and cumulative share (the Pareto curve) and an ABC
    class: A = the groups making the first 80% of revenue, B = the next 15%,
    C = the rest. Null values fall under 'unknown', so totals reconcile. -#}
{% macro demand_ranking(dimension, dimension_alias) %}

with events as (

    select
        coalesce({{ dimension }}, 'unknown') as {{ dimension_alias }},
        event_type,
        user_id,
        price
    from {{ ref('int_events_sessionised') }}

),

grouped as (

    select
        {{ dimension_alias }},
        {{ funnel_event_counts() }},
        count(distinct case when event_type = 'purchase' then user_id end) as buyers,
        {{ purchase_revenue() }} as revenue
    from events
    group by {{ dimension_alias }}

),

ranked as (

    select
        *,
        row_number() over (order by revenue desc, purchases desc, {{ dimension_alias }}) as revenue_rank,
        {{ safe_divide('revenue', 'sum(revenue) over ()') }} as revenue_share,
        {{ safe_divide(
            'sum(revenue) over (order by revenue desc, purchases desc, ' ~ dimension_alias
                ~ ' rows between unbounded preceding and current row)',
            'sum(revenue) over ()'
        ) }} as cumulative_revenue_share
    from grouped

),

final as (

    select
        {{ dimension_alias }},
        revenue_rank,
        views,
        carts,
        purchases,
        buyers,
        revenue,
        revenue_share,
        cumulative_revenue_share,
        case
            when cumulative_revenue_share - revenue_share < 0.80 then 'A'
            when cumulative_revenue_share - revenue_share < 0.95 then 'B'
            else 'C'
        end as pareto_class,
        {{ safe_divide('purchases', 'views') }} as view_to_purchase_rate,
        {{ safe_divide('purchases', 'carts') }} as cart_to_purchase_rate,
        {{ safe_divide('revenue', 'purchases') }} as avg_purchase_price
    from ranked

)

select * from final

{% endmacro %}
