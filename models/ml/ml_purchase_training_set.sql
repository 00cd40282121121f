{{ config(materialized='view') }}

{#-
  User purchase propensity: one row per (user, split). Features come only from
  events in [feature_start_date, feature_end_date); the label is a purchase in
  [label_start_date, label_end_date), which starts where the features end.
  The splits and their windows (train, test, the rolling-origin folds, score,
  same_window) are the purchase_propensity rows of ml_training_windows.

  Features are sums over the user's rows in fct_user_daily_activity within the
  feature window. Every feature except `purchases` and `purchase_value` is
  computed from non-purchase events, so in the same window only those two
  carry the label (and the ml package drops them there).
-#}

with user_days as (

    select
        user_id,
        event_date,
        views,
        carts,
        remove_from_carts,
        purchases,
        browsing_events,
        browsing_sessions,
        distinct_products,
        distinct_categories,
        view_value,
        max_view_price,
        cart_value,
        revenue
    from {{ ref('fct_user_daily_activity') }}

),

training_windows as (

    select
        split,
        start_date,
        feature_end_date,
        label_start_date,
        end_date
    from {{ ref('ml_training_windows') }}
    where task = 'purchase_propensity'

),

windows as (

    select
        split,
        start_date as feature_start_date,
        feature_end_date,
        label_start_date,
        case when label_start_date is not null then end_date end as label_end_date
    from training_windows

),

window_days as (

    select
        windows.split,
        windows.feature_start_date,
        windows.feature_end_date,
        windows.label_start_date,
        windows.label_end_date,
        user_days.user_id,
        user_days.event_date,
        user_days.views,
        user_days.carts,
        user_days.remove_from_carts,
        user_days.purchases,
        user_days.browsing_events,
        user_days.browsing_sessions,
        user_days.distinct_products,
        user_days.distinct_categories,
        user_days.view_value,
        user_days.max_view_price,
        user_days.cart_value,
        user_days.revenue
    from user_days
    inner join windows
        on user_days.event_date >= windows.feature_start_date
        and user_days.event_date < windows.feature_end_date

),

features as (

    -- sums over the user's days in the window; sessions, products and
    -- categories count browsing only (a purchase is the label in the same window)
    select
        split,
        user_id,
        min(feature_start_date) as feature_start_date,
        min(feature_end_date) as feature_end_date,
        min(label_start_date) as label_start_date,
        min(label_end_date) as label_end_date,
        sum(views) as views,
        sum(carts) as carts,
        sum(remove_from_carts) as remove_from_carts,
        sum(purchases) as purchases,
        sum(browsing_sessions) as sessions,
        count_if(browsing_events > 0) as active_days,
        sum(distinct_products) as product_days,
        sum(distinct_categories) as category_days,
        coalesce({{ safe_divide('sum(view_value)', 'sum(views)') }}, 0) as avg_view_price,
        coalesce(max(max_view_price), 0) as max_view_price,
        sum(cart_value) as cart_value,
        sum(revenue) as purchase_value,
        sum(browsing_events) as browsing_events,
        max(case when browsing_events > 0 then event_date end) as last_browsing_date
    from window_days
    group by split, user_id

),

labels as (

    select distinct
        windows.split,
        user_days.user_id
    from user_days
    inner join windows
        on user_days.event_date >= windows.label_start_date
        and user_days.event_date < windows.label_end_date
    where user_days.purchases > 0

),

final as (

    select
        features.user_id,
        features.split,
        features.feature_start_date,
        features.feature_end_date,
        features.label_start_date,
        features.label_end_date,
        features.views,
        features.carts,
        features.remove_from_carts,
        features.purchases,
        features.sessions,
        features.active_days,
        features.product_days,
        features.category_days,
        cast(features.avg_view_price as double) as avg_view_price,
        cast(features.max_view_price as double) as max_view_price,
        cast(features.cart_value as double) as cart_value,
        cast(features.purchase_value as double) as purchase_value,
        -- users who only bought in the window have no browsing: the whole window
        coalesce(
            datediff(features.feature_end_date, features.last_browsing_date),
            datediff(features.feature_end_date, features.feature_start_date)
        ) as days_since_last_event,
        coalesce({{ safe_divide('features.carts', 'features.views') }}, 0) as view_to_cart_rate,
        coalesce({{ safe_divide('features.browsing_events', 'features.sessions') }}, 0) as events_per_session,
        case
            when features.split = 'score' then cast(null as int)
            when labels.user_id is not null then 1
            else 0
        end as purchased
    from features
    left join labels
        on features.split = labels.split
        and features.user_id = labels.user_id

)

select * from final
