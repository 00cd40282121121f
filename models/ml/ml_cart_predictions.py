"""Open carts (label window still open, not bought yet) scored for the chance
that they end in a purchase, by the scoring model of the latest training run
(ml_model_metrics): who to retarget."""

from ml import dbt_bridge


def model(dbt, session):
    dbt.config(materialized="table", file_format="parquet")
    return dbt_bridge.predictions_model(
        session,
        dbt_bridge.CART_TASK,
        training=dbt.ref("ml_cart_training_set"),
        metrics=dbt.ref("ml_model_metrics"),
        variables=dbt_bridge.ml_vars(dbt.config.get("ml_vars")),
        schema=dbt.this.schema,
    )
