"""ml.runs: the long rows of ml_training_runs, what an earlier run left, and
when a task is due for training (pandas only)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ml_fixtures import D, cart_windows, make_cart_frame, make_purchase_frame, model_metrics_view, purchase_windows

from ml import runs, spark_io
from ml.outputs import TRAINING_RUNS
from ml.persist import FORMAT_VERSION, is_saved
from ml.pipeline import TaskResult, save_models, train_task
from ml.recommend import METRICS_COLUMNS as RECOMMENDER_COLUMNS
from ml.settings import Settings
from ml.tasks import CART_TASK, FORECAST, PURCHASE_TASK, ROLLING_ORIGIN, get_task

SMALL = Settings(xgb_n_estimators=30, xgb_grid=((4, 0.1),), lr_C_grid=(1.0,), xgb_n_jobs=1)
TRAINED_AT = pd.Timestamp("2019-11-05 06:30:00", tz="UTC")
# the identity of a metrics row: columns of the long rows, not measures
KEYS = {"task", "model", "evaluation", "fold", "model_version", "trained_at"}


@pytest.fixture(scope="module")
def trained() -> dict[str, tuple[pd.DataFrame, TaskResult]]:
    purchases = make_purchase_frame(n_users=400, seed=32, rolling_folds=2)
    carts = make_cart_frame(n_carts=900, seed=31, n_open=50)
    return {
        PURCHASE_TASK: (purchases, train_task(PURCHASE_TASK, purchases, purchase_windows(purchases), SMALL,
                                              trained_at=TRAINED_AT)),
        CART_TASK: (carts, train_task(CART_TASK, carts, cart_windows(carts), SMALL, trained_at=TRAINED_AT)),
    }  # fmt: skip


@pytest.fixture(scope="module")
def run() -> runs.Run:
    return runs.Run.starting(TRAINED_AT)


def long_rows(run: runs.Run, result: TaskResult) -> pd.DataFrame:
    return runs.frame(runs.task_rows(run, result))


def wide(part: pd.DataFrame) -> pd.DataFrame:
    """position -> measure columns (value, else text) of one item's rows."""
    cell = part["value"].where(part["value"].notna(), part["text"])
    return part.assign(cell=cell).pivot(index="position", columns="measure", values="cell").sort_index()


def is_null(value: object) -> bool:
    return value is None or (not isinstance(value, str) and pd.isna(value))


# --- rows of a trained task ----------------------------------------------------

@pytest.mark.parametrize("task", [PURCHASE_TASK, CART_TASK])
def test_long_rows_reproduce_every_metrics_row(trained, run, task: str) -> None:
    _, result = trained[task]
    rows = long_rows(run, result)
    assert list(rows.columns) == TRAINING_RUNS.columns
    assert (rows["run_id"] == run.run_id).all() and (rows["trained_at"] == TRAINED_AT).all()
    expected = result.metrics()
    evaluations = {row["evaluation"] for row in expected}
    assert ROLLING_ORIGIN in evaluations and {row["fold"] for row in expected} >= {1, 2}  # folds are in there
    view = model_metrics_view(rows).set_index("model_version")
    assert len(view) == len(expected) and view.index.is_unique
    for row in expected:
        got = view.loc[row["model_version"]]
        assert got["status"] == "trained"
        measures = set(rows.loc[(rows.record == "metrics") & (rows.model_version == row["model_version"]), "measure"])
        assert measures == (set(row) - KEYS) | {"status"}
        for column, value in row.items():
            if column == "model_version":
                continue
            if column == "trained_at":
                assert got[column] == value == TRAINED_AT
            elif column == "fold":
                assert (value is None and is_null(got[column])) or got[column] == value
            elif is_null(value):  # NaN metrics (an undefined precision) are null, not NaN text
                assert is_null(got[column]), column
            elif isinstance(value, dt.date):
                assert dt.date.fromisoformat(got[column]) == value, column
            elif isinstance(value, str):
                assert got[column] == value, column
            else:
                assert float(got[column]) == pytest.approx(float(value), rel=1e-12), column


