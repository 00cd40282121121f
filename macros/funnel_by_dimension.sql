{#- A funnel mart at the grain of one dimension of int_events_sessionised
    (events with a null value fall under 'unknown'): event counts, the users
    reaching each step, revenue, and event- and user-based conversion rates. -#}
{% macro funnel_by_dimension(dimension, dimension_alias, extra_columns=[]) %}

with events as (

    select
        coalesce(cast({{ dimension }} as string), 'unknown') as {{ dimension_alias }},
        {%- for column in extra_columns %}
        {{ column }},
        {%- endfor %}
        event_type,
        user_id,
        session_key,
        price
    from {{ ref('int_events_sessionised') }}

),

grouped as (

    select
        {{ dimension_alias }},
        {%- for column in extra_columns %}
        min({{ column }}) as {{ column }},
        {%- endfor %}
        {{ funnel_event_counts() }},
        count(distinct user_id) as unique_users,
        count(distinct case when event_type = 'view' then user_id end) as viewers,
        count(distinct case when event_type = 'cart' then user_id end) as carters,
        count(distinct case when event_type = 'purchase' then user_id end) as purchasers,
        count(distinct session_key) as sessions,
        {{ purchase_revenue() }} as revenue
    from events
    group by {{ dimension_alias }}

),

final as (

    select
        {{ dimension_alias }},
        {%- for column in extra_columns %}
        {{ column }},
        {%- endfor %}
        views,
        carts,
        purchases,
        remove_from_carts,
        unique_users,
        viewers,
        carters,
        purchasers,
        sessions,
        revenue,
        {{ funnel_event_rates() }},
        {{ safe_divide('purchasers', 'unique_users') }} as user_purchase_rate
    from grouped

)

select * from final

{% endmacro %}
