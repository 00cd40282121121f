{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['event_date'],
    )
}}

{#- Each day's funnel per value of every product dimension: category code,
    level-1 category, brand, price band, and level-1 category x price band
    (`dimension` says which), with event counts and revenue, and mergeable
    distinct-count sketches of the day's users, of the users reaching each
    step and of the sessions (distinct_sketch). mart_funnel_by_dimension adds
    up the days and merges the sketches, so a new day costs one day of work
    instead of a recount of the whole period. Missing codes, brands and
    levels fall under 'unknown', so every dimension covers every event. All
    five dimensions come from one pass over the day's events (grouping sets). -#}

{%- set dates = dates_to_rebuild(ref('fct_events')) %}

with events as (

    select
        event_date,
        session_key,
        user_id,
        coalesce(category_code, 'unknown') as category_code,
        coalesce(category_l1, 'unknown') as category_l1,
        coalesce(brand, 'unknown') as brand,
        price_band,
        price_band_order,
        is_view,
        is_cart,
        is_remove_from_cart,
        is_purchase,
        purchase_revenue
    from {{ ref('fct_events') }}
    where {{ in_dates('event_date', dates) }}

),

final as (

    select
        case
            when grouping(category_code) = 0 then 'category_code'
            when grouping(brand) = 0 then 'brand'
            when grouping(category_l1) = 0 and grouping(price_band) = 0 then 'category_l1_price_band'
            when grouping(category_l1) = 0 then 'category_l1'
            else 'price_band'
        end as dimension,
        category_code,
        category_l1,
        brand,
        price_band,
        case when grouping(price_band) = 0 then min(price_band_order) end as price_band_order,
        count(*) as events,
        count_if(is_view) as views,
        count_if(is_cart) as carts,
        count_if(is_remove_from_cart) as remove_from_carts,
        count_if(is_purchase) as purchases,
        sum(purchase_revenue) as revenue,
        {{ distinct_sketch('user_id') }} as users_sketch,
        {{ distinct_sketch('case when is_view then user_id end') }} as viewers_sketch,
        {{ distinct_sketch('case when is_cart then user_id end') }} as carters_sketch,
        {{ distinct_sketch('case when is_purchase then user_id end') }} as purchasers_sketch,
        {{ distinct_sketch('session_key') }} as sessions_sketch,
        {{ load_stamp() }} as loaded_at,
        -- partition column last: Spark stores partition columns at the end
        event_date
    from events
    group by
        event_date,
        grouping sets (
            (category_code),
            (category_l1),
            (brand),
            (price_band),
            (category_l1, price_band)
        )

)

select * from final
