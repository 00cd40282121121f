{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['event_date'],
    )
}}

{#- The funnel per UTC date. A day's users and sessions are the rows and the
    session counts of that day in fct_user_daily_activity (sessions are
    date-local), so each date is rebuilt on its own. -#}

{%- set dates = dates_to_rebuild(ref('fct_user_daily_activity')) %}

with user_days as (

    select
        event_date,
        views,
        carts,
        purchases,
        remove_from_carts,
        sessions,
        revenue
    from {{ ref('fct_user_daily_activity') }}
    where {{ in_dates('event_date', dates) }}

),

daily as (

    select
        event_date,
        sum(views) as views,
        sum(carts) as carts,
        sum(purchases) as purchases,
        sum(remove_from_carts) as remove_from_carts,
        count(*) as unique_users,
        sum(sessions) as sessions,
        sum(revenue) as revenue
    from user_days
    group by event_date

),

final as (

    select
        views,
        carts,
        purchases,
        remove_from_carts,
        unique_users,
        sessions,
        revenue,
        {{ funnel_event_rates() }},
        {{ load_stamp() }} as loaded_at,
        -- partition column last: Spark stores partition columns at the end
        event_date
    from daily

)

select * from final
