"""ml.dbt_bridge / ml.spark_io against a local Spark session: what reaches
pandas when training (columns, splits, a capped stratified sample), when a
task is trained at all (nothing converted when nothing is due), batch scoring
in Spark equal to pandas scoring of the saved model, and Arrow conversion of
results."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F
from ml_fixtures import (
    WINDOWS_DDL,
    cart_windows,
    make_cart_frame,
    make_purchase_frame,
    model_metrics_view,
    purchase_windows,
)

from ml import dbt_bridge, persist, spark_io
from ml.outputs import TRAINING_RUNS
from ml.pipeline import best_model, score_carts, score_purchase
from ml.sampling import SamplePlan
from ml.settings import Settings
from ml.splits import training_columns
from ml.tasks import CART_TASK, FORECAST, LABEL, PURCHASE_TASK, ROLLING_ORIGIN, SAME_WINDOW, get_task

pytestmark = pytest.mark.spark
pyspark_sql = pytest.importorskip("pyspark.sql")

ROOT = Path(__file__).resolve().parents[2]
ARROW_KEY = "spark.sql.execution.arrow.pyspark.enabled"
# Small caps so the fixtures (600 users; ~1,150 train / ~350 test carts) are sampled.
SETTINGS = Settings(xgb_n_estimators=30, max_train_rows=300, max_test_rows=200, min_train_minority_rows=0,
                    xgb_grid=((6, 0.05), (3, 0.1)), lr_C_grid=(0.1, 1.0), xgb_n_jobs=1)  # fmt: skip
CAPS = {"train": 300, "test": 200, "same_window": 300, "rolling_2_train": 300, "rolling_2_test": 200}
SCHEMA = "ml_test"
RECOMMENDATION = dbt_bridge.RECOMMENDATION_TASK
# the columns of the SQL view ml_model_metrics the scoring nodes read
METRICS_DDL = "task string, model string, evaluation string, fold bigint, auc_roc double, model_version string, status string"


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


def to_pandas(frame) -> pd.DataFrame:
    with spark_io.arrow(frame.sparkSession):
        return frame.toPandas()


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    purchases = make_purchase_frame(600, seed=5, rolling_folds=2)
    purchases["junk"] = "must not reach pandas"
    carts = make_cart_frame(1500, seed=6, n_open=150)
    carts["iso_week"] = carts["iso_week"].astype("int64")  # Spark has no unsigned ints
    carts["junk"] = 1.0
    return {PURCHASE_TASK: purchases, CART_TASK: carts}


@pytest.fixture(scope="module")
def tables(spark, frames):
    return {task: to_table(spark, frame) for task, frame in frames.items()}


@pytest.fixture(scope="module")
def window_rows(frames) -> pd.DataFrame:
    """ml_training_windows for the two frames (no product_recommendation rows:
    the recommender is skipped, and never reads `daily`)."""
    return pd.concat([purchase_windows(frames[PURCHASE_TASK]), cart_windows(frames[CART_TASK])], ignore_index=True)


@pytest.fixture(scope="module")
def windows(spark, window_rows):
    return spark_io.to_spark(spark, window_rows, WINDOWS_DDL)


def variables_for(directory: Path, **changes: str) -> dict[str, str]:
    # as models/ml/ml_outputs.yml renders them: strings
    return {"ml_model_dir": str(directory), "ml_retrain": "False", "ml_retrain_every_days": "7"} | changes


def training_runs(spark, existing, tables, windows, variables):
    """ml_training_runs as the dbt model calls it, with the small test settings."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dbt_bridge, "Settings", lambda: SETTINGS)
        return dbt_bridge.training_runs_model(spark, existing, tables, daily=None, windows=windows,
                                              variables=variables, schema=SCHEMA)  # fmt: skip


