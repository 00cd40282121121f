{#-
  User purchase propensity: one row per (user, split). Features come only from
  events in [feature_start_date, feature_end_date); the label is a purchase in
  [label_start_date, label_end_date), which starts where the features end.

    test        features: the F days before the last L days; label: the last L days
    train       the same windows moved back by L days (its label window ends
                where the test label window starts)
    score       features: the last F days; no label yet (what predictions use)
    same_window features and label over the whole period: the original study's
                setup, reported for comparison, not a forecast

  Every feature except `purchases` and `purchase_value` is computed from
  non-purchase events, so in the same window only those two carry the label
  (and the ml package drops them there).
-#}

{%- set feature_days = var('ml_feature_window_days') %}
{%- set label_days = var('ml_label_window_days') %}

with events as (

    select
        user_id,
        session_key,
        event_date,
        event_type,
        product_id,
        category_id,
        price
    from {{ ref('int_events_sessionised') }}

),

bounds as (

    select
        min(event_date) as first_date,
        date_add(max(event_date), 1) as end_date
    from events

),

windows as (

    select
        'test' as split,
        date_sub(end_date, {{ label_days }} + {{ feature_days }}) as feature_start_date,
        date_sub(end_date, {{ label_days }}) as feature_end_date,
        date_sub(end_date, {{ label_days }}) as label_start_date,
        end_date as label_end_date
    from bounds
    union all
    select
        'train' as split,
        date_sub(end_date, 2 * {{ label_days }} + {{ feature_days }}) as feature_start_date,
        date_sub(end_date, 2 * {{ label_days }}) as feature_end_date,
        date_sub(end_date, 2 * {{ label_days }}) as label_start_date,
        date_sub(end_date, {{ label_days }}) as label_end_date
    from bounds
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

),

window_events as (

    select
        windows.split,
        windows.feature_start_date,
        windows.feature_end_date,
        windows.label_start_date,
        windows.label_end_date,
        events.user_id,
        events.session_key,
        events.event_date,
        events.event_type,
        events.product_id,
        events.category_id,
        events.price,
        events.event_type != 'purchase' as is_browsing
    from events
    inner join windows
        on events.event_date >= windows.feature_start_date
        and events.event_date < windows.feature_end_date

),

features as (

    select
        split,
        user_id,
        min(feature_start_date) as feature_start_date,
        min(feature_end_date) as feature_end_date,
        min(label_start_date) as label_start_date,
        min(label_end_date) as label_end_date,
        count_if(event_type = 'view') as views,
        count_if(event_type = 'cart') as carts,
        count_if(event_type = 'remove_from_cart') as remove_from_carts,
        count_if(event_type = 'purchase') as purchases,
        count(distinct case when is_browsing then session_key end) as sessions,
        count(distinct case when is_browsing then event_date end) as active_days,
        count(distinct case when is_browsing then product_id end) as distinct_products,
        count(distinct case when is_browsing then category_id end) as distinct_categories,
        coalesce(avg(case when event_type = 'view' then price end), 0) as avg_view_price,
        coalesce(max(case when event_type = 'view' then price end), 0) as max_view_price,
        coalesce(sum(case when event_type = 'cart' then price end), 0) as cart_value,
        coalesce(sum(case when event_type = 'purchase' then price end), 0) as purchase_value,
        count_if(is_browsing) as browsing_events,
        max(case when is_browsing then event_date end) as last_browsing_date
    from window_events
    group by split, user_id

),

labels as (

    select distinct
        windows.split,
        events.user_id
    from events
    inner join windows
        on events.event_date >= windows.label_start_date
        and events.event_date < windows.label_end_date
    where events.event_type = 'purchase'

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
        features.distinct_products,
        features.distinct_categories,
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
