{#- One row per (user, product) the user added to a cart: when first, and
    whether and when the same user bought that product at or after that time. -#}

with events as (

    select
        user_id,
        product_id,
        event_type,
        event_at,
        category_l1,
        brand,
        price
    from {{ ref('int_events_sessionised') }}
    where event_type in ('cart', 'purchase')

),

carts as (

    select
        user_id,
        product_id,
        min(event_at) as first_cart_at,
        count(*) as cart_events,
        min_by(category_l1, event_at) as category_l1,
        min_by(brand, event_at) as brand,
        min_by(price, event_at) as cart_price
    from events
    where event_type = 'cart'
    group by user_id, product_id

),

purchases as (

    select
        user_id,
        product_id,
        event_at as purchase_at
    from events
    where event_type = 'purchase'

),

purchases_after_cart as (

    select
        carts.user_id,
        carts.product_id,
        min(purchases.purchase_at) as first_purchase_after_cart_at
    from carts
    inner join purchases
        on carts.user_id = purchases.user_id
        and carts.product_id = purchases.product_id
        and carts.first_cart_at <= purchases.purchase_at
    group by carts.user_id, carts.product_id

),

final as (

    select
        carts.user_id,
        carts.product_id,
        carts.category_l1,
        carts.brand,
        carts.cart_price,
        carts.first_cart_at,
        carts.cart_events,
        purchases_after_cart.first_purchase_after_cart_at,
        purchases_after_cart.first_purchase_after_cart_at is not null as purchased_after_cart,
        (
            unix_timestamp(purchases_after_cart.first_purchase_after_cart_at)
            - unix_timestamp(carts.first_cart_at)
        ) / 3600.0 as hours_to_purchase
    from carts
    left join purchases_after_cart
        on carts.user_id = purchases_after_cart.user_id
        and carts.product_id = purchases_after_cart.product_id

)

select * from final
