{#- RFM customer value: one row per user with at least one purchase. -#}

with user_days as (

    select
        user_id,
        event_date,
        purchases,
        purchase_sessions,
        revenue,
        last_purchase_at
    from {{ ref('fct_user_daily_activity') }}

),

segment_map as (

    select * from {{ ref('rfm_segment_map') }}

),

purchasers as (

    select
        user_id,
        max(last_purchase_at) as last_purchase_at,
        sum(purchase_sessions) as purchase_sessions,
        sum(revenue) as purchase_value
    from user_days
    where purchases > 0
    group by user_id

),

measured as (

    select
        purchasers.user_id,
        purchasers.last_purchase_at,
        datediff(
            {{ analysis_date('(select max(user_days.event_date) from user_days)') }},
            to_date(purchasers.last_purchase_at)
        ) as recency_days,
        purchasers.purchase_sessions as frequency,
        purchasers.purchase_value as monetary,
        log1p(purchasers.purchase_value) as monetary_log1p
    from purchasers

),

scored as (

    select
        *,
        {{ quintile_score('recency_days', higher_is_better=false) }} as r_score,
        {{ quintile_score('frequency') }} as f_score,
        {{ quintile_score('monetary') }} as m_score
    from measured

),

final as (

    select
        scored.user_id,
        scored.last_purchase_at,
        scored.recency_days,
        scored.frequency,
        scored.monetary,
        scored.monetary_log1p,
        scored.r_score,
        scored.f_score,
        scored.m_score,
        concat(scored.r_score, scored.f_score, scored.m_score) as rfm_score,
        scored.r_score + scored.f_score + scored.m_score as rfm_total_score,
        segment_map.rfm_segment
    from scored
    left join segment_map
        on scored.r_score = segment_map.r_score
        and scored.f_score = segment_map.f_score

)

select * from final
