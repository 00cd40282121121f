-- Does the brand change the chance that a view becomes a purchase? Brands with
-- enough traffic, by view-to-purchase rate, against the overall rate.
with brands as (

    select
        brand,
        views,
        purchases,
        revenue,
        view_to_purchase_rate
    from {{ ref('mart_brand_performance') }}
    where views >= 1000 and brand != 'unknown'

),

overall as (

    select sum(purchases) / sum(views) as overall_view_to_purchase_rate
    from {{ ref('mart_funnel_daily') }}

)

select
    brands.brand,
    brands.views,
    brands.purchases,
    brands.revenue,
    brands.view_to_purchase_rate,
    brands.view_to_purchase_rate / overall.overall_view_to_purchase_rate as lift_over_overall
from brands
cross join overall
order by lift_over_overall desc
