-- Where does the funnel lose people? Session stages with the drop-off between
-- them, and the days with the weakest cart-to-purchase conversion.
with stages as (

    select
        stage_order,
        stage,
        sessions_reaching_stage,
        conversion_from_previous_stage,
        drop_off_from_previous_stage,
        drop_off_rate_from_previous_stage
    from {{ ref('mart_funnel_session_stages') }}

),

weakest_days as (

    select
        event_date,
        carts,
        purchases,
        cart_to_purchase_rate
    from {{ ref('mart_funnel_daily') }}
    where carts > 0
    order by cart_to_purchase_rate asc
    limit 5

)

select
    'stage' as kind,
    stage as label,
    sessions_reaching_stage as volume,
    drop_off_rate_from_previous_stage as rate
from stages
union all
select
    'weak day' as kind,
    cast(event_date as string) as label,
    carts as volume,
    cart_to_purchase_rate as rate
from weakest_days
