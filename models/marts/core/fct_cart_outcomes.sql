{{ config(partition_by=['cart_date']) }}

{#- One row per cart addition, with what came of it: the first purchase of the
    same product by the same user at or after the addition (any time later in
    the data). Cart-to-purchase conversion in the marts and the label of the
    cart-conversion model both come from here. Rebuilt in full on every run:
    a purchase today settles carts of any earlier day. -#}

with cart_and_purchase_events as (

    select
        event_id,
        user_id,
        product_id,
        session_key,
        event_at,
        event_date,
        event_hour,
        event_weekday,
        event_iso_week,
        category_id,
        category_code,
        category_l1,
        category_l2,
        brand,
        price,
        is_cart,
        is_purchase
    from {{ ref('fct_events') }}
    where is_cart or is_purchase

),

with_next_purchase as (

    select
        *,
        -- a range frame: purchases in the same second as the cart count as after it
        min(case when is_purchase then event_at end) over (
            partition by user_id, product_id order by event_at
            range between current row and unbounded following
        ) as next_purchase_at
    from cart_and_purchase_events

),

final as (

    select
        event_id as cart_event_id,
        user_id,
        product_id,
        session_key,
        event_at as cart_at,
        event_hour,
        event_weekday,
        event_iso_week,
        category_id,
        category_code,
        category_l1,
        category_l2,
        brand,
        price,
        next_purchase_at,
        (unix_timestamp(next_purchase_at) - unix_timestamp(event_at)) / 3600.0 as hours_to_next_purchase,
        event_date as cart_date
    from with_next_purchase
    where is_cart

)

select * from final
