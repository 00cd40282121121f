{{ config(materialized='view') }}

{#- The funnel and demand per level-1 category (events without a category code
    under 'unknown'), ranked by revenue with its Pareto share and ABC class (a
    view of mart_funnel_by_dimension; the one public name of this grain). -#}

with dimension_funnel as (

    select * from {{ ref('mart_funnel_by_dimension') }}
    where dimension = 'category_l1'

),

final as (

    select
        category_l1,
        {{ product_dimension_measures() }}
    from dimension_funnel

)

select * from final
