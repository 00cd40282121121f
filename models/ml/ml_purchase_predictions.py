"""Purchase propensity of every user active in the latest feature window,
scored by the scoring model of the latest training run (ml_model_metrics)."""

from ml import dbt_bridge


def model(dbt, session):
    dbt.config(materialized="table", file_format="parquet")
    return dbt_bridge.predictions_model(
        session,
        dbt_bridge.PURCHASE_TASK,
        training=dbt.ref("ml_purchase_training_set"),
        metrics=dbt.ref("ml_model_metrics"),
        variables=dbt_bridge.ml_vars(dbt.config.get("ml_vars")),
        schema=dbt.this.schema,
    )
