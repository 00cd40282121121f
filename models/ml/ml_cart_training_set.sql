{#-
  Cart conversion: one row per cart addition, with what was known at that
  moment (history counts use only strictly earlier events) and the label: the
  same user buys the same product within ml_cart_label_window_hours after it.

    train  labelled carts before the gap
    test   labelled carts of the last ml_cart_test_days days with a closed label window
    open   carts whose label window is still open and not yet bought: the ones
           to score for retargeting

  Left out: carts in the label window just before the test days (their labels
  would reach into the test period) and open carts already bought.
-#}

{%- set label_hours = var('ml_cart_label_window_hours') %}
{%- set test_days = var('ml_cart_test_days') %}
{%- set label_seconds = label_hours ~ ' * 3600' %}

with events as (

    select
        event_id,
        user_id,
        product_id,
        session_key,
        event_at,
        event_date,
        event_type,
        event_hour,
        event_weekday,
        event_iso_week,
        category_id,
        category_l1,
        category_l2,
        brand,
        price
    from {{ ref('int_events_sessionised') }}

),

category_prices as (

    -- catalogue information (list prices), not behaviour: safe to use at any time
    select
        category_id,
        avg(price) as category_mean_price
    from events
    group by category_id

),

-- History counts need windows over all events. To keep the shuffles small at
-- full scale, they run on narrow rows, and every user-level window is keyed by
-- user_id first (a session and a user-product pair belong to one user), so one
-- shuffle by user and one by product serve them all.
flagged as (

    select
        event_id,
        user_id,
        product_id,
        session_key,
        event_at,
        event_type = 'cart' as is_cart_event,
        case when event_type = 'view' then 1 else 0 end as is_view,
        case when event_type = 'cart' then 1 else 0 end as is_cart,
        case when event_type = 'purchase' then 1 else 0 end as is_purchase
    from events

),

session_starts as (

    select
        *,
        row_number() over (partition by user_id, session_key order by event_at asc, event_id asc)
            as position_in_session
    from flagged

),

user_history as (

    select
        event_id,
        is_cart_event,
        coalesce(sum(is_view) over user_before, 0) as user_views_before,
        coalesce(sum(is_cart) over user_before, 0) as user_carts_before,
        coalesce(sum(is_purchase) over user_before, 0) as user_purchases_before,
        coalesce(sum(case when position_in_session = 1 then 1 else 0 end) over user_before, 0)
            as user_sessions_before,
        coalesce(sum(is_view) over session_before, 0) as session_views_before,
        coalesce(sum(is_cart) over session_before, 0) as session_carts_before,
        coalesce(sum(is_view) over user_product_before, 0) as user_product_views_before,
        min(event_at) over session_before as session_start_at
    from session_starts
    window
        user_before as (
            partition by user_id order by event_at asc, event_id asc
            rows between unbounded preceding and 1 preceding
        ),
        session_before as (
            partition by user_id, session_key order by event_at asc, event_id asc
            rows between unbounded preceding and 1 preceding
        ),
        user_product_before as (
            partition by user_id, product_id order by event_at asc, event_id asc
            rows between unbounded preceding and 1 preceding
        )

),

product_history as (

    select
        event_id,
        is_cart_event,
        coalesce(sum(is_view) over product_before, 0) as product_views_before,
        coalesce(sum(is_cart) over product_before, 0) as product_carts_before,
        coalesce(sum(is_purchase) over product_before, 0) as product_purchases_before
    from flagged
    window
        product_before as (
            partition by product_id order by event_at asc, event_id asc
            rows between unbounded preceding and 1 preceding
        )

),

carts as (

    select
        events.*,
        user_history.user_views_before,
        user_history.user_carts_before,
        user_history.user_purchases_before,
        user_history.user_sessions_before,
        user_history.session_views_before,
        user_history.session_carts_before,
        user_history.user_product_views_before,
        user_history.session_start_at,
        product_history.product_views_before,
        product_history.product_carts_before,
        product_history.product_purchases_before
    from events
    inner join user_history
        on events.event_id = user_history.event_id
    inner join product_history
        on events.event_id = product_history.event_id
    where
        events.event_type = 'cart'
        and user_history.is_cart_event
        and product_history.is_cart_event

),

purchases as (

    select
        user_id,
        product_id,
        event_at as purchase_at
    from events
    where event_type = 'purchase'

),

labelled as (

    select
        carts.event_id,
        max(
            case
                when unix_timestamp(purchases.purchase_at) <= unix_timestamp(carts.event_at) + {{ label_seconds }}
                    then 1
                else 0
            end
        ) as purchased_in_window
    from carts
    inner join purchases
        on carts.user_id = purchases.user_id
        and carts.product_id = purchases.product_id
        and carts.event_at <= purchases.purchase_at
    group by carts.event_id

),

bounds as (

    select
        max(event_at) as last_event_at,
        -- the last date whose carts all have a closed label window
        to_date(timestamp_seconds(max(unix_timestamp(event_at)) - {{ label_seconds }})) as last_closed_date
    from events

),

split_dates as (

    select
        last_event_at,
        -- test: the last ml_cart_test_days closed days; train: up to a gap of
        -- the label window (in whole days) before them
        date_sub(last_closed_date, {{ test_days }}) as last_gap_date,
        date_sub(last_closed_date, {{ test_days }} + cast(ceil({{ label_hours }} / 24.0) as int))
            as last_train_date
    from bounds

),

assigned as (

    select
        carts.*,
        coalesce(labelled.purchased_in_window, 0) as purchased,
        case
            when unix_timestamp(carts.event_at) + {{ label_seconds }} > unix_timestamp(split_dates.last_event_at)
                then case when coalesce(labelled.purchased_in_window, 0) = 0 then 'open' end
            when carts.event_date > split_dates.last_gap_date then 'test'
            when carts.event_date <= split_dates.last_train_date then 'train'
        end as split
    from carts
    cross join split_dates
    left join labelled
        on carts.event_id = labelled.event_id

),

final as (

    select
        assigned.event_id as cart_event_id,
        assigned.user_id,
        assigned.product_id,
        assigned.event_at as cart_at,
        assigned.event_date as cart_date,
        assigned.split,
        assigned.event_hour as hour_of_day,
        assigned.event_weekday as day_of_week,
        assigned.event_iso_week as iso_week,
        coalesce(assigned.category_l1, 'unknown') as category_l1,
        coalesce(assigned.category_l2, 'unknown') as category_l2,
        coalesce(assigned.brand, 'unknown') as brand,
        cast(assigned.price as double) as price,
        coalesce(
            cast({{ safe_divide('assigned.price', 'category_prices.category_mean_price') }} as double), 1.0
        ) as price_relative_to_category,
        assigned.user_views_before,
        assigned.user_carts_before,
        assigned.user_purchases_before,
        assigned.user_sessions_before,
        assigned.product_views_before,
        assigned.product_carts_before,
        assigned.product_purchases_before,
        assigned.session_views_before,
        assigned.session_carts_before,
        coalesce(
            unix_timestamp(assigned.event_at) - unix_timestamp(assigned.session_start_at), 0
        ) as seconds_since_session_start,
        case when assigned.user_product_views_before > 0 then 1 else 0 end as user_viewed_product_before,
        case when assigned.split = 'open' then cast(null as int) else assigned.purchased end as purchased
    from assigned
    left join category_prices
        on assigned.category_id = category_prices.category_id
    where assigned.split is not null

)

select * from final
