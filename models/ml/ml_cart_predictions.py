"""Open carts (label window still open, not bought yet) scored for the chance
that they end in a purchase: who to retarget."""

from ml import dbt_bridge
from ml.tasks import CART_TASK


def model(dbt, session):
    dbt.config(materialized="table", file_format="parquet")
    dbt.ref("ml_model_metrics")  # runs after training, which saves the models
    # literal refs: dbt reads a Python model's dependencies from its source
    tables = {
        dbt_bridge.PURCHASE_TASK: dbt.ref("ml_purchase_training_set"),
        dbt_bridge.CART_TASK: dbt.ref("ml_cart_training_set"),
    }
    results = dbt_bridge.train_tasks(
        {CART_TASK: tables[CART_TASK]},
        dbt_bridge.model_dir(dbt.config.get("ml_model_dir")),
        retrain=False,
    )
    scored = dbt_bridge.scores(results, CART_TASK, tables[CART_TASK])
    return dbt_bridge.to_spark(session, scored, dbt_bridge.CART_PREDICTIONS_SCHEMA)
