{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['event_date'],
    )
}}

{#- Activity per UTC date and hour of day: event counts, revenue and the users
    active in that hour of that day. The heat map and peak-hour marts read it. -#}

{%- set dates = dates_to_rebuild(ref('fct_events')) %}

with events as (

    select
        event_date,
        event_hour,
        event_weekday,
        user_id,
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
        event_hour,
        min(event_weekday) as event_weekday,
        count(*) as events,
        count_if(is_view) as views,
        count_if(is_cart) as carts,
        count_if(is_remove_from_cart) as remove_from_carts,
        count_if(is_purchase) as purchases,
        sum(purchase_revenue) as revenue,
        -- the only distinct aggregate: Spark plans it in two steps without expanding rows
        count(distinct user_id) as active_users,
        {{ load_stamp() }} as loaded_at,
        -- partition column last: Spark stores partition columns at the end
        event_date
    from events
    group by event_date, event_hour

)

select * from final
