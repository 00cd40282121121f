{#- Conversion by price band within each level-1 category: does a higher price
    in the same category turn views into purchases less often? -#}

with events as (

    select
        coalesce(category_l1, 'unknown') as category_l1,
        price_band,
        price_band_order,
        event_type,
        user_id,
        price
    from {{ ref('int_events_sessionised') }}

),

grouped as (

    select
        category_l1,
        price_band,
        min(price_band_order) as price_band_order,
        {{ funnel_event_counts() }},
        count(distinct user_id) as unique_users,
        {{ purchase_revenue() }} as revenue
    from events
    group by category_l1, price_band

),

final as (

    select
        category_l1,
        price_band,
        price_band_order,
        views,
        carts,
        purchases,
        unique_users,
        revenue,
        {{ safe_divide('views', 'sum(views) over (partition by category_l1)') }}
            as share_of_category_views,
        {{ funnel_event_rates() }}
    from grouped

)

select * from final
