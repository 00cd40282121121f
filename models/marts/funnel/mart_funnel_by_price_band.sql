{{ config(materialized='view') }}

{#- The funnel and demand per price band (bands in the price_bands seed; a
    view of mart_funnel_by_dimension). -#}

with dimension_funnel as (

    select * from {{ ref('mart_funnel_by_dimension') }}
    where dimension = 'price_band'

),

final as (

    select
        price_band,
        price_band_order,
        {{ product_dimension_measures() }}
    from dimension_funnel

)

select * from final
