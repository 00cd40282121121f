"""Purchase propensity of every user active in the latest feature window,
scored by the best saved forecast model (by forecast AUC-ROC)."""

from ml import dbt_bridge


def model(dbt, session):
    dbt.config(materialized="table", file_format="parquet")
    dbt.ref("ml_model_metrics")  # runs after training, which saves the models
    training = dbt.ref("ml_purchase_training_set")
    return dbt_bridge.predictions_model(
        session, dbt_bridge.PURCHASE_TASK, training, dbt.config.get("ml_model_dir")
    )
