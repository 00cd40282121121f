{{ config(partition_by=['session_date']) }}

with events as (

    select
        session_key,
        user_id,
        user_session,
        is_derived_session,
        event_at,
        event_type,
        product_id,
        price
    from {{ ref('int_events_sessionised') }}

),

session_totals as (

    select
        session_key,
        user_id,
        max(user_session) as user_session,
        max(is_derived_session) as is_derived_session,
        min(event_at) as session_start_at,
        max(event_at) as session_end_at,
        count(*) as events,
        {{ funnel_event_counts() }},
        count(distinct product_id) as distinct_products,
        {{ purchase_revenue() }} as revenue,
        min(case when event_type = 'view' then event_at end) as first_view_at,
        min(case when event_type = 'cart' then event_at end) as first_cart_at,
        min(case when event_type = 'purchase' then event_at end) as first_purchase_at
    from events
    group by session_key, user_id

),

final as (

    select
        session_key,
        user_id,
        user_session,
        is_derived_session,
        session_start_at,
        session_end_at,
        unix_timestamp(session_end_at) - unix_timestamp(session_start_at) as duration_seconds,
        events,
        views,
        carts,
        remove_from_carts,
        purchases,
        distinct_products,
        revenue,
        carts > 0 as reached_cart,
        purchases > 0 as purchased,
        carts > 0 and purchases = 0 as cart_abandoned,
        case
            when purchases > 0 then 'purchased'
            when carts > 0 then 'carted'
            else 'viewed_only'
        end as funnel_stage,
        first_view_at,
        first_cart_at,
        first_purchase_at,
        to_date(session_start_at) as session_date
    from session_totals

)

select * from final
