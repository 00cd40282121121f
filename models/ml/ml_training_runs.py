"""The one training node: trains each task whose saved models are due for
retraining (ml.runs.due_reason: first build, the ml_retrain var, a changed
definition, or models ml_retrain_every_days of data old) and appends every
measure of the run; a build with nothing due appends nothing. Kept across
builds, full refreshes included. The work is in ml.dbt_bridge."""

from ml import dbt_bridge


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="append", file_format="parquet",
               full_refresh=False)
    # literal refs: dbt reads a Python model's dependencies from its source
    tables = {
        dbt_bridge.PURCHASE_TASK: dbt.ref("ml_purchase_training_set"),
        dbt_bridge.CART_TASK: dbt.ref("ml_cart_training_set"),
    }
    existing = session.table(str(dbt.this)) if dbt.is_incremental else None
    return dbt_bridge.training_runs_model(
        session,
        existing,
        tables,
        daily=dbt.ref("fct_user_product_daily"),
        windows=dbt.ref("ml_training_windows"),
        variables=dbt_bridge.ml_vars(dbt.config.get("ml_vars")),
        schema=dbt.this.schema,
    )
