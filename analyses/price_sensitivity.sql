-- Are dearer products in the same category bought less often once viewed?
-- View-to-purchase rate by price band within the top categories by revenue.
with top_categories as (

    select category_l1
    from {{ ref('mart_category_l1_demand') }}
    where revenue_rank <= 5

)

select
    sensitivity.category_l1,
    sensitivity.price_band,
    sensitivity.views,
    sensitivity.purchases,
    sensitivity.view_to_purchase_rate,
    sensitivity.share_of_category_views
from {{ ref('mart_price_sensitivity') }} as sensitivity
inner join top_categories
    on sensitivity.category_l1 = top_categories.category_l1
order by sensitivity.category_l1, sensitivity.price_band_order