@pytest.mark.parametrize("task", [PURCHASE_TASK, CART_TASK])
def test_long_rows_hold_the_forecast_models_importances(trained, run, task: str) -> None:
    _, result = trained[task]
    rows = long_rows(run, result)
    importance = rows[rows.record == "importance"]
    assert set(importance.evaluation) == {FORECAST} and importance.fold.isna().all()
    assert len(importance) == 2 * len(result.importance)  # two measures per feature
    assert set(importance.measure) == {"importance", "importance_type"}
    for expected in result.importance.itertuples():
        mine = importance[(importance.model == expected.model) & (importance.model_version == expected.model_version)
                          & (importance.item == expected.feature)].set_index("measure")  # fmt: skip
        assert (mine["position"] == expected.rank).all()
        assert mine.loc["importance", "value"] == pytest.approx(expected.importance, rel=1e-12)
        assert mine.loc["importance_type", "text"] == expected.importance_type
    xgboost = result.get("xgboost")
    features = set(importance.loc[importance.model_version == xgboost.model_version, "item"])
    assert features == set(get_task(task).features(FORECAST))


@pytest.mark.parametrize("task", [PURCHASE_TASK, CART_TASK])
def test_long_rows_hold_each_models_reliability_bins(trained, run, task: str) -> None:
    frame, result = trained[task]
    rows = long_rows(run, result)
    reliability = rows[rows.record == "reliability"]
    test = frame[frame.split == "test"]
    # a calibrated model, so the two tables of it differ and their labels matter
    assert any(m.calibrator is not None for m in result.models.values())
    for (model, evaluation), fitted in result.models.items():
        mine = reliability[reliability.model_version == fitted.model_version]
        assert set(mine.evaluation) == {evaluation} and set(mine.model) == {model}
        for label, key in (("calibrated", "reliability"), ("uncalibrated", "reliability_uncalibrated")):
            bins = wide(mine[mine.item == label]).astype(float)
            expected = pd.DataFrame(fitted.diagnostics[key]).set_index("bin")
            assert bins.index.tolist() == expected.index.tolist()
            for measure in ("mean_predicted", "observed_rate", "rows"):
                np.testing.assert_allclose(bins[measure], expected[measure], rtol=1e-12, err_msg=f"{label} {measure}")
            # the bins partition the test rows: independent figures of the metrics
            assert bins["rows"].sum() == fitted.metrics["n_test"]
            observed = (bins["observed_rate"] * bins["rows"]).sum() / bins["rows"].sum()
            assert observed == pytest.approx(fitted.metrics["positive_rate_test"])
        if evaluation == FORECAST:  # its test rows are the test split: recompute the mean prediction
            bins = wide(mine[mine.item == "calibrated"]).astype(float)
            mean = (bins["mean_predicted"] * bins["rows"]).sum() / bins["rows"].sum()
            assert mean == pytest.approx(fitted.predict_proba(test).mean(), rel=1e-9)


@pytest.mark.parametrize("task", [PURCHASE_TASK, CART_TASK])
def test_long_rows_hold_each_models_curve_points(trained, run, task: str) -> None:
    _, result = trained[task]
    rows = long_rows(run, result)
    curves = rows[rows.record == "curve"]
    for fitted in result.models.values():
        mine = curves[curves.model_version == fitted.model_version]
        expected = pd.DataFrame(fitted.diagnostics["curves"])
        assert set(mine.item) == set(expected.curve) == {"roc", "precision_recall"}
        for name, points in expected.groupby("curve"):
            got = wide(mine[mine.item == name]).astype(float)
            assert got.index.tolist() == points["point"].tolist()
            for measure in ("x", "y", "threshold"):
                np.testing.assert_allclose(got[measure], points[measure], rtol=1e-12)
        roc = wide(mine[mine.item == "roc"]).astype(float)
        assert (roc.x.iloc[0], roc.y.iloc[0], roc.x.iloc[-1], roc.y.iloc[-1]) == (0.0, 0.0, 1.0, 1.0)
        # the area under the stored points is the model's AUC (thinned to at most 101 points)
        auc = fitted.metrics["auc_roc"]
        if fitted.model == "baseline":  # one threshold: the diagonal
            assert auc == 0.5 and len(roc) == 2
        assert np.trapezoid(roc.y, roc.x) == pytest.approx(auc, abs=0.01)


