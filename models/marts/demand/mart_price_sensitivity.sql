{{ config(materialized='view') }}

{#- Conversion by price band within each level-1 category: does a higher price
    in the same category turn views into purchases less often? (A view of
    mart_funnel_by_dimension.) -#}

with dimension_funnel as (

    select * from {{ ref('mart_funnel_by_dimension') }}
    where dimension = 'category_l1_price_band'

),

final as (

    select
        category_l1,
        price_band,
        price_band_order,
        share_of_category_views,
        {{ product_dimension_measures() }}
    from dimension_funnel

)

select * from final
