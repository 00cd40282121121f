"""What each report reads: one small, aggregated query per figure.

Queries name marts with `ref()` so they run on whichever target dbt uses, and
aggregate in SQL (a histogram, not the 500k RFM rows) so the report reads
kilobytes whatever the size of the month.
"""



def pareto_queries(name: str, item: str, mart: str) -> dict[str, str]:
    """The 60 items with most revenue, and the size of each ABC class, of a demand mart."""
    return {
        f"{name}_pareto": f"""
            select {item} as item, revenue_rank, revenue, cumulative_revenue_share, pareto_class
            from {{{{ ref('{mart}') }}}} where revenue > 0 order by revenue_rank limit 60""",
        f"{name}_classes": f"""
            select pareto_class, count(*) as items, sum(revenue_share) as revenue_share
            from {{{{ ref('{mart}') }}}} group by pareto_class order by pareto_class""",
    }


QUERIES: dict[str, str] = {
    "time_range": """
        select min(event_date) as first_date, max(event_date) as last_date, count(*) as days,
               sum(views) as views, sum(carts) as carts, sum(purchases) as purchases, sum(revenue) as revenue
        from {{ ref('mart_funnel_daily') }}""",
    "funnel_stages": """
        select stage_order, stage, sessions_reaching_stage, drop_off_rate_from_previous_stage
        from {{ ref('mart_funnel_session_stages') }} order by stage_order""",
    "funnel_daily": """
        select event_date, views, carts, purchases, revenue, view_to_purchase_rate
        from {{ ref('mart_funnel_daily') }} order by event_date""",
    "funnel_by_category": """
        select category_l1, views, carts, purchases, view_to_cart_rate, cart_to_purchase_rate, view_to_purchase_rate
        from {{ ref('mart_category_l1_demand') }} where category_l1 is not null
        order by purchases desc, views desc limit 12""",
    "funnel_by_brand": """
        select brand, views, carts, purchases, revenue, view_to_cart_rate, cart_to_purchase_rate, view_to_purchase_rate
        from {{ ref('mart_brand_performance') }} where brand is not null
        order by revenue desc, views desc limit 12""",
    "heatmap": """
        select event_weekday, event_weekday_name, event_hour, avg_events_per_day, view_to_purchase_rate
        from {{ ref('mart_activity_heatmap') }} order by event_weekday, event_hour""",
    "hourly": """
        select event_hour, events, purchases, share_of_events, view_to_purchase_rate, is_peak_hour
        from {{ ref('mart_hourly_activity') }} order by event_hour""",
    **pareto_queries("category", "category_code", "mart_category_demand"),
    **pareto_queries("brand", "brand", "mart_brand_performance"),
    "price_bands": """
        select price_band, price_band_order, views, purchases, view_to_cart_rate, cart_to_purchase_rate,
               view_to_purchase_rate
        from {{ ref('mart_funnel_by_price_band') }} order by price_band_order""",
    "price_by_category": """
        select category_l1, price_band, price_band_order, views, view_to_purchase_rate
        from {{ ref('mart_price_sensitivity') }} where category_l1 is not null
        order by category_l1, price_band_order""",
    "rfm_segments": """
        select rfm.rfm_segment, seed.segment_order, seed.marketing_action, count(*) as users,
               sum(rfm.monetary) as revenue
        from {{ ref('mart_user_rfm') }} as rfm
        left join {{ ref('rfm_segments') }} as seed on rfm.rfm_segment = seed.rfm_segment
        group by rfm.rfm_segment, seed.segment_order, seed.marketing_action order by seed.segment_order""",
    "rfm_scores": """
        select 'recency' as measure, r_score as score, count(*) as users from {{ ref('mart_user_rfm') }} group by r_score
        union all
        select 'frequency', f_score, count(*) from {{ ref('mart_user_rfm') }} group by f_score
        union all
        select 'monetary', m_score, count(*) from {{ ref('mart_user_rfm') }} group by m_score""",
    "rfm_distributions": """
        select 'recency (days)' as measure, cast(recency_days as double) as value, count(*) as users
        from {{ ref('mart_user_rfm') }} group by recency_days
        union all
        select 'frequency (purchase sessions)', cast(least(frequency, 20) as double), count(*)
        from {{ ref('mart_user_rfm') }} group by least(frequency, 20)
        union all
        select 'monetary (log10 of revenue, 0.25 bins)', floor(log10(greatest(monetary, 1)) * 4) / 4, count(*)
        from {{ ref('mart_user_rfm') }} group by floor(log10(greatest(monetary, 1)) * 4) / 4""",
    "behaviour_segments": """
        select seed.segment, seed.precedence, seed.marketing_action, count(users.user_id) as users,
               coalesce(avg(users.views), 0) as avg_views, coalesce(avg(users.carts), 0) as avg_carts,
               coalesce(sum(users.purchases), 0) as purchases
        from {{ ref('behaviour_segments') }} as seed
        left join {{ ref('mart_user_segments') }} as users on users.segment = seed.segment
        group by seed.segment, seed.precedence, seed.marketing_action order by seed.precedence""",
    "model_metrics": """
        select task, model, evaluation, fold, auc_roc, pr_auc, brier, brier_uncalibrated, positive_rate_test,
               k, precision_at_k, recall_at_k, ndcg_at_k, n_train, n_test, test_start, test_end, status
        from {{ ref('ml_model_metrics') }} order by task, evaluation, model, fold""",
    "rolling_origin": """
        select task, model, folds, forecast_auc_roc, auc_roc_mean, auc_roc_std, auc_roc_min, auc_roc_max,
               pr_auc_mean, pr_auc_std, brier_mean, brier_std
        from {{ ref('ml_rolling_origin_summary') }} order by task, model""",
    "evaluation_curves": """
        select task, model, curve, point, x, y
        from {{ ref('ml_evaluation_curves') }} where evaluation = 'forecast' order by task, model, curve, point""",
    "calibration": """
        select task, model, calibrated, bin, mean_predicted, observed_rate, rows
        from {{ ref('ml_calibration') }} where evaluation = 'forecast' order by task, model, calibrated, bin""",
    "feature_importance": """
        select task, model, feature, importance, rank
        from {{ ref('ml_feature_importance') }} where rank <= 10 order by task, model, rank""",
    "retarget": """
        select user_id, product_id, cart_at, purchase_probability
        from {{ ref('ml_cart_predictions') }} order by purchase_probability desc, cart_at desc limit 15""",
}
