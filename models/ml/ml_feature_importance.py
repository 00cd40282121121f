"""Feature importance of the forecast models saved by ml_model_metrics:
standardised coefficients for the logistic regression, gain for XGBoost."""

from ml import dbt_bridge


def model(dbt, session):
    dbt.config(materialized="table", file_format="parquet")
    dbt.ref("ml_model_metrics")  # runs after training, which saves the models
    # literal refs: dbt reads a Python model's dependencies from its source
    tables = {
        dbt_bridge.PURCHASE_TASK: dbt.ref("ml_purchase_training_set"),
        dbt_bridge.CART_TASK: dbt.ref("ml_cart_training_set"),
    }
    results = dbt_bridge.train_tasks(
        tables, dbt_bridge.model_dir(dbt.config.get("ml_model_dir")), retrain=False
    )
    return dbt_bridge.to_spark(session, dbt_bridge.importance_rows(results), dbt_bridge.IMPORTANCE_SCHEMA)