def test_metrics_rows_write_numbers_dates_and_nulls_to_their_columns(run) -> None:
    row = {
        "task": "t", "model": "m", "evaluation": FORECAST, "fold": np.float64(2.0), "model_version": "v",
        "trained_at": TRAINED_AT, "auc_roc": float("nan"), "n_test": np.int64(12), "flag": np.bool_(True),
        "test_start": D(2019, 10, 25), "missing_day": pd.NaT, "missing": None, "na": pd.NA,
        "parameters": '{"C": 1.0}',
    }  # fmt: skip
    rows = runs.frame(runs.metrics_rows(run, [row]))
    assert set(rows.measure) == (set(row) - KEYS) | {"status"}
    assert (rows.fold == 2).all() and (rows.model_version == "v").all() and (rows.record == "metrics").all()
    by = rows.set_index("measure")
    for measure in ("auc_roc", "missing_day", "missing", "na"):
        assert is_null(by.loc[measure, "value"]) and is_null(by.loc[measure, "text"]), measure
    assert (by.loc["n_test", "value"], by.loc["flag", "value"]) == (12.0, 1.0)
    assert by.loc["test_start", "text"] == "2019-10-25" and is_null(by.loc["test_start", "value"])
    assert by.loc["parameters", "text"] == '{"C": 1.0}' and by.loc["status", "text"] == "trained"
    # the rows take the table's declared types, nulls staying null
    ready = spark_io.spark_ready(rows, TRAINING_RUNS.ddl)
    assert ready.set_index("measure").loc[["auc_roc", "missing_day"], ["value", "text"]].isna().all().all()
    assert str(ready["fold"].dtype) == "Int64" and str(ready["trained_at"].dtype) == "datetime64[ns, UTC]"


def test_recommender_metrics_rows_keep_their_own_columns(run) -> None:
    row = {column: None for column in RECOMMENDER_COLUMNS} | {
        "task": "product_recommendation", "model": "als", "evaluation": FORECAST, "k": 10,
        "precision_at_k": 0.25, "ndcg_at_k": 0.5, "n_train": 40, "train_start": D(2019, 10, 1),
        "model_version": "product_recommendation-als-forecast-x", "trained_at": TRAINED_AT,
    }  # fmt: skip
    rows = runs.frame(runs.metrics_rows(run, [row]))
    assert set(rows.measure) == (set(RECOMMENDER_COLUMNS) - KEYS) | {"status"}
    view = model_metrics_view(rows).iloc[0]
    assert (view["k"], view["precision_at_k"], view["ndcg_at_k"], view["n_train"]) == (10, 0.25, 0.5, 40)
    assert view["train_start"] == "2019-10-01" and is_null(view["recall_at_k"]) and is_null(view["fold"])


def test_skipped_tasks_get_one_status_row_per_model_with_the_reason(run) -> None:
    rows = runs.frame(runs.skipped_rows(run, CART_TASK, ("baseline", "xgboost"), "no test rows"))
    assert list(rows.columns) == TRAINING_RUNS.columns
    assert len(rows) == 2 and sorted(rows.model) == ["baseline", "xgboost"]
    assert (rows.record == "metrics").all() and (rows.measure == "status").all()
    assert (rows.text == "skipped: no test rows").all() and rows.value.isna().all()
    assert rows.model_version.isna().all() and rows.fold.isna().all() and (rows.evaluation == FORECAST).all()
    record = runs.frame(runs.run_record(run, CART_TASK, D(2019, 11, 3), "abc", "never trained"))
    assert record.set_index("measure")["text"].to_dict() == {
        "data_end_date": "2019-11-03", "fingerprint": "abc", "reason": "never trained",
    }  # fmt: skip
    assert (record.record == "run").all() and record.model.isna().all()
    previous = runs.previous_runs(pd.concat([rows, record]))[CART_TASK]
    assert previous == runs.PreviousRun(run.run_id, D(2019, 11, 3), "abc", (), trained=False)


def test_run_ids_are_utc_stamps_that_sort_by_time() -> None:
    stamp = pd.Timestamp("2019-11-30 11:00:00.123456", tz="Europe/Berlin")
    assert runs.run_id(stamp) == "20191130T100000123456Z"
    later = runs.run_id(pd.Timestamp("2019-11-30 10:00:00.123457", tz="UTC"))
    assert runs.run_id(stamp) < later
    now = runs.Run.starting()
    assert now.trained_at.tzinfo is not None and re.fullmatch(r"\d{8}T\d{12}Z", now.run_id)


# --- what earlier runs left ----------------------------------------------------

def metrics(task: str, model: str, version: str, evaluation: str = FORECAST, fold: int | None = None) -> dict:
    return {"task": task, "model": model, "evaluation": evaluation, "fold": fold, "model_version": version,
            "auc_roc": 0.7}  # fmt: skip


