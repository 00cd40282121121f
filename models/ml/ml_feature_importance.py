"""Feature importance of the forecast models saved by ml_model_metrics:
standardised coefficients for the logistic regression, gain for XGBoost."""

from ml import dbt_bridge


def model(dbt, session):
    dbt.config(materialized="table", file_format="parquet")
    dbt.ref("ml_model_metrics")  # runs after training, which saves the models
    tables = {
        dbt_bridge.PURCHASE_TASK: dbt.ref("ml_purchase_training_set"),
        dbt_bridge.CART_TASK: dbt.ref("ml_cart_training_set"),
    }
    return dbt_bridge.importance_model(session, tables, dbt.config.get("ml_model_dir"))
