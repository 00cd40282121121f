-- No recommended product was bought by the user before, unless it was bought
-- under a repeat-purchase category (the rule in ml/recommend.py, recomputed
-- here from fct_user_product_daily with the same vars).
with recommendations as (

    select
        user_id,
        product_id
    from {{ ref('ml_product_recommendations') }}

),

daily as (

    select
        user_id,
        product_id,
        category_id,
        event_date,
        purchases
    from {{ ref('fct_user_product_daily') }}

),

buying_pairs as (

    select
        category_id,
        user_id,
        product_id,
        count(distinct event_date) as purchase_days
    from daily
    where purchases > 0
    group by category_id, user_id, product_id

),

repeat_categories as (

    select category_id
    from buying_pairs
    group by category_id
    having
        count(*) >= {{ var('rec_repeat_purchase_min_buyers') }}
        and count_if(purchase_days >= 2) >= count(*) * {{ var('rec_repeat_purchase_min_share') }}

),

bought_elsewhere as (

    select
        buying_pairs.user_id,
        buying_pairs.product_id
    from buying_pairs
    left anti join repeat_categories
        on buying_pairs.category_id = repeat_categories.category_id

)

select
    recommendations.user_id,
    recommendations.product_id
from recommendations
inner join bought_elsewhere
    on recommendations.user_id = bought_elsewhere.user_id
    and recommendations.product_id = bought_elsewhere.product_id
