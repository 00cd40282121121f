{{ config(materialized='view') }}

{#- Activity by ISO weekday x hour of day (UTC): the full 7 x 24 grid, zeros
    where nothing happened, ready for a heat map. -#}

with hourly as (

    select
        event_date,
        event_weekday,
        event_hour,
        events,
        views,
        carts,
        purchases,
        remove_from_carts,
        revenue,
        active_users
    from {{ ref('fct_hourly_activity') }}

),

weekdays as (

    select explode(sequence(1, 7)) as event_weekday

),

hours as (

    select explode(sequence(0, 23)) as event_hour

),

grid as (

    select
        weekdays.event_weekday,
        hours.event_hour
    from weekdays
    cross join hours

),

days_per_weekday as (

    -- how many calendar days of each weekday the data covers, for per-day averages
    select
        event_weekday,
        count(distinct event_date) as days_observed
    from hourly
    group by event_weekday

),

cells as (

    select
        event_weekday,
        event_hour,
        sum(events) as events,
        sum(views) as views,
        sum(carts) as carts,
        sum(purchases) as purchases,
        sum(remove_from_carts) as remove_from_carts,
        sum(revenue) as revenue,
        sum(active_users) as active_user_hours
    from hourly
    group by event_weekday, event_hour

),

totals as (

    select sum(events) as all_events from hourly

),

final as (

    select
        grid.event_weekday,
        case grid.event_weekday
            when 1 then 'Mon' when 2 then 'Tue' when 3 then 'Wed' when 4 then 'Thu'
            when 5 then 'Fri' when 6 then 'Sat' else 'Sun'
        end as event_weekday_name,
        grid.event_hour,
        coalesce(cells.events, 0) as events,
        coalesce(cells.views, 0) as views,
        coalesce(cells.carts, 0) as carts,
        coalesce(cells.purchases, 0) as purchases,
        coalesce(cells.remove_from_carts, 0) as remove_from_carts,
        coalesce(cells.revenue, 0) as revenue,
        coalesce(days_per_weekday.days_observed, 0) as days_observed,
        {{ safe_divide('coalesce(cells.events, 0)', 'days_per_weekday.days_observed') }}
            as avg_events_per_day,
        {{ safe_divide('coalesce(cells.active_user_hours, 0)', 'days_per_weekday.days_observed') }}
            as avg_active_users_per_day,
        {{ safe_divide('coalesce(cells.events, 0)', 'totals.all_events') }} as share_of_events,
        {{ safe_divide('cells.carts', 'cells.views') }} as view_to_cart_rate,
        {{ safe_divide('cells.purchases', 'cells.carts') }} as cart_to_purchase_rate,
        {{ safe_divide('cells.purchases', 'cells.views') }} as view_to_purchase_rate
    from grid
    cross join totals
    left join cells
        on grid.event_weekday = cells.event_weekday
        and grid.event_hour = cells.event_hour
    left join days_per_weekday
        on grid.event_weekday = days_per_weekday.event_weekday

)

select * from final
