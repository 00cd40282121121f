{#- One row per user with at least one purchase: the inputs of RFM. -#}

with purchases as (

    select
        user_id,
        session_key,
        event_at,
        price
    from {{ ref('int_events_sessionised') }}
    where event_type = 'purchase'

),

final as (

    select
        user_id,
        min(event_at) as first_purchase_at,
        max(event_at) as last_purchase_at,
        count(*) as purchase_events,
        count(distinct session_key) as purchase_sessions,
        sum(price) as purchase_value
    from purchases
    group by user_id

)

select * from final