@pytest.fixture(scope="module")
def trained(spark, tables, windows, tmp_path_factory):
    """The first build of ml_training_runs, recording what was converted to pandas."""
    root = tmp_path_factory.mktemp("models")
    converted: dict[str, pd.DataFrame] = {}
    original = spark_io.training_sample

    def recording(table, spec, plan, seed):
        converted[spec.name] = original(table, spec, plan, seed)
        return converted[spec.name]

    variables = variables_for(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(spark_io, "training_sample", recording)
        frame = training_runs(spark, None, tables, windows, variables)
    rows = to_pandas(frame)
    return {"dir": root / SCHEMA, "root": root, "variables": variables, "converted": converted, "frame": frame,
            "rows": rows, "metrics": model_metrics_view(rows)}  # fmt: skip


def metrics_table(spark, view: pd.DataFrame):
    """The view ml_model_metrics over `view` (model_metrics_view rows), as the scoring nodes get it."""
    columns = [name for name, _ in spark_io.schema_fields(METRICS_DDL)]
    return spark_io.to_spark(spark, view.reindex(columns=columns), METRICS_DDL)


def label_counts(frame: pd.DataFrame) -> dict[str, dict[float, int]]:
    counts: dict[str, dict[float, int]] = {}
    for (split, label), n in frame.groupby(["split", LABEL]).size().items():
        counts.setdefault(split, {})[label] = int(n)
    return counts


def reasons(rows: pd.DataFrame) -> dict[str, str]:
    """task -> why the run trained it, from its `run` records."""
    records = rows[(rows.record == "run") & (rows.measure == "reason")]
    return dict(zip(records.task, records.text, strict=True))


# --- training: what reaches pandas -------------------------------------------

@pytest.mark.parametrize("task", [PURCHASE_TASK, CART_TASK])
def test_only_the_needed_columns_and_splits_reach_pandas(trained, frames, task):
    spec = get_task(task)
    pdf = trained["converted"][task]
    assert list(pdf.columns) == training_columns(spec)
    assert "junk" not in pdf.columns
    expected = {"train", "test"} | ({"same_window", "rolling_2_train", "rolling_2_test"} if task == PURCHASE_TASK else set())
    assert set(pdf["split"]) == expected
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


def test_recorded_sample_rates_are_rows_used_over_rows_available(trained, frames, window_rows):
    metrics = trained["metrics"]
    classifiers = metrics[metrics.task != RECOMMENDATION]
    assert set(classifiers["status"]) == {"trained"}
    assert set(classifiers.task) == {PURCHASE_TASK, CART_TASK}
    available = {task: frame["split"].value_counts() for task, frame in frames.items()}
    carts = trained["converted"][CART_TASK]
    cart_rate = {split: (carts.split == split).sum() / available[CART_TASK][split] for split in ("train", "test")}
    bounds = window_rows[window_rows.task == CART_TASK].set_index("split")
    checked = 0
    for row in classifiers.itertuples():
        fold = None if pd.isna(row.fold) else int(row.fold)
        if row.evaluation == SAME_WINDOW:  # both sides are cut from the one sampled split
            rate = (row.n_train + row.n_test) / available[PURCHASE_TASK]["same_window"]
            assert row.train_sample_rate == pytest.approx(rate) and row.test_sample_rate == pytest.approx(rate)
        elif row.task == CART_TASK and row.evaluation == ROLLING_ORIGIN and fold > 1:
            # a cart fold mixes train and test carts sampled at different rates:
            # each sampled cart stands for 1 / (its split's rate) carts
            for part, n, recorded in (("train", row.n_train, row.train_sample_rate),
                                      ("test", row.n_test, row.test_sample_rate)):  # fmt: skip
                start, end = bounds.loc[f"rolling_{fold}_{part}", ["start_date", "end_date"]]
                rows = carts[(carts.cart_date >= start) & (carts.cart_date < end)]
                assert len(rows) == n
                stand_for = sum(1 / cart_rate[split] for split in rows.split)
                assert recorded == pytest.approx(n / stand_for)
        else:  # the forecast, fold 1 (its copy) and the purchase folds: one split each side
            train_split, test_split = ("train", "test") if fold in (None, 1) else (f"rolling_{fold}_train", f"rolling_{fold}_test")
            assert row.train_sample_rate == pytest.approx(row.n_train / available[row.task][train_split])
            assert row.test_sample_rate == pytest.approx(row.n_test / available[row.task][test_split])
        assert row.train_sample_rate < 1 and row.test_sample_rate < 1
        checked += 1
    # purchases: 3 models x (forecast, same_window, folds 1-2); carts: 3 x (forecast, folds 1-3)
    assert checked == 3 * 4 + 3 * 4


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


def test_training_runs_are_written_with_the_declared_schema(spark, trained):
    assert trained["frame"].schema == spark.createDataFrame([], TRAINING_RUNS.ddl).schema
    rows = trained["rows"]
    assert reasons(rows) == {PURCHASE_TASK: "never trained", CART_TASK: "never trained",
                             RECOMMENDATION: "never trained"}  # fmt: skip
    assert rows["run_id"].nunique() == 1
    # the recommender has no windows here: skipped, with the reason, per recommender
    skipped = trained["metrics"][trained["metrics"].task == RECOMMENDATION]
    assert sorted(skipped.model) == ["als", "popularity", "recently_viewed"]
    assert skipped["status"].str.startswith("skipped: the data covers no more days").all()
    # the run record holds the windows' data end date
    ends = rows[(rows.record == "run") & (rows.measure == "data_end_date")]
    assert set(ends.text) == {dt.date(2019, 11, 5).isoformat()}  # the latest window end of all tasks


# --- training on a schedule ----------------------------------------------------

def test_a_build_with_nothing_due_converts_nothing(spark, tables, windows, trained):
    def must_not_run(*args, **kwargs):
        raise AssertionError("training table converted although the saved models are not due")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(spark_io, "training_sample", must_not_run)
        again = to_pandas(training_runs(spark, trained["frame"], tables, windows, trained["variables"]))
    # only the recommender, skipped last time, is tried again (and skipped again)
    assert reasons(again) == {RECOMMENDATION: "not trained by its latest run"}
    assert set(again.task) == {RECOMMENDATION}


def test_what_is_due_follows_the_data_the_definition_and_the_saved_models(spark, tables, window_rows, trained,
                                                                          tmp_path):  # fmt: skip
    called: list[str] = []

    def train_nothing(task, *args, **kwargs):
        called.append(task)
        return [], None

    def due(rows: pd.DataFrame, variables: dict | None = None) -> dict[str, str]:
        called.clear()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(dbt_bridge, "_train_classifier", train_nothing)
            frame = training_runs(spark, trained["frame"], tables, spark_io.to_spark(spark, rows, WINDOWS_DDL),
                                  variables or trained["variables"])  # fmt: skip
            out = reasons(to_pandas(frame))
        assert sorted(called) == sorted(task for task in out if task != RECOMMENDATION)
        out.pop(RECOMMENDATION)  # skipped by every run here: always tried again
        return out

    def moved(days: int) -> pd.DataFrame:
        return window_rows.assign(data_end_date=window_rows.data_end_date + dt.timedelta(days=days))

    assert due(moved(6)) == {}  # every_days - 1 days of new data
    week = due(moved(7))
    assert set(week) == {PURCHASE_TASK, CART_TASK} and all("7 days of data old" in r for r in week.values())
    changed = due(window_rows.assign(definition_hash=np.where(window_rows.task == PURCHASE_TASK, "new",
                                                              window_rows.definition_hash)))  # fmt: skip
    assert set(changed) == {PURCHASE_TASK} and "training-set definition changed" in changed[PURCHASE_TASK]
    assert due(window_rows, variables_for(trained["root"], ml_retrain="True")) == {
        PURCHASE_TASK: "asked (ml_retrain)", CART_TASK: "asked (ml_retrain)",
    }  # fmt: skip
    assert due(window_rows, variables_for(trained["root"], ml_retrain_every_days="1")) == {}  # the same data
    # a copy of the model folder with one cart model missing: only the cart task is due
    copy = tmp_path / "copy"
    shutil.copytree(trained["root"], copy)
    metrics = trained["metrics"]
    version = metrics.loc[(metrics.task == CART_TASK) & (metrics.model == "xgboost") & (metrics.evaluation == FORECAST)
                          & metrics.fold.isna(), "model_version"].item()  # fmt: skip
    persist.model_path(copy / SCHEMA, CART_TASK, "xgboost", version).unlink()
    assert due(window_rows, variables_for(copy)) == {CART_TASK: "a saved model is missing"}


def test_the_same_tables_partitioned_differently_give_the_same_metrics(spark, tables, windows, trained):
    # Sampling (SETTINGS caps the splits), row order and training are all fixed
    # by the data and the seed, not by how Spark happens to lay the rows out.
    reshuffled = {task: table.repartition(5).orderBy(F.rand(11)) for task, table in tables.items()}
    forced = variables_for(trained["root"], ml_retrain="true")
    rows = to_pandas(training_runs(spark, trained["frame"], reshuffled, windows, forced))
    assert reasons(rows) == {task: "asked (ml_retrain)" for task in (PURCHASE_TASK, CART_TASK, RECOMMENDATION)}
    again = model_metrics_view(rows)
    stable = [c for c in again.columns if c not in ("model_version", "trained_at")]
    key = ["task", "model", "evaluation", "fold"]

    def ordered(frame):
        return frame[stable].sort_values(key).reset_index(drop=True)

    assert (again["train_sample_rate"] < 1).any()  # the sample is part of what must repeat
    assert set(again.model_version.dropna()).isdisjoint(trained["metrics"].model_version.dropna())  # a new run
    pd.testing.assert_frame_equal(ordered(again), ordered(trained["metrics"]))


def test_a_task_without_two_classes_is_skipped_without_conversion(spark, frames, windows, tmp_path):
    carts, purchases = frames[CART_TASK], frames[PURCHASE_TASK]
    one_class = to_table(spark, carts[(carts["split"] != "test") | (carts[LABEL] == 0)])
    no_test = to_table(spark, purchases[purchases["split"] != "test"])
    variables = variables_for(tmp_path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(spark_io, "training_sample", lambda *a: pytest.fail("converted a skipped task"))
        frame = training_runs(spark, None, {CART_TASK: one_class, PURCHASE_TASK: no_test}, windows, variables)
        rows = to_pandas(frame)
        metrics = model_metrics_view(rows)
        predictions = dbt_bridge.predictions_model(spark, CART_TASK, one_class, metrics_table(spark, metrics),
                                                   variables, SCHEMA)  # fmt: skip
    status = metrics.groupby("task")["status"].agg(set).to_dict()
    for task, reason in ((CART_TASK, "skipped: test rows hold a single class"), (PURCHASE_TASK, "skipped: no test rows")):
        assert len(status[task]) == 1 and next(iter(status[task])).startswith(reason), task
    assert (metrics.task == CART_TASK).sum() == (metrics.task == PURCHASE_TASK).sum() == len(SETTINGS.models)
    assert metrics.model_version.isna().all()
    assert set(rows.loc[rows.record == "metrics", "measure"]) == {"status"}  # no figures at all
    assert predictions.count() == 0
    assert predictions.schema == spark.createDataFrame([], dbt_bridge.SCORING[CART_TASK][2]).schema
    assert not list(tmp_path.rglob("*.joblib"))


# --- scoring in batches ------------------------------------------------------

@pytest.mark.parametrize(("task", "score"), [(PURCHASE_TASK, score_purchase), (CART_TASK, score_carts)])
def test_batch_scoring_in_spark_equals_pandas_scoring(spark, frames, tables, trained, task, score):
    spec = get_task(task)
    metrics = trained["metrics"]
    scored = dbt_bridge.predictions_model(spark, task, tables[task], metrics_table(spark, metrics),
                                          trained["variables"], SCHEMA)  # fmt: skip
    assert scored.schema == spark.createDataFrame([], dbt_bridge.SCORING[task][2]).schema
    in_spark = scored.toPandas()
    # the scoring model: the learner with the best forecast AUC-ROC of the run
    forecast = metrics[(metrics.task == task) & (metrics.evaluation == FORECAST) & metrics.fold.isna()]
    learners = forecast[forecast.model != "baseline"]
    chosen = learners.loc[learners.auc_roc.idxmax()]
    assert best_model(metrics[metrics.task == task])["model_version"] == chosen["model_version"]
    fitted = persist.load_model(trained["dir"], task, chosen["model"], chosen["model_version"])
    awaiting = frames[task][frames[task]["split"] == spec.score_split]
    in_pandas = score(fitted, awaiting)
    key = spec.keys[0]
    in_spark, in_pandas = (f.sort_values(key).reset_index(drop=True) for f in (in_spark, in_pandas))
    assert len(in_spark) == len(awaiting) > 2 * 40  # several Arrow batches
    assert in_spark[key].tolist() == in_pandas[key].tolist()
    # equal up to the last bit: numpy's matrix products sum in an order that
    # depends on the batch size, so a row may differ by one ulp
    np.testing.assert_allclose(in_spark["purchase_probability"], in_pandas["purchase_probability"], rtol=1e-12, atol=0)
    assert in_spark["predicted_purchase"].tolist() == in_pandas["predicted_purchase"].astype(bool).tolist()
    assert (in_spark["model_version"] == chosen["model_version"]).all()
    assert in_spark["scored_at"].nunique() == 1  # one value per run, not per batch
    if task == CART_TASK:
        for column in ("user_id", "product_id", "cart_at"):
            assert in_spark[column].tolist() == in_pandas[column].tolist(), column


def test_saved_models_of_earlier_builds_score_too_and_skipped_ones_do_not(spark, frames, tables, trained):
    # ml_model_metrics calls a model trained by an earlier build `reused`: it scores like a trained one
    metrics = trained["metrics"]
    reused = metrics.assign(status=metrics.status.replace("trained", "reused"))
    scored = dbt_bridge.predictions_model(spark, CART_TASK, tables[CART_TASK], metrics_table(spark, reused),
                                          trained["variables"], SCHEMA)  # fmt: skip
    assert scored.count() == (frames[CART_TASK]["split"] == "open").sum()  # every open cart
    skipped = metrics.assign(status="skipped: no test rows")
    nothing = dbt_bridge.predictions_model(spark, CART_TASK, tables[CART_TASK], metrics_table(spark, skipped),
                                           trained["variables"], SCHEMA)  # fmt: skip
    assert nothing.count() == 0


def test_a_predictions_model_never_trains(spark, tables, trained, tmp_path):
    # the run names models, but this schema's folder holds none
    metrics = metrics_table(spark, trained["metrics"])
    with pytest.raises(persist.MissingModelError, match="ml_retrain"):
        dbt_bridge.predictions_model(spark, CART_TASK, tables[CART_TASK], metrics, variables_for(tmp_path), SCHEMA)
    assert not list(tmp_path.rglob("*.joblib"))


def test_duplicated_keys_across_batches_raise(spark, frames, trained):
    carts = frames[CART_TASK]
    open_rows = carts[carts["split"] == "open"]
    doubled = to_table(spark, pd.concat([carts, open_rows.iloc[[0]]], ignore_index=True))  # first and last row
    metrics = metrics_table(spark, trained["metrics"])
    with pytest.raises(ValueError, match=r"1 \['cart_event_id'\] values occur more than once"):
        dbt_bridge.predictions_model(spark, CART_TASK, doubled, metrics, trained["variables"], SCHEMA)


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
