{#- Demand per level-1 category, ranked by revenue with its Pareto share and ABC class. -#}

with dimension_funnel as (

    select * from {{ ref('mart_funnel_by_dimension') }}
    where dimension = 'category_l1'

),

final as (

    select
        category_l1,
        revenue_rank,
        views,
        carts,
        purchases,
        purchasers as buyers,
        revenue,
        revenue_share,
        cumulative_revenue_share,
        pareto_class,
        view_to_purchase_rate,
        cart_to_purchase_rate,
        avg_purchase_price
    from dimension_funnel

)

select * from final
