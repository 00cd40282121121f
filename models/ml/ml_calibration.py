"""Reliability tables of the saved models on their test rows: observed
purchase rate against mean predicted probability per bin, before and after
calibration."""

from ml import dbt_bridge


def model(dbt, session):
    dbt.config(materialized="table", file_format="parquet")
    dbt.ref("ml_model_metrics")  # runs after training, which saves the models
    tables = {
        dbt_bridge.PURCHASE_TASK: dbt.ref("ml_purchase_training_set"),
        dbt_bridge.CART_TASK: dbt.ref("ml_cart_training_set"),
    }
    return dbt_bridge.calibration_model(session, tables, dbt.config.get("ml_model_dir"))
