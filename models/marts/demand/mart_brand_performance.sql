{{ config(materialized='view') }}

{#- The funnel and demand per brand (events without a brand under 'unknown'),
    ranked by revenue with its Pareto share and ABC class (a view of
    mart_funnel_by_dimension; the one public name of this grain). -#}

with dimension_funnel as (

    select * from {{ ref('mart_funnel_by_dimension') }}
    where dimension = 'brand'

),

final as (

    select
        brand,
        {{ product_dimension_measures() }}
    from dimension_funnel

)

select * from final
