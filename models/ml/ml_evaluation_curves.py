"""ROC and precision-recall curve points of the saved models on their test
rows (what the report's model page draws)."""

from ml import dbt_bridge


def model(dbt, session):
    dbt.config(materialized="table", file_format="parquet")
    dbt.ref("ml_model_metrics")  # runs after training, which saves the models
    tables = {
        dbt_bridge.PURCHASE_TASK: dbt.ref("ml_purchase_training_set"),
        dbt_bridge.CART_TASK: dbt.ref("ml_cart_training_set"),
    }
    return dbt_bridge.curves_model(session, tables, dbt.config.get("ml_model_dir"))
