"""Purchase propensity of every user active in the latest feature window,
scored by the best saved forecast model (by forecast AUC-ROC)."""

from ml import dbt_bridge
from ml.tasks import PURCHASE_TASK


def model(dbt, session):
    dbt.config(materialized="table", file_format="parquet")
    dbt.ref("ml_model_metrics")  # runs after training, which saves the models
    # literal refs: dbt reads a Python model's dependencies from its source
    tables = {
        dbt_bridge.PURCHASE_TASK: dbt.ref("ml_purchase_training_set"),
        dbt_bridge.CART_TASK: dbt.ref("ml_cart_training_set"),
    }
    results = dbt_bridge.train_tasks(
        {PURCHASE_TASK: tables[PURCHASE_TASK]},
        dbt_bridge.model_dir(dbt.config.get("ml_model_dir")),
        retrain=False,
    )
    scored = dbt_bridge.scores(results, PURCHASE_TASK, tables[PURCHASE_TASK])
    return dbt_bridge.to_spark(session, scored, dbt_bridge.PURCHASE_PREDICTIONS_SCHEMA)
