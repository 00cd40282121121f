-- When are shoppers active and when do they buy? The peak hours, and the
-- busiest weekday x hour cells.
with hours as (

    select
        event_hour,
        events,
        purchases,
        share_of_events,
        view_to_purchase_rate,
        events_rank,
        is_peak_hour
    from {{ ref('mart_hourly_activity') }}

),

top_cells as (

    select
        event_weekday_name,
        event_hour,
        avg_events_per_day,
        purchases
    from {{ ref('mart_activity_heatmap') }}
    order by avg_events_per_day desc
    limit 10

)

select
    'peak hour' as kind,
    cast(event_hour as string) as label,
    events as volume,
    share_of_events as share
from hours
where is_peak_hour
union all
select
    'busiest cell' as kind,
    concat(event_weekday_name, ' ', lpad(cast(event_hour as string), 2, '0'), ':00') as label,
    cast(avg_events_per_day as bigint) as volume,
    cast(null as double) as share
from top_cells
