{#-
  User purchase propensity: one row per (user, split). Features come only from
  events in [feature_start_date, feature_end_date); the label is a purchase in
  [label_start_date, label_end_date), which starts where the features end.

    test        features: the F days before the last L days; label: the last L days
    train       the same windows moved back by L days (its label window ends
                where the test label window starts)
                (test and train only when the data covers their feature
                window: a window cut short by the first event date would
                count less activity than its length promises; without them
                the task is skipped, with that reason, in ml_model_metrics)
    score       features: the last F days; no label yet (what predictions use)
    same_window features and label over the whole period: the original study's
                setup, reported for comparison, not a forecast
    rolling_<k>_test, rolling_<k>_train
                rolling-origin fold k (k = 2 .. ml_rolling_origin_folds): the
                test and train windows moved back (k - 1) x
                ml_rolling_origin_step_days days; a fold is left out when its
                train features would start before the first event date
                (fold 1 is test/train itself)

  Features are sums over the user's rows in fct_user_daily_activity within the
  feature window. Every feature except `purchases` and `purchase_value` is
  computed from non-purchase events, so in the same window only those two
  carry the label (and the ml package drops them there).
-#}

{%- set feature_days = var('ml_feature_window_days') %}
{%- set label_days = var('ml_label_window_days') %}
{%- set folds = var('ml_rolling_origin_folds') | int %}
{%- set step_days = var('ml_rolling_origin_step_days') | int %}

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

bounds as (

    select
        min(event_date) as first_date,
        date_add(max(event_date), 1) as end_date
    from user_days

),

windows as (

    select
        'test' as split,
        date_sub(end_date, {{ label_days }} + {{ feature_days }}) as feature_start_date,
        date_sub(end_date, {{ label_days }}) as feature_end_date,
        date_sub(end_date, {{ label_days }}) as label_start_date,
        end_date as label_end_date
    from bounds
    where date_sub(end_date, {{ label_days }} + {{ feature_days }}) >= first_date
    union all
    select
        'train' as split,
        date_sub(end_date, 2 * {{ label_days }} + {{ feature_days }}) as feature_start_date,
        date_sub(end_date, 2 * {{ label_days }}) as feature_end_date,
        date_sub(end_date, 2 * {{ label_days }}) as label_start_date,
        date_sub(end_date, {{ label_days }}) as label_end_date
    from bounds
    where date_sub(end_date, 2 * {{ label_days }} + {{ feature_days }}) >= first_date
    union all
    select
        'score' as split,
        date_sub(end_date, {{ feature_days }}) as feature_start_date,
        end_date as feature_end_date,
        cast(null as date) as label_start_date,
        cast(null as date) as label_end_date
    from bounds
    union all
    select
        'same_window' as split,
        first_date as feature_start_date,
        end_date as feature_end_date,
        first_date as label_start_date,
        end_date as label_end_date
    from bounds
    {%- for fold in range(2, folds + 1) %}
    {%- set shift = (fold - 1) * step_days %}
    {%- for part, offset in [('test', 0), ('train', label_days)] %}
    union all
    select
        'rolling_{{ fold }}_{{ part }}' as split,
        date_sub(end_date, {{ label_days }} + {{ feature_days }} + {{ offset + shift }}) as feature_start_date,
        date_sub(end_date, {{ label_days }} + {{ offset + shift }}) as feature_end_date,
        date_sub(end_date, {{ label_days }} + {{ offset + shift }}) as label_start_date,
        date_sub(end_date, {{ offset + shift }}) as label_end_date
    from bounds
    where date_sub(end_date, 2 * {{ label_days }} + {{ feature_days }} + {{ shift }}) >= first_date
    {%- endfor %}
    {%- endfor %}

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
