{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['session_date'],
    )
}}

{#- One row per session. Sessions are date-local (see fct_events), so a date's
    sessions come from that date's events alone and are rebuilt with it. -#}

{%- set dates = dates_to_rebuild(ref('fct_events'), date_column='event_date') %}

with events as (

    select
        session_key,
        user_id,
        user_session,
        is_derived_session,
        event_at,
        event_date,
        is_view,
        is_cart,
        is_remove_from_cart,
        is_purchase,
        purchase_revenue,
        product_id
    from {{ ref('fct_events') }}
    where {{ in_dates('event_date', dates) }}

),

session_totals as (

    select
        session_key,
        user_id,
        event_date,
        max(user_session) as user_session,
        max(is_derived_session) as is_derived_session,
        min(event_at) as session_start_at,
        max(event_at) as session_end_at,
        count(*) as events,
        count_if(is_view) as views,
        count_if(is_cart) as carts,
        count_if(is_remove_from_cart) as remove_from_carts,
        count_if(is_purchase) as purchases,
        size(collect_set(product_id)) as distinct_products,
        sum(purchase_revenue) as revenue,
        min(case when is_view then event_at end) as first_view_at,
        min(case when is_cart then event_at end) as first_cart_at,
        min(case when is_purchase then event_at end) as first_purchase_at
    from events
    group by session_key, user_id, event_date

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
        views + carts + remove_from_carts > 0 as has_browsing,
        case
            when purchases > 0 then 'purchased'
            when carts > 0 then 'carted'
            else 'viewed_only'
        end as funnel_stage,
        first_view_at,
        first_cart_at,
        first_purchase_at,
        {{ load_stamp() }} as loaded_at,
        -- partition column last: Spark stores partition columns at the end
        event_date as session_date
    from session_totals

)

select * from final
