{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['event_date'],
    )
}}

{#- What each user did with each product on each day (per category id the
    product was listed under, normally one): the implicit feedback that the
    product recommender weighs (views, cart additions, purchases), with the
    day's last view for "recently viewed". Summing it over a range of days
    gives a user x product interaction matrix without reading the events. -#}

{%- set dates = dates_to_rebuild(ref('fct_events')) %}

with events as (

    select
        event_date,
        event_at,
        user_id,
        product_id,
        category_id,
        category_code,
        is_view,
        is_cart,
        is_remove_from_cart,
        is_purchase
    from {{ ref('fct_events') }}
    where {{ in_dates('event_date', dates) }}

),

final as (

    select
        user_id,
        product_id,
        category_id,
        min(category_code) as category_code,
        count(*) as events,
        count_if(is_view) as views,
        count_if(is_cart) as carts,
        count_if(is_remove_from_cart) as remove_from_carts,
        count_if(is_purchase) as purchases,
        max(case when is_view then event_at end) as last_view_at,
        max(event_at) as last_event_at,
        {{ load_stamp() }} as loaded_at,
        -- partition column last: Spark stores partition columns at the end
        event_date
    from events
    group by event_date, user_id, product_id, category_id

)

select * from final
