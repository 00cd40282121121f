-- Who should marketing retarget now? Users with high cart interest and no
-- purchase, best-value first, with their RFM history where they have one.
select
    segments.user_id,
    segments.segment,
    segments.carts,
    segments.views,
    segments.z_carts,
    segments.last_event_at,
    rfm.rfm_segment,
    rfm.monetary
from {{ ref('mart_user_segments') }} as segments
left join {{ ref('mart_user_rfm') }} as rfm
    on segments.user_id = rfm.user_id
where segments.segment in ('High Interest / High Risk', 'Churn Warning')
order by segments.segment asc, segments.z_carts desc, segments.last_event_at desc
limit 1000
