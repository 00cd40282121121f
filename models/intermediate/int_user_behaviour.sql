{#- One row per user with any event: what they did over the whole period. -#}

with events as (

    select
        user_id,
        session_key,
        event_date,
        event_at,
        event_type,
        product_id,
        category_id,
        price
    from {{ ref('int_events_sessionised') }}

),

final as (

    select
        user_id,
        count(*) as events,
        {{ funnel_event_counts() }},
        count(distinct session_key) as sessions,
        count(distinct event_date) as active_days,
        count(distinct product_id) as distinct_products,
        count(distinct category_id) as distinct_categories,
        coalesce(avg(case when event_type = 'view' then price end), 0) as avg_view_price,
        {{ purchase_revenue() }} as revenue,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at
    from events
    group by user_id

)

select * from final
