{{ config(materialized='view') }}

{#-
  Cart conversion: one row per cart addition, with what was known at that
  moment (ml_cart_features: history counted strictly before the cart) and the
  label: the same user buys the same product within ml_cart_label_window_hours
  after it (fct_cart_outcomes).

    train  labelled carts before the gap
    gap    labelled carts in the label window just before the test days: left
           out of the forecast (their labels would reach into the test
           period); the earlier rolling-origin folds test on them
    test   labelled carts of the last ml_cart_test_days days with a closed label window
    open   carts whose label window is still open and not yet bought: the ones
           to score for retargeting

  Left out: open carts already bought.
-#}

{%- set label_hours = var('ml_cart_label_window_hours') %}
{%- set label_seconds = label_hours ~ ' * 3600' %}

with cart_features as (

    select
        cart_event_id,
        user_id,
        product_id,
        cart_at,
        cart_date,
        hour_of_day,
        day_of_week,
        iso_week,
        category_l1,
        category_l2,
        brand,
        price,
        price_relative_to_category,
        user_views_before,
        user_carts_before,
        user_purchases_before,
        user_sessions_before,
        product_views_before,
        product_carts_before,
        product_purchases_before,
        session_views_before,
        session_carts_before,
        seconds_since_session_start,
        user_viewed_product_today
    from {{ ref('ml_cart_features') }}

),

cart_outcomes as (

    select
        cart_event_id,
        next_purchase_at
    from {{ ref('fct_cart_outcomes') }}

),

user_days as (

    select last_event_at from {{ ref('fct_user_daily_activity') }}

),

training_windows as (

    select
        split,
        start_date,
        end_date
    from {{ ref('ml_training_windows') }}
    where task = 'cart_conversion' and split in ('train', 'test')

),

last_event as (

    select max(last_event_at) as last_event_at from user_days

),

split_dates as (

    -- carts before the train end date are train, from the test start date on
    -- test, in between gap (see ml_training_windows)
    select
        last_event.last_event_at,
        max(case when training_windows.split = 'train' then training_windows.end_date end) as train_end_date,
        max(case when training_windows.split = 'test' then training_windows.start_date end) as test_start_date
    from training_windows
    cross join last_event
    group by last_event.last_event_at

),

labelled as (

    select
        cart_features.*,
        case
            when unix_timestamp(cart_outcomes.next_purchase_at)
                <= unix_timestamp(cart_features.cart_at) + {{ label_seconds }}
                then 1
            else 0
        end as purchased_in_window
    from cart_features
    inner join cart_outcomes
        on cart_features.cart_event_id = cart_outcomes.cart_event_id

),

assigned as (

    select
        labelled.*,
        case
            when unix_timestamp(labelled.cart_at) + {{ label_seconds }} > unix_timestamp(split_dates.last_event_at)
                then case when labelled.purchased_in_window = 0 then 'open' end
            when labelled.cart_date >= split_dates.test_start_date then 'test'
            when labelled.cart_date < split_dates.train_end_date then 'train'
            else 'gap'
        end as split
    from labelled
    cross join split_dates

),

final as (

    select
        cart_event_id,
        user_id,
        product_id,
        cart_at,
        cart_date,
        split,
        hour_of_day,
        day_of_week,
        iso_week,
        category_l1,
        category_l2,
        brand,
        price,
        price_relative_to_category,
        user_views_before,
        user_carts_before,
        user_purchases_before,
        user_sessions_before,
        product_views_before,
        product_carts_before,
        product_purchases_before,
        session_views_before,
        session_carts_before,
        seconds_since_session_start,
        user_viewed_product_today,
        case when split = 'open' then cast(null as int) else purchased_in_window end as purchased
    from assigned
    where split is not null

)

select * from final
