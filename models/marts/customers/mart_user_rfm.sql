{#- RFM customer value: one row per user with at least one purchase. -#}

with purchasers as (

    select
        user_id,
        last_purchase_at,
        purchase_sessions,
        purchase_value
    from {{ ref('int_user_purchases') }}

),

segment_map as (

    select * from {{ ref('rfm_segment_map') }}

),

measured as (

    select
        user_id,
        last_purchase_at,
        datediff({{ analysis_date() }}, to_date(last_purchase_at)) as recency_days,
        purchase_sessions as frequency,
        purchase_value as monetary,
        log1p(purchase_value) as monetary_log1p
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
