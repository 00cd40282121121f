{{
    config(
        materialized='table',
        partition_by=['event_date'],
    )
}}

{#-
  stg_events with the session each event belongs to and its price band.
  A session is (user_id, user_session): the store's session id alone is not a
  key because one id can appear under two users. Events without a session id
  are split per user at gaps longer than `session_inactivity_minutes`.
-#}

{%- set event_columns = [
    'event_id', 'event_at', 'event_hour', 'event_weekday', 'event_weekday_name',
    'event_iso_week', 'event_type', 'product_id', 'category_id', 'category_code',
    'category_l1', 'category_l2', 'category_l3', 'brand', 'price', 'user_id',
    'user_session', 'event_date',
] %}

with events as (

    select * from {{ ref('stg_events') }}

),

price_bands as (

    select * from {{ ref('price_bands') }}

),

with_store_session as (

    select
        {{ event_columns | join(',\n        ') }},
        md5(concat_ws('|', cast(user_id as string), user_session)) as session_key,
        false as is_derived_session
    from events
    where user_session is not null

),

without_session as (

    select
        *,
        lag(event_at) over (partition by user_id order by event_at, event_id) as previous_event_at
    from events
    where user_session is null

),

derived_session_starts as (

    select
        *,
        -- a new derived session starts at the user's first session-less event
        -- or after a gap longer than the inactivity limit
        sum(
            case
                when previous_event_at is null then 1
                when unix_timestamp(event_at) - unix_timestamp(previous_event_at)
                    > {{ var('session_inactivity_minutes') }} * 60 then 1
                else 0
            end
        ) over (
            partition by user_id order by event_at, event_id
            rows between unbounded preceding and current row
        ) as derived_session_number
    from without_session

),

with_derived_session as (

    select
        {{ event_columns | join(',\n        ') }},
        md5(concat_ws(
            '|', cast(user_id as string), 'derived', cast(derived_session_number as string)
        )) as session_key,
        true as is_derived_session
    from derived_session_starts

),

sessionised as (

    select * from with_store_session
    union all
    select * from with_derived_session

),

banded as (

    select
        sessionised.event_id,
        sessionised.event_at,
        sessionised.event_hour,
        sessionised.event_weekday,
        sessionised.event_weekday_name,
        sessionised.event_iso_week,
        sessionised.event_type,
        sessionised.product_id,
        sessionised.category_id,
        sessionised.category_code,
        sessionised.category_l1,
        sessionised.category_l2,
        sessionised.category_l3,
        sessionised.brand,
        sessionised.price,
        price_bands.price_band,
        price_bands.price_band_order,
        sessionised.user_id,
        sessionised.user_session,
        sessionised.session_key,
        sessionised.is_derived_session,
        sessionised.event_date
    from sessionised
    left join price_bands
        on sessionised.price >= price_bands.min_price
        and (price_bands.max_price is null or sessionised.price < price_bands.max_price)

)

select * from banded
