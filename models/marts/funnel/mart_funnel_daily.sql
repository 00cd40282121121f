with events as (

    select
        event_date,
        event_type,
        user_id,
        session_key,
        price
    from {{ ref('int_events_sessionised') }}

),

daily as (

    select
        event_date,
        {{ funnel_event_counts() }},
        count(distinct user_id) as unique_users,
        count(distinct session_key) as sessions,
        {{ purchase_revenue() }} as revenue
    from events
    group by event_date

),

final as (

    select
        event_date,
        views,
        carts,
        purchases,
        remove_from_carts,
        unique_users,
        sessions,
        revenue,
        {{ funnel_event_rates() }}
    from daily

)

select * from final
