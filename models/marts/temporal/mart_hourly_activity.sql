{{ config(materialized='view') }}

{#- Activity by hour of day (UTC) over the whole period, all 24 hours, with the
    busiest `peak_hour_count` hours by events flagged as peak hours. -#}

with heatmap as (

    select * from {{ ref('mart_activity_heatmap') }}

),

hourly as (

    select
        event_hour,
        sum(events) as events,
        sum(views) as views,
        sum(carts) as carts,
        sum(purchases) as purchases,
        sum(revenue) as revenue
    from heatmap
    group by event_hour

),

ranked as (

    select
        *,
        rank() over (order by events desc, event_hour asc) as events_rank,
        rank() over (order by purchases desc, event_hour asc) as purchases_rank,
        {{ safe_divide('events', 'sum(events) over ()') }} as share_of_events,
        {{ safe_divide('purchases', 'sum(purchases) over ()') }} as share_of_purchases
    from hourly

),

final as (

    select
        event_hour,
        events,
        views,
        carts,
        purchases,
        revenue,
        share_of_events,
        share_of_purchases,
        {{ safe_divide('carts', 'views') }} as view_to_cart_rate,
        {{ safe_divide('purchases', 'carts') }} as cart_to_purchase_rate,
        {{ safe_divide('purchases', 'views') }} as view_to_purchase_rate,
        events_rank,
        purchases_rank,
        events_rank <= {{ var('peak_hour_count') }} and events > 0 as is_peak_hour
    from ranked

)

select * from final
