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

frequency_scores as (

    select * from {{ ref('rfm_frequency_scores') }}

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
            {{ analysis_date('(select max(user_days.event_date) from user_days)', var('rfm_analysis_date')) }},
            to_date(purchasers.last_purchase_at)
        ) as recency_days,
        purchasers.purchase_sessions as frequency,
        purchasers.purchase_value as monetary,
        log1p(purchasers.purchase_value) as monetary_log1p
    from purchasers

),

-- F is not a quintile: frequency is tied at 1 for most buyers, so fixed
-- thresholds from the seed score it; each score runs up to the next one's minimum
frequency_bands as (

    select
        f_score,
        min_frequency,
        lead(min_frequency) over (order by min_frequency) as max_frequency
    from frequency_scores

),

scored as (

    select
        measured.*,
        {{ quintile_score('measured.recency_days', higher_is_better=false) }} as r_score,
        frequency_bands.f_score,
        {{ quintile_score('measured.monetary') }} as m_score
    from measured
    left join frequency_bands
        on measured.frequency >= frequency_bands.min_frequency
        and (frequency_bands.max_frequency is null or measured.frequency < frequency_bands.max_frequency)

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