RECOMMENDATION = "product_recommendation"


def two_runs() -> tuple[pd.DataFrame, runs.Run, runs.Run]:
    first = runs.Run.starting(pd.Timestamp("2019-11-01 03:00", tz="UTC"))
    second = runs.Run.starting(pd.Timestamp("2019-11-08 03:00", tz="UTC"))
    rows = [
        # run 1 trains all three tasks
        *runs.metrics_rows(first, [
            metrics(PURCHASE_TASK, "baseline", "p-b-1"), metrics(PURCHASE_TASK, "xgboost", "p-x-1"),
            metrics(PURCHASE_TASK, "xgboost", "p-x-sw-1", evaluation="same_window"),  # never scores
            metrics(PURCHASE_TASK, "xgboost", "p-x-ro-2-1", evaluation=ROLLING_ORIGIN, fold=2),  # a fold
            metrics(PURCHASE_TASK, "xgboost", "p-x-fc-2-1", fold=2),  # a fold row of the forecast
            metrics(CART_TASK, "xgboost", "c-x-1"),
            metrics(RECOMMENDATION, "als", "r-als-1"), metrics(RECOMMENDATION, "popularity", "r-pop-1"),
        ]),
        *runs.run_record(first, PURCHASE_TASK, D(2019, 11, 1), "fp-p-1", "never trained"),
        *runs.run_record(first, CART_TASK, D(2019, 11, 1), "fp-c-1", "never trained"),
        *runs.run_record(first, RECOMMENDATION, D(2019, 11, 1), "fp-r-1", "never trained"),
        # run 2: the cart task is skipped, the recommender trained again; purchases not due
        *runs.skipped_rows(second, CART_TASK, ("baseline", "xgboost"), "test rows hold a single class"),
        *runs.run_record(second, CART_TASK, D(2019, 11, 8), "fp-c-2", "its model is 7 days of data old"),
        *runs.metrics_rows(second, [
            metrics(RECOMMENDATION, "als", "r-als-2"), metrics(RECOMMENDATION, "popularity", "r-pop-2"),
            metrics(RECOMMENDATION, "recently_viewed", "r-rv-2"),
        ]),
        *runs.run_record(second, RECOMMENDATION, D(2019, 11, 8), "fp-r-2", "its model is 7 days of data old"),
    ]  # fmt: skip
    return runs.frame(rows).sample(frac=1.0, random_state=4), first, second  # row order does not matter


def test_previous_runs_are_the_latest_run_of_each_task() -> None:
    table, first, second = two_runs()
    previous = runs.previous_runs(table)
    assert previous == {
        PURCHASE_TASK: runs.PreviousRun(first.run_id, D(2019, 11, 1), "fp-p-1",
                                        (("baseline", "p-b-1"), ("xgboost", "p-x-1")), trained=True),
        CART_TASK: runs.PreviousRun(second.run_id, D(2019, 11, 8), "fp-c-2", (), trained=False),
        RECOMMENDATION: runs.PreviousRun(
            second.run_id, D(2019, 11, 8), "fp-r-2",
            (("als", "r-als-2"), ("popularity", "r-pop-2"), ("recently_viewed", "r-rv-2")), trained=True,
        ),
    }  # fmt: skip
    assert runs.previous_runs(runs.frame([])) == {}


def test_previous_runs_need_only_the_columns_and_measures_the_bridge_reads() -> None:
    table, _, _ = two_runs()
    # what ml.dbt_bridge reads back from Spark: run and metrics records, three
    # measures, a few columns; nullable bigint `fold` arrives as float with NaN
    needed = table[table.record.isin(["run", "metrics"]) & table.measure.isin(["data_end_date", "fingerprint", "status"])]
    needed = needed[["run_id", "task", "model", "evaluation", "fold", "model_version", "record", "measure", "text"]]
    needed = needed.astype({"fold": "float64"})
    assert runs.previous_runs(needed) == runs.previous_runs(table)


