{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['event_date'],
    )
}}

{#- What each user did on each day: the compact grain that every user-level
    mart (RFM, behavioural segments), the daily funnel and the purchase-
    propensity training set sum over, so that "the sessions of a user" or "the
    revenue of a user" is computed here once. Sessions are date-local, so daily
    session counts add up over any range of days; distinct products and
    categories are per day ("product-days" when summed). -#}

{%- set dates = dates_to_rebuild(ref('fct_events')) %}

with events as (

    select
        user_id,
        event_date,
        event_at,
        session_key,
        product_id,
        category_id,
        price,
        purchase_revenue,
        is_view,
        is_cart,
        is_remove_from_cart,
        is_purchase,
        is_browsing
    from {{ ref('fct_events') }}
    where {{ in_dates('event_date', dates) }}

),

daily as (

    -- distinct counts as set sizes: one aggregation pass, no row expansion
    -- per distinct aggregate (the sets are small: one user, one day)
    select
        user_id,
        event_date,
        count(*) as events,
        count_if(is_view) as views,
        count_if(is_cart) as carts,
        count_if(is_remove_from_cart) as remove_from_carts,
        count_if(is_purchase) as purchases,
        count_if(is_browsing) as browsing_events,
        sum(purchase_revenue) as revenue,
        coalesce(sum(case when is_cart then price end), 0) as cart_value,
        coalesce(sum(case when is_view then price end), 0) as view_value,
        max(case when is_view then price end) as max_view_price,
        size(collect_set(session_key)) as sessions,
        size(collect_set(case when is_browsing then session_key end)) as browsing_sessions,
        size(collect_set(case when is_purchase then session_key end)) as purchase_sessions,
        size(collect_set(case when is_browsing then product_id end)) as distinct_products,
        size(collect_set(case when is_browsing then category_id end)) as distinct_categories,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at,
        max(case when is_purchase then event_at end) as last_purchase_at
    from events
    group by user_id, event_date

),

final as (

    select
        user_id,
        events,
        views,
        carts,
        remove_from_carts,
        purchases,
        browsing_events,
        revenue,
        cart_value,
        view_value,
        max_view_price,
        sessions,
        browsing_sessions,
        purchase_sessions,
        distinct_products,
        distinct_categories,
        first_event_at,
        last_event_at,
        last_purchase_at,
        {{ load_stamp() }} as loaded_at,
        -- partition column last: Spark stores partition columns at the end
        event_date
    from daily

)

select * from final
