{#- Conversion by price band within each level-1 category: does a higher price
    in the same category turn views into purchases less often? -#}

with dimension_funnel as (

    select * from {{ ref('mart_funnel_by_dimension') }}
    where dimension = 'category_l1_price_band'

),

final as (

    select
        category_l1,
        price_band,
        price_band_order,
        views,
        carts,
        purchases,
        unique_users,
        revenue,
        share_of_category_views,
        view_to_cart_rate,
        cart_to_purchase_rate,
        view_to_purchase_rate
    from dimension_funnel

)

select * from final
