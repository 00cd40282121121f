{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by=['event_date'],
    )
}}

{#-
  The event fact: one row per staged event, and the one model that knows what
  an event means. Event types become flags here (`is_view`, `is_cart`, ...) and
  revenue becomes `purchase_revenue`; every later model sums these instead of
  comparing event types, so the vocabulary lives in this file only.

  Sessions are date-local: a session is (user, store session id, UTC date);
  events without a session id are split per user and date at gaps longer than
  `session_inactivity_minutes`. So every date follows from its own events and
  the fact is rebuilt date by date. The events are written once, here:
  stg_events is a view whose de-duplication runs for the dates being rebuilt.
  (The fact itself as a view was measured at 10 M events: it saved writing
  the fact but every one of its readers paid more than that in
  recomputation.)
-#}

{#- the dates whose parsed lines are newer than this fact (stg_events, a view
    over them, has no load stamp of its own) -#}
{%- set dates = dates_to_rebuild(ref('base_rees46__event_lines'), yields_rows='quarantine_reason is null') %}

{%- set event_columns = [
    'event_id', 'event_at', 'event_type', 'product_id', 'category_id', 'category_code',
    'brand', 'price', 'user_id', 'user_session', 'source_row_count', 'event_date',
] %}

with events as (

    select
        {{ event_columns | join(', ') }}
    from {{ ref('stg_events') }}
    where {{ in_dates('event_date', dates) }}

),

price_bands as (

    select * from {{ ref('price_bands') }}

),

with_store_session as (

    select
        {{ event_columns | join(', ') }},
        {{ session_key('user_session') }} as session_key,
        false as is_derived_session
    from events
    where user_session is not null

),

without_session as (

    select
        {{ event_columns | join(', ') }},
        lag(event_at) over (partition by user_id, event_date order by event_at, event_id) as previous_event_at
    from events
    where user_session is null

),

derived_session_starts as (

    select
        *,
        -- a new derived session starts at the user's first session-less event
        -- of the day or after a gap longer than the inactivity limit
        sum(
            case
                when previous_event_at is null then 1
                when unix_timestamp(event_at) - unix_timestamp(previous_event_at)
                    > {{ var('session_inactivity_minutes') }} * 60 then 1
                else 0
            end
        ) over (
            partition by user_id, event_date order by event_at, event_id
            rows between unbounded preceding and current row
        ) as derived_session_number
    from without_session

),

with_derived_session as (

    select
        {{ event_columns | join(', ') }},
        {{ session_key("concat('derived-', derived_session_number)") }} as session_key,
        true as is_derived_session
    from derived_session_starts

),

sessionised as (

    select * from with_store_session
    union all
    select * from with_derived_session

),

final as (

    select
        sessionised.event_id,
        sessionised.event_at,
        hour(sessionised.event_at) as event_hour,
        weekday(sessionised.event_at) + 1 as event_weekday,
        date_format(sessionised.event_at, 'EEE') as event_weekday_name,
        weekofyear(sessionised.event_at) as event_iso_week,
        sessionised.event_type,
        -- the event vocabulary, once
        sessionised.event_type = 'view' as is_view,
        sessionised.event_type = 'cart' as is_cart,
        sessionised.event_type = 'remove_from_cart' as is_remove_from_cart,
        sessionised.event_type = 'purchase' as is_purchase,
        sessionised.event_type != 'purchase' as is_browsing,
        case when sessionised.event_type = 'purchase' then sessionised.price else 0 end as purchase_revenue,
        sessionised.product_id,
        sessionised.category_id,
        sessionised.category_code,
        split_part(sessionised.category_code, '.', 1) as category_l1,
        nullif(split_part(sessionised.category_code, '.', 2), '') as category_l2,
        nullif(split_part(sessionised.category_code, '.', 3), '') as category_l3,
        sessionised.brand,
        sessionised.price,
        price_bands.price_band,
        price_bands.price_band_order,
        sessionised.user_id,
        sessionised.user_session,
        sessionised.session_key,
        sessionised.is_derived_session,
        sessionised.source_row_count,
        {{ load_stamp() }} as loaded_at,
        -- partition column last: Spark stores partition columns at the end
        sessionised.event_date
    from sessionised
    left join price_bands
        on sessionised.price >= price_bands.min_price
        and (price_bands.max_price is null or sessionised.price < price_bands.max_price)

)

select * from final
