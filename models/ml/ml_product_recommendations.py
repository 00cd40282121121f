"""Top-N product recommendations (ALS on implicit feedback) for every user
active in the last ml_label_window_days; rules in ml.recommend."""

from ml import recommend_bridge


def model(dbt, session):
    dbt.config(materialized="table", file_format="parquet")
    daily = dbt.ref("fct_user_product_daily")
    # literal keys: dbt passes a Python model only the config keys it reads
    config = {
        "rec_top_n": dbt.config.get("rec_top_n"),
        "ml_label_window_days": dbt.config.get("ml_label_window_days"),
        "rec_active_days": dbt.config.get("rec_active_days"),
        "rec_repeat_purchase_min_share": dbt.config.get("rec_repeat_purchase_min_share"),
        "rec_repeat_purchase_min_buyers": dbt.config.get("rec_repeat_purchase_min_buyers"),
    }
    return recommend_bridge.recommendations_model(session, daily, config)
