-- Every recommended product had an event (any user) in the last
-- rec_active_days days of the data.
with recommendations as (

    select
        user_id,
        product_id
    from {{ ref('ml_product_recommendations') }}

),

daily as (

    select
        product_id,
        event_date
    from {{ ref('fct_user_product_daily') }}

),

last_day as (

    select max(event_date) as last_date
    from daily

),

active_products as (

    select distinct daily.product_id
    from daily
    cross join last_day
    where daily.event_date > date_sub(last_day.last_date, {{ var('rec_active_days') }})

)

select
    recommendations.user_id,
    recommendations.product_id
from recommendations
left anti join active_products
    on recommendations.product_id = active_products.product_id
