{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['event_date'],
    )
}}

{#- What each session did with each product group: one row per session and
    (category code, brand, price band) it touched, with event counts and
    revenue. The grain every funnel, demand and price mart needs: event counts
    add up over it, and distinct users or sessions per category, brand or band
    come from it in two aggregation steps instead of from the events. -#}

{%- set dates = dates_to_rebuild(ref('fct_events')) %}

with events as (

    select
        event_date,
        session_key,
        user_id,
        category_code,
        category_l1,
        brand,
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
        session_key,
        user_id,
        category_code,
        -- follows from category_code; carried for the category marts
        min(category_l1) as category_l1,
        brand,
        price_band,
        min(price_band_order) as price_band_order,
        count(*) as events,
        count_if(is_view) as views,
        count_if(is_cart) as carts,
        count_if(is_remove_from_cart) as remove_from_carts,
        count_if(is_purchase) as purchases,
        sum(purchase_revenue) as revenue,
        {{ load_stamp() }} as loaded_at,
        -- partition column last: Spark stores partition columns at the end
        event_date
    from events
    group by event_date, session_key, user_id, category_code, brand, price_band

)

select * from final
