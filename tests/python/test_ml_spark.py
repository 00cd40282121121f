"""ml.dbt_bridge / ml.spark_io against a local Spark session: what reaches
pandas when training (columns, splits, a capped stratified sample), batch
scoring in Spark equal to pandas scoring, and Arrow conversion of results."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F
from ml_fixtures import make_cart_frame, make_purchase_frame

from ml import dbt_bridge, spark_io
from ml.pipeline import MissingModelError, score_carts, score_purchase, train_or_load
from ml.sampling import SamplePlan
from ml.settings import Settings
from ml.splits import training_columns
from ml.tasks import CART_TASK, FORECAST, LABEL, PURCHASE_TASK, SAME_WINDOW, get_task

pytestmark = pytest.mark.spark
pyspark_sql = pytest.importorskip("pyspark.sql")

ROOT = Path(__file__).resolve().parents[2]
ARROW_KEY = "spark.sql.execution.arrow.pyspark.enabled"
# Small caps so the fixtures (600 users; ~1,150 train / ~350 test carts) are sampled.
SETTINGS = Settings(xgb_n_estimators=30, max_train_rows=300, max_test_rows=200, min_train_minority_rows=0)
CAPS = {"train": 300, "test": 200, "same_window": 300}


def session_builder():
    return (
        pyspark_sql.SparkSession.builder.master("local[1]")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
    )


@pytest.fixture(scope="module")
def spark():
    # Arrow off at session level (Spark's default): the bridge must switch it on.
    # Small Arrow batches: scoring 150 open carts then takes several batches.
    session = (
        session_builder()
        .config(ARROW_KEY, "false")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "40")
        .getOrCreate()
    )
    yield session
    session.stop()  # later modules (dbt) build their own session


def to_table(spark, frame: pd.DataFrame):
    with spark_io.arrow(spark):
        return spark.createDataFrame(frame)


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    purchases = make_purchase_frame(600, seed=5)
    purchases["junk"] = "must not reach pandas"
    carts = make_cart_frame(1500, seed=6, n_open=150)
    carts["iso_week"] = carts["iso_week"].astype("int64")  # Spark has no unsigned ints
    carts["junk"] = 1.0
    return {PURCHASE_TASK: purchases, CART_TASK: carts}


@pytest.fixture(scope="module")
def tables(spark, frames):
    return {task: to_table(spark, frame) for task, frame in frames.items()}


@pytest.fixture(scope="module")
def trained(spark, tables, tmp_path_factory):
    """metrics_model once for both tasks, recording what was converted to pandas."""
    directory = tmp_path_factory.mktemp("models")
    converted: dict[str, pd.DataFrame] = {}
    original = spark_io.training_sample

    def recording(table, spec, plan, seed):
        converted[spec.name] = original(table, spec, plan, seed)
        return converted[spec.name]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(spark_io, "training_sample", recording)
        metrics = dbt_bridge.metrics_model(spark, tables, str(directory), "true", SETTINGS).toPandas()
    return {"dir": directory, "converted": converted, "metrics": metrics}


def label_counts(frame: pd.DataFrame) -> dict[str, dict[float, int]]:
    counts: dict[str, dict[float, int]] = {}
    for (split, label), n in frame.groupby(["split", LABEL]).size().items():
        counts.setdefault(split, {})[label] = int(n)
    return counts


# --- training: what reaches pandas -------------------------------------------

@pytest.mark.parametrize("task", [PURCHASE_TASK, CART_TASK])
def test_only_the_needed_columns_and_splits_reach_pandas(trained, frames, task):
    spec = get_task(task)
    pdf = trained["converted"][task]
    assert list(pdf.columns) == training_columns(spec)
    assert "junk" not in pdf.columns
    assert set(pdf["split"]) == {"train", "test"} | ({"same_window"} if spec.same_window_split else set())
    assert spec.score_split in set(frames[task]["split"])  # it was there to leave out


@pytest.mark.parametrize("task", [PURCHASE_TASK, CART_TASK])
def test_each_split_is_capped_and_keeps_its_label_shares(trained, frames, task):
    used, available = label_counts(trained["converted"][task]), label_counts(frames[task])
    for split, counts in used.items():
        total = sum(available[split].values())
        assert total > CAPS[split], "fixture too small to exercise the cap"
        # one rate for both classes, rounded down per class: proportional and within the cap
        assert counts == {label: n * CAPS[split] // total for label, n in available[split].items()}
        assert sum(counts.values()) <= CAPS[split]


@pytest.mark.parametrize("task", [PURCHASE_TASK, CART_TASK])
def test_sampled_rows_are_real_rows_of_their_split(trained, frames, task):
    spec = get_task(task)
    pdf = trained["converted"][task]
    keys = [*spec.keys, "split"]
    merged = pdf.merge(frames[task], on=keys, suffixes=("", "_full"), validate="one_to_one")
    assert len(merged) == len(pdf)
    for column in spec.numeric(FORECAST):
        np.testing.assert_array_equal(merged[column].to_numpy(float), merged[f"{column}_full"].to_numpy(float))


def test_recorded_sample_rates_are_rows_used_over_rows_available(trained, frames):
    metrics = trained["metrics"]
    assert set(metrics["status"]) == {"trained"}
    rows = {task: frame["split"].value_counts() for task, frame in frames.items()}
    for row in metrics.itertuples():
        available = rows[row.task]
        if row.evaluation == "rolling_origin":  # cart folds mix splits sampled at different rates
            assert 0 < row.train_sample_rate <= 1 and 0 < row.test_sample_rate <= 1
            continue
        if row.evaluation == SAME_WINDOW:  # both sides are cut from the one sampled split
            rate = (row.n_train + row.n_test) / available["same_window"]
            assert row.train_sample_rate == pytest.approx(rate) and row.test_sample_rate == pytest.approx(rate)
        else:
            assert row.train_sample_rate == pytest.approx(row.n_train / available["train"])
            assert row.test_sample_rate == pytest.approx(row.n_test / available["test"])
        assert row.train_sample_rate < 1 and row.test_sample_rate < 1


def test_draw_sample_keeps_exact_counts_over_uneven_groups_and_is_seeded(spark):
    frame = pd.DataFrame({"k": np.arange(6000), "split": ["train"] * 5000 + ["test"] * 1000})
    frame[LABEL] = np.where(np.arange(6000) % 10 == 0, 1.0, 0.0)
    table = to_table(spark, frame)
    plan = SamplePlan(
        available={"train": {0.0: 4500, 1.0: 500}, "test": {0.0: 900, 1.0: 100}},
        keep={"train": {0.0: 700, 1.0: 500}, "test": {0.0: 90, 1.0: 10}},  # train positives all kept
    )
    first = spark_io.draw_sample(table, plan, seed=1, keys=["k"]).toPandas()
    assert label_counts(first) == plan.keep
    again = spark_io.draw_sample(table, plan, seed=1, keys=["k"]).toPandas()
    other = spark_io.draw_sample(table, plan, seed=2, keys=["k"]).toPandas()
    assert set(first["k"]) == set(again["k"]) != set(other["k"])
    # the same rows, partitioned and ordered differently: the same sample
    shuffled = table.repartition(7, "k").orderBy(F.rand(3))
    assert set(spark_io.draw_sample(shuffled, plan, seed=1, keys=["k"]).toPandas()["k"]) == set(first["k"])


def test_reuse_mode_converts_nothing_and_reports_the_saved_metrics(spark, tables, trained):
    def must_not_run(*args, **kwargs):
        raise AssertionError("training table converted although saved models exist")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(spark_io, "training_sample", must_not_run)
        reused = dbt_bridge.metrics_model(spark, tables, str(trained["dir"]), "false", SETTINGS).toPandas()
    assert set(reused["status"]) == {"reused"}
    key = ["task", "model", "evaluation", "fold"]
    columns = [*key, "model_version", "n_train", "train_sample_rate", "test_sample_rate"]
    before = trained["metrics"][columns].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(reused[columns].sort_values(key).reset_index(drop=True), before)


def test_the_same_tables_partitioned_differently_give_the_same_metrics(spark, tables, trained, tmp_path):
    # Sampling (SETTINGS caps the splits), row order and training are all fixed
    # by the data and the seed, not by how Spark happens to lay the rows out.
    reshuffled = {task: table.repartition(5).orderBy(F.rand(11)) for task, table in tables.items()}
    again = dbt_bridge.metrics_model(spark, reshuffled, str(tmp_path), "true", SETTINGS).toPandas()
    stable = [c for c in again.columns if c not in ("model_version", "trained_at")]
    key = ["task", "model", "evaluation", "fold"]

    def ordered(frame):
        return frame[stable].sort_values(key).reset_index(drop=True)

    assert (again["train_sample_rate"] < 1).any()  # the sample is part of what must repeat
    pd.testing.assert_frame_equal(ordered(again), ordered(trained["metrics"]))


def test_a_task_without_two_classes_is_skipped_without_conversion(spark, frames, tmp_path):
    carts = frames[CART_TASK]
    one_class = to_table(spark, carts[(carts["split"] != "test") | (carts[LABEL] == 0)])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(spark_io, "training_sample", lambda *a: pytest.fail("converted a skipped task"))
        metrics = dbt_bridge.metrics_model(spark, {CART_TASK: one_class}, str(tmp_path), "true", SETTINGS)
        predictions = dbt_bridge.predictions_model(spark, CART_TASK, one_class, str(tmp_path), SETTINGS)
    rows = metrics.toPandas()
    assert len(rows) == 3 and rows["status"].str.startswith("skipped: test rows hold a single class").all()
    assert rows[["auc_roc", "n_train", "train_sample_rate", "test_sample_rate"]].isna().all().all()
    assert predictions.count() == 0
    assert predictions.schema == spark.createDataFrame([], dbt_bridge.CART_PREDICTIONS_SCHEMA).schema


def test_metrics_are_written_with_the_declared_schema(spark, tables, trained):
    expected = spark.createDataFrame([], dbt_bridge.METRICS_SCHEMA).schema
    frame = dbt_bridge.metrics_model(spark, tables, str(trained["dir"]), "false", SETTINGS)
    assert frame.schema == expected
    assert {"train_sample_rate", "test_sample_rate"} <= set(frame.columns)


# --- scoring in batches ------------------------------------------------------

@pytest.mark.parametrize(("task", "score"), [(PURCHASE_TASK, score_purchase), (CART_TASK, score_carts)])
def test_batch_scoring_in_spark_equals_pandas_scoring(spark, frames, tables, trained, task, score):
    spec = get_task(task)
    scored = dbt_bridge.predictions_model(spark, task, tables[task], str(trained["dir"]), SETTINGS)
    assert scored.schema == spark.createDataFrame([], dbt_bridge.SCORING[task][2]).schema
    in_spark = scored.toPandas()
    result = train_or_load(task, lambda: pytest.fail("retrained"), trained["dir"], retrain=False, settings=SETTINGS)
    awaiting = frames[task][frames[task]["split"] == spec.score_split]
    in_pandas = score(result, awaiting)
    key = spec.keys[0]
    in_spark, in_pandas = (f.sort_values(key).reset_index(drop=True) for f in (in_spark, in_pandas))
    assert len(in_spark) == len(awaiting) > 2 * 40  # several Arrow batches
    assert in_spark[key].tolist() == in_pandas[key].tolist()
    # equal up to the last bit: numpy's matrix products sum in an order that
    # depends on the batch size, so a row may differ by one ulp
    np.testing.assert_allclose(in_spark["purchase_probability"], in_pandas["purchase_probability"], rtol=1e-12, atol=0)
    assert in_spark["predicted_purchase"].tolist() == in_pandas["predicted_purchase"].astype(bool).tolist()
    assert (in_spark["model_version"] == in_pandas["model_version"]).all()
    assert in_spark["scored_at"].nunique() == 1  # one value per run, not per batch
    if task == CART_TASK:
        for column in ("user_id", "product_id", "cart_at"):
            assert in_spark[column].tolist() == in_pandas[column].tolist(), column


def test_a_predictions_model_never_trains(spark, tables, tmp_path):
    with pytest.raises(MissingModelError, match="no saved model set .* build ml_model_metrics first"):
        dbt_bridge.predictions_model(spark, CART_TASK, tables[CART_TASK], str(tmp_path), SETTINGS)
    assert not list(tmp_path.rglob("*.joblib"))


def test_duplicated_keys_across_batches_raise(spark, frames, trained):
    carts = frames[CART_TASK]
    open_rows = carts[carts["split"] == "open"]
    doubled = to_table(spark, pd.concat([carts, open_rows.iloc[[0]]], ignore_index=True))  # first and last row
    with pytest.raises(ValueError, match=r"1 \['cart_event_id'\] values occur more than once"):
        dbt_bridge.predictions_model(spark, CART_TASK, doubled, str(trained["dir"]), SETTINGS)


# --- results through Arrow ---------------------------------------------------

ROUND_TRIP_SCHEMA = "name string, n bigint, x double, flag boolean, day date, at timestamp"


def round_trip_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": ["a", np.nan],
            "n": [3.0, np.nan],
            "x": [0.25, np.nan],
            "flag": [1, 0],
            "day": [dt.date(2019, 11, 30), None],
            "at": [pd.Timestamp("2019-11-30 10:00", tz="UTC"), pd.NaT],
        }
    )


def test_arrow_conversion_writes_nulls_dates_and_utc_instants(spark):
    frame = spark_io.to_spark(spark, round_trip_frame(), ROUND_TRIP_SCHEMA)
    assert spark.conf.get(ARROW_KEY) == "false"  # the session's setting is restored
    rows = frame.selectExpr(
        "name", "n", "x", "flag", "cast(day as string) as day", "cast(at as string) as at",
        "isnan(x) as x_is_nan",
    ).collect()  # fmt: skip
    assert rows[0].asDict() == {
        "name": "a", "n": 3, "x": 0.25, "flag": True, "day": "2019-11-30", "at": "2019-11-30 10:00:00",
        "x_is_nan": False,
    }  # fmt: skip
    assert rows[1].asDict() == {  # NaN/NaT/None -> null, not NaN
        "name": None, "n": None, "x": None, "flag": False, "day": None, "at": None, "x_is_nan": False,
    }  # fmt: skip


def test_an_empty_result_keeps_its_schema(spark):
    frame = spark_io.to_spark(spark, pd.DataFrame(columns=round_trip_frame().columns), ROUND_TRIP_SCHEMA)
    assert frame.count() == 0 and frame.columns == list(round_trip_frame().columns)


_TZ_SCRIPT = """
import json, sys, time
import pandas as pd
from ml import spark_io
from test_ml_spark import session_builder
spark = session_builder().getOrCreate()
frame = pd.DataFrame({"aware": [pd.Timestamp("2019-11-30 10:00", tz="UTC")],
                      "naive": [pd.Timestamp("2019-11-30 10:00")],
                      "day": [pd.Timestamp("2019-11-30").date()]})
out = spark_io.to_spark(spark, frame, "aware timestamp, naive timestamp, day date")
row = out.selectExpr("cast(aware as string) a", "cast(naive as string) n", "cast(day as string) d").first()
print(json.dumps({"offset": time.localtime().tm_gmtoff, "aware": row.a, "naive": row.n, "day": row.d}))
spark.stop()
"""


def test_utc_instants_do_not_depend_on_the_machine_time_zone():
    path = os.pathsep.join([str(ROOT), str(Path(__file__).parent)])
    env = os.environ | {"TZ": "America/Los_Angeles", "PYTHONPATH": path}
    done = subprocess.run(
        [sys.executable, "-c", _TZ_SCRIPT], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["offset"] != 0  # the child really ran outside UTC
    assert (seen["aware"], seen["naive"], seen["day"]) == ("2019-11-30 10:00:00", "2019-11-30 10:00:00", "2019-11-30")
