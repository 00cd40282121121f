{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['event_date'],
    )
}}

{#- What happened to each product on each day (per category id it was listed
    under, normally one): event counts, revenue and the sum of event prices
    (for average prices). Product popularity and category price levels "as of
    a day" come from here, not from the events. -#}

{%- set dates = dates_to_rebuild(ref('fct_events')) %}

with events as (

    select
        event_date,
        product_id,
        category_id,
        category_code,
        brand,
        price,
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
        product_id,
        category_id,
        min(category_code) as category_code,
        min(brand) as brand,
        count(*) as events,
        count_if(is_view) as views,
        count_if(is_cart) as carts,
        count_if(is_remove_from_cart) as remove_from_carts,
        count_if(is_purchase) as purchases,
        sum(purchase_revenue) as revenue,
        sum(price) as price_sum,
        {{ load_stamp() }} as loaded_at,
        -- partition column last: Spark stores partition columns at the end
        event_date
    from events
    group by event_date, product_id, category_id

)

select * from final
