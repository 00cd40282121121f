{#- The funnel per price band (bands in the price_bands seed). -#}

with dimension_funnel as (

    select * from {{ ref('mart_funnel_by_dimension') }}
    where dimension = 'price_band'

),

final as (

    select
        price_band,
        price_band_order,
        views,
        carts,
        purchases,
        remove_from_carts,
        unique_users,
        viewers,
        carters,
        purchasers,
        sessions,
        revenue,
        view_to_cart_rate,
        cart_to_purchase_rate,
        view_to_purchase_rate,
        user_purchase_rate
    from dimension_funnel

)

select * from final
