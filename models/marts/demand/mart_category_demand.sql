{{ config(materialized='view') }}

{#- The funnel and demand per category code, ranked by revenue with its Pareto
    share and ABC class (a view of mart_funnel_by_dimension). -#}

with dimension_funnel as (

    select * from {{ ref('mart_funnel_by_dimension') }}
    where dimension = 'category_code'

),

final as (

    select
        category_code,
        {{ product_dimension_measures() }}
    from dimension_funnel

)

select * from final
