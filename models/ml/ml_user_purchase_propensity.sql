{#- One row per user with a purchase-propensity score: the prediction next to
    the user's RFM value and behavioural segment, for targeting in SQL. -#}

with predictions as (

    select
        user_id,
        purchase_probability,
        predicted_purchase,
        model,
        model_version,
        scored_at
    from {{ ref('ml_purchase_predictions') }}

),

segments as (

    select
        user_id,
        segment,
        views,
        carts,
        purchases,
        revenue
    from {{ ref('mart_user_segments') }}

),

rfm as (

    select
        user_id,
        recency_days,
        frequency,
        monetary,
        rfm_score,
        rfm_segment
    from {{ ref('mart_user_rfm') }}

),

final as (

    select
        predictions.user_id,
        predictions.purchase_probability,
        predictions.predicted_purchase,
        ntile(10) over (order by predictions.purchase_probability desc, predictions.user_id asc)
            as propensity_decile,
        segments.segment,
        rfm.rfm_segment,
        rfm.rfm_score,
        rfm.recency_days,
        coalesce(rfm.frequency, 0) as frequency,
        coalesce(rfm.monetary, 0) as monetary,
        segments.views,
        segments.carts,
        segments.purchases,
        predictions.model,
        predictions.model_version,
        predictions.scored_at
    from predictions
    inner join segments
        on predictions.user_id = segments.user_id
    left join rfm
        on predictions.user_id = rfm.user_id

)

select * from final
