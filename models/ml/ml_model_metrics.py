"""Trains (or reuses, var ml_retrain) both purchase models and reports their
evaluation: one row per task x model x evaluation (x fold for rolling_origin),
followed by the product recommenders' rows from ml_recommendation_metrics.
The work is in ml.dbt_bridge."""

from ml import dbt_bridge


def model(dbt, session):
    dbt.config(materialized="table", file_format="parquet")
    # literal refs: dbt reads a Python model's dependencies from its source
    tables = {
        dbt_bridge.PURCHASE_TASK: dbt.ref("ml_purchase_training_set"),
        dbt_bridge.CART_TASK: dbt.ref("ml_cart_training_set"),
    }
    # the recommenders' evaluation (trained on every build) joins the table
    recommenders = dbt.ref("ml_recommendation_metrics")
    return dbt_bridge.metrics_model(
        session,
        tables,
        dbt.config.get("ml_model_dir"),
        dbt.config.get("ml_retrain"),
        settings=dbt_bridge.settings_from(dbt.config.get),
        other_metrics=dbt_bridge.with_status(recommenders, "trained"),
    )
