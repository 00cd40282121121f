"""Top-N product recommendations for every user active in the last
ml_label_window_days: the latest trained ALS model's (from its saved
factors) for the users it knows, the better baseline for the others; rules
in ml.recommend."""

from ml import dbt_bridge


def model(dbt, session):
    dbt.config(materialized="table", file_format="parquet")
    return dbt_bridge.recommendations_model(
        session,
        daily=dbt.ref("fct_user_product_daily"),
        metrics=dbt.ref("ml_model_metrics"),
        variables=dbt_bridge.ml_vars(dbt.config.get("ml_vars")),
        schema=dbt.this.schema,
    )
