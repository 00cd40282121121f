{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['cart_date'],
    )
}}

{#-
  What was known about a cart addition at the moment it happened: one row per
  cart event with the history features of the cart-conversion model.

  History is counted strictly before the cart: earlier days come from the daily
  aggregates (running totals over fct_user_daily_activity and
  fct_product_daily_activity), the cart's own day from its events with
  time-range windows that end before the cart's timestamp, so events in the
  same second (the purchase that makes the label, for one) are never "before".
  Product and category figures are as of the start of the cart's day.

  Incremental: a cart's history depends on every earlier day, so a run
  rebuilds the cart dates from the earliest date that changed onwards.
-#}

{%- set dates = dates_to_rebuild(ref('fct_events'), and_later=true, yields_rows='is_cart') %}

with events as (

    select
        event_id,
        event_date,
        event_at,
        user_id,
        product_id,
        session_key,
        is_view,
        is_cart,
        is_purchase,
        event_hour,
        event_weekday,
        event_iso_week,
        category_id,
        category_l1,
        category_l2,
        brand,
        price
    from {{ ref('fct_events') }}
    where {{ in_dates('event_date', dates) }}

),

user_days as (

    select
        user_id,
        event_date,
        views,
        carts,
        purchases,
        sessions
    from {{ ref('fct_user_daily_activity') }}

),

product_days as (

    select
        product_id,
        category_id,
        event_date,
        events,
        views,
        carts,
        purchases,
        price_sum
    from {{ ref('fct_product_daily_activity') }}

),

cart_events as (

    select
        event_date,
        user_id,
        product_id
    from events
    where is_cart

),

-- the cart's own day: only the days of users who added something to a cart
carting_user_day_events as (

    select
        events.event_id,
        events.event_date,
        events.event_at,
        events.user_id,
        events.product_id,
        events.session_key,
        events.is_view,
        events.is_cart,
        events.is_purchase,
        -- exactly one event opens each session (ties broken by event id); every
        -- window is keyed by user and date first, so one shuffle serves them all
        row_number() over (
            partition by events.user_id, events.event_date, events.session_key
            order by events.event_at, events.event_id
        ) = 1 as opens_session,
        unix_micros(events.event_at) as event_micros
    from events
    left semi join cart_events
        on events.event_date = cart_events.event_date
        and events.user_id = cart_events.user_id

),

same_day_history as (

    -- range frames ending 1 microsecond before the row: strictly earlier events
    select
        event_id,
        event_date,
        event_at,
        user_id,
        product_id,
        session_key,
        is_cart,
        count_if(is_view) over user_day_before as user_views_today,
        count_if(is_cart) over user_day_before as user_carts_today,
        count_if(is_purchase) over user_day_before as user_purchases_today,
        count_if(opens_session) over user_day_before as user_sessions_today,
        count_if(is_view) over session_before as session_views_before,
        count_if(is_cart) over session_before as session_carts_before,
        count_if(is_view) over user_product_day_before as user_product_views_today,
        min(event_at) over (partition by user_id, event_date, session_key) as session_start_at
    from carting_user_day_events
    window
        user_day_before as (
            partition by user_id, event_date order by event_micros
            range between unbounded preceding and 1 preceding
        ),
        session_before as (
            partition by user_id, event_date, session_key order by event_micros
            range between unbounded preceding and 1 preceding
        ),
        user_product_day_before as (
            partition by user_id, event_date, product_id order by event_micros
            range between unbounded preceding and 1 preceding
        )

),

user_history as (

    -- totals of the days before each day, for users who added something to a cart
    select
        user_id,
        event_date,
        coalesce(sum(views) over earlier_days, 0) as views_before_today,
        coalesce(sum(carts) over earlier_days, 0) as carts_before_today,
        coalesce(sum(purchases) over earlier_days, 0) as purchases_before_today,
        coalesce(sum(sessions) over earlier_days, 0) as sessions_before_today
    from user_days
    where user_id in (select cart_events.user_id from cart_events)
    window earlier_days as (
        partition by user_id order by event_date
        rows between unbounded preceding and 1 preceding
    )

),

product_totals as (

    select
        product_id,
        event_date,
        sum(views) as views,
        sum(carts) as carts,
        sum(purchases) as purchases
    from product_days
    group by product_id, event_date

),

product_history as (

    select
        product_id,
        event_date,
        coalesce(sum(views) over earlier_days, 0) as views_before_today,
        coalesce(sum(carts) over earlier_days, 0) as carts_before_today,
        coalesce(sum(purchases) over earlier_days, 0) as purchases_before_today
    from product_totals
    window earlier_days as (
        partition by product_id order by event_date
        rows between unbounded preceding and 1 preceding
    )

),

category_days as (

    select
        category_id,
        event_date,
        sum(price_sum) as price_sum,
        sum(events) as events
    from product_days
    group by category_id, event_date

),

category_history as (

    -- the category's mean event price over the days before each day
    select
        category_id,
        event_date,
        {{ safe_divide('sum(price_sum) over earlier_days', 'sum(events) over earlier_days') }}
            as mean_price_before_today
    from category_days
    window earlier_days as (
        partition by category_id order by event_date
        rows between unbounded preceding and 1 preceding
    )

),

cart_details as (

    select
        event_id as cart_event_id,
        event_at as cart_at,
        event_date as cart_date,
        event_hour,
        event_weekday,
        event_iso_week,
        category_id,
        category_l1,
        category_l2,
        brand,
        price
    from events
    where is_cart

),

final as (

    select
        cart_details.cart_event_id,
        same_day_history.user_id,
        same_day_history.product_id,
        same_day_history.session_key,
        cart_details.cart_at,
        cart_details.event_hour as hour_of_day,
        cart_details.event_weekday as day_of_week,
        cart_details.event_iso_week as iso_week,
        coalesce(cart_details.category_l1, 'unknown') as category_l1,
        coalesce(cart_details.category_l2, 'unknown') as category_l2,
        coalesce(cart_details.brand, 'unknown') as brand,
        cast(cart_details.price as double) as price,
        coalesce(
            {{ safe_divide('cart_details.price', 'category_history.mean_price_before_today') }}, 1.0
        ) as price_relative_to_category,
        user_history.views_before_today + same_day_history.user_views_today as user_views_before,
        user_history.carts_before_today + same_day_history.user_carts_today as user_carts_before,
        user_history.purchases_before_today + same_day_history.user_purchases_today
            as user_purchases_before,
        user_history.sessions_before_today + same_day_history.user_sessions_today
            as user_sessions_before,
        coalesce(product_history.views_before_today, 0) as product_views_before,
        coalesce(product_history.carts_before_today, 0) as product_carts_before,
        coalesce(product_history.purchases_before_today, 0) as product_purchases_before,
        same_day_history.session_views_before,
        same_day_history.session_carts_before,
        unix_timestamp(cart_details.cart_at) - unix_timestamp(same_day_history.session_start_at)
            as seconds_since_session_start,
        case when same_day_history.user_product_views_today > 0 then 1 else 0 end
            as user_viewed_product_today,
        {{ load_stamp() }} as loaded_at,
        -- partition column last: Spark stores partition columns at the end
        cart_details.cart_date
    from same_day_history
    inner join cart_details
        on same_day_history.event_id = cart_details.cart_event_id
    inner join user_history
        on same_day_history.user_id = user_history.user_id
        and same_day_history.event_date = user_history.event_date
    left join product_history
        on same_day_history.product_id = product_history.product_id
        and same_day_history.event_date = product_history.event_date
    left join category_history
        on cart_details.category_id = category_history.category_id
        and cart_details.cart_date = category_history.event_date
    where same_day_history.is_cart

)

select * from final
