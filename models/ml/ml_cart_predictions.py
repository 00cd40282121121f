"""Open carts (label window still open, not bought yet) scored for the chance
that they end in a purchase: who to retarget."""

from ml import dbt_bridge


def model(dbt, session):
    dbt.config(materialized="table", file_format="parquet")
    dbt.ref("ml_model_metrics")  # runs after training, which saves the models
    training = dbt.ref("ml_cart_training_set")
    return dbt_bridge.predictions_model(
        session, dbt_bridge.CART_TASK, training, dbt.config.get("ml_model_dir")
    )