def test_the_versions_of_a_trained_run_are_the_models_it_saved(trained, run, tmp_path: Path) -> None:
    _, result = trained[PURCHASE_TASK]
    save_models(result, tmp_path)
    rows = runs.frame(runs.task_rows(run, result) + runs.run_record(run, PURCHASE_TASK, D(2019, 11, 5), "fp", "r"))
    previous = runs.previous_runs(rows)[PURCHASE_TASK]
    forecast = {(m.model, m.model_version) for (_, e), m in result.models.items() if e == FORECAST}
    assert set(previous.versions) == forecast and len(forecast) == len(SMALL.models)
    assert previous.trained and previous.data_end_date == D(2019, 11, 5)
    assert all(is_saved(tmp_path, PURCHASE_TASK, model, version) for model, version in previous.versions)


# --- when to train ---------------------------------------------------------------

PREVIOUS = runs.PreviousRun("r1", D(2019, 11, 1), "fp", (("xgboost", "v1"),), trained=True)


def due(previous=PREVIOUS, fingerprint="fp", data_end=D(2019, 11, 2), every_days=7, forced=False, saved=True):
    return runs.due_reason(previous, fingerprint, data_end, every_days, forced, saved)


def test_a_task_is_not_due_while_its_models_are_younger_than_the_schedule() -> None:
    assert due() is None
    assert due(data_end=D(2019, 11, 1)) is None  # the same data
    assert due(data_end=D(2019, 11, 1) + dt.timedelta(days=6)) is None  # every_days - 1
    assert due(data_end=D(2019, 11, 1), every_days=1) is None


@pytest.mark.parametrize(("data_end", "every_days", "age"), [
    (D(2019, 11, 8), 7, 7),  # exactly every_days
    (D(2019, 12, 1), 7, 30),
    (D(2019, 11, 2), 1, 1),
])  # fmt: skip
def test_a_task_is_due_once_its_models_are_every_days_of_data_old(data_end, every_days, age) -> None:
    reason = due(data_end=data_end, every_days=every_days)
    assert reason is not None and f"{age} days of data old" in reason and f"ml_retrain_every_days: {every_days}" in reason


@pytest.mark.parametrize(("change", "expected"), [
    ({"forced": True}, "asked (ml_retrain)"),
    ({"previous": None}, "never trained"),
    ({"previous": dataclasses.replace(PREVIOUS, trained=False)}, "not trained by its latest run"),
    ({"fingerprint": "other"}, "changed"),
    ({"saved": False}, "a saved model is missing"),
    ({"data_end": None}, "data end date is unknown"),
    ({"previous": dataclasses.replace(PREVIOUS, data_end_date=None)}, "data end date is unknown"),
])  # fmt: skip
def test_each_reason_to_train(change: dict, expected: str) -> None:
    assert due() is None  # the base case is not due: each change alone makes it due
    reason = due(**change)
    assert reason is not None and expected in reason


def test_reasons_take_precedence_in_order() -> None:
    # asked beats everything, even a first build
    assert due(previous=None, forced=True) == "asked (ml_retrain)"
    # a changed definition is named before a missing artifact or the age
    assert "changed" in due(fingerprint="other", saved=False, data_end=D(2020, 1, 1))
    assert due(saved=False, data_end=D(2020, 1, 1)) == "a saved model is missing"
    skipped = dataclasses.replace(PREVIOUS, trained=False)
    assert due(previous=skipped, fingerprint="other") == "not trained by its latest run"


def test_fingerprints_follow_what_decides_the_models() -> None:
    spec = get_task(CART_TASK)
    features = {e: spec.features(e) for e in spec.evaluations}
    base = runs.fingerprint("hash", features, SMALL.to_dict(), FORMAT_VERSION)
    assert re.fullmatch(r"[0-9a-f]{32}", base)
    assert runs.fingerprint("hash", features, SMALL.to_dict(), FORMAT_VERSION) == base
    reordered = dict(reversed(list(SMALL.to_dict().items())))
    assert runs.fingerprint("hash", features, reordered, FORMAT_VERSION) == base  # key order is not a change
    fewer = {e: f[:-1] for e, f in features.items()}  # a feature dropped from the code
    changes = [
        runs.fingerprint("other hash", features, SMALL.to_dict(), FORMAT_VERSION),
        runs.fingerprint("hash", fewer, SMALL.to_dict(), FORMAT_VERSION),
        runs.fingerprint("hash", features, SMALL.replace(xgb_n_estimators=31).to_dict(), FORMAT_VERSION),
        runs.fingerprint("hash", features, SMALL.to_dict(), FORMAT_VERSION + 1),
    ]
    assert len({base, *changes}) == 5
