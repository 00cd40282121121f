"""A second run with no new data, on the demo build: while it rebuilds, a
reader in another Spark session (as an analyst on the Thrift server) queries a
mart in a loop and never finds it missing or half-written; afterwards every
table is identical to before (row count and the sum of a hash of every row):
no training is due, so the predictions, the recommendations and the model
versions are unchanged."""

from __future__ import annotations

import threading

import pytest

from dbt_harness import DbtScenario, spark

pytestmark = pytest.mark.dbt

READ_MART = "mart_user_rfm"  # a table model: rebuilt in full by every run
# Columns that say how the run went rather than what the data holds: when it
# scored or recommended, and ml_model_metrics' status ('reused' instead of
# 'trained'; its model versions are compared below).
RUN_STAMPS = {"scored_at", "recommended_at", "status"}


def relations(scenario: DbtScenario) -> list[str]:
    found = []
    for layer in ("staging", "marts", "ml"):
        for row in scenario.sql(f"show tables in {{s}}_{layer}"):
            if not row.isTemporary:
                found.append(f"{scenario.schema}_{layer}.{row.tableName}")
    return sorted(found)


def fingerprint(name: str) -> tuple:
    """Row count and the sum of a 64-bit hash of each row (its run stamps
    left out): equal for equal tables, and any added, removed or changed row
    changes it (but for a hash collision)."""
    from pyspark.sql import functions as F

    frame = spark().table(name)
    row_hash = F.xxhash64(*[F.col(f"`{c}`") for c in frame.columns if c not in RUN_STAMPS])
    return tuple(frame.agg(F.count(F.lit(1)), F.sum(row_hash.cast("decimal(38,0)"))).first())


@pytest.fixture(scope="module")
def rerun(demo):
    """Fingerprints of every table, a second `dbt run` (nothing due for
    training) with a reader polling a mart meanwhile, and what the reader saw."""
    names = relations(demo)
    before = {name: fingerprint(name) for name in names}
    versions = demo.frame("select task, evaluation, model, fold, model_version from {s}_ml.ml_model_metrics")
    reader = spark().newSession()
    outcome: dict = {"errors": []}

    def run() -> None:
        try:
            demo.dbt("run")
        except BaseException as error:  # reported by the tests
            outcome["errors"].append(error)

    runner = threading.Thread(target=run)
    runner.start()
    counts, failures = [], []
    while runner.is_alive() or not counts:
        try:
            counts.append(reader.sql(f"select count(*) from {demo.schema}_marts.{READ_MART}").collect()[0][0])
        except Exception as error:  # the test says what it was
            failures.append(str(error).splitlines()[0])
    runner.join()
    outcome.update(names=names, before=before, versions=versions, counts=counts, failures=failures)
    return outcome


def test_the_rerun_succeeds(rerun):
    assert rerun["errors"] == []


def test_a_reader_sees_the_mart_whole_throughout_the_rerun(rerun, demo):
    assert rerun["failures"] == []
    expected = demo.sql(f"select count(*) from {{s}}_marts.{READ_MART}")[0][0]
    assert len(rerun["counts"]) >= 20 and set(rerun["counts"]) == {expected}, rerun["counts"][:20]


def test_every_table_is_identical_after_a_run_without_new_data(rerun, demo):
    assert relations(demo) == rerun["names"]
    # when a row was scored is the run's own stamp; what was scored must not move
    after = {name: fingerprint(name) for name in rerun["before"]}
    differences = [f"{name}: (rows, row-hash sum) {before} before, {after[name]} after"
                   for name, before in rerun["before"].items() if after[name] != before]
    assert differences == []
    predictions = [rows for name, (rows, _) in rerun["before"].items() if name.endswith(".ml_purchase_predictions")]
    assert predictions and predictions[0] > 0  # the predictions were compared, and not empty


def test_reused_models_keep_their_versions(rerun, demo):
    after = demo.frame("select task, evaluation, model, fold, model_version, status from {s}_ml.ml_model_metrics "
                       "where task != 'product_recommendation'")
    assert set(after["status"]) == {"reused"}
    key = ["task", "evaluation", "model", "fold"]
    before = rerun["versions"][rerun["versions"].task != "product_recommendation"]
    assert (after.drop(columns="status").sort_values(key).reset_index(drop=True)
            .equals(before.sort_values(key).reset_index(drop=True)))
