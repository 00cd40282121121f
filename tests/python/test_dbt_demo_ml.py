"""The ML models in the DAG, on generated demo data: every task and model is
evaluated, the models beat the trivial baseline on the later held-out window,
no label-derived feature is used, and predictions are well-formed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from ml.tasks import is_leaky

pytestmark = pytest.mark.dbt

TASK_EVALUATIONS = {
    ("purchase_propensity", "forecast"),
    ("purchase_propensity", "same_window"),
    ("cart_conversion", "forecast"),
}
MODELS = {"baseline", "logistic_regression", "xgboost"}


@pytest.fixture(scope="module")
def metrics(demo) -> dict[tuple[str, str, str], dict]:
    """Forecast and same-window rows by (task, evaluation, model)."""
    rows = demo.frame("select * from {s}_ml.ml_model_metrics where evaluation != 'rolling_origin' "
                      "and task != 'product_recommendation'")
    return {(row["task"], row["evaluation"], row["model"]): row for row in rows.to_dict("records")}


@pytest.fixture(scope="module")
def folds(demo):
    return demo.frame("select * from {s}_ml.ml_model_metrics where evaluation = 'rolling_origin'")


def test_metrics_exist_for_every_task_model_and_evaluation(metrics):
    expected = {(task, evaluation, model) for task, evaluation in TASK_EVALUATIONS for model in MODELS}
    assert set(metrics) == expected
    assert {row["status"] for row in metrics.values()} == {"trained"}
    for row in metrics.values():
        assert row["n_train"] > 0 and row["n_test"] > 0
        assert row["model_version"].startswith(f"{row['task']}-{row['model']}-{row['evaluation']}-")


@pytest.mark.parametrize("task", ["purchase_propensity", "cart_conversion"])
@pytest.mark.parametrize("model", ["logistic_regression", "xgboost"])
def test_models_beat_the_baseline_on_the_later_held_out_window(metrics, task, model):
    fitted, baseline = metrics[(task, "forecast", model)], metrics[(task, "forecast", "baseline")]
    assert math.isclose(baseline["auc_roc"], 0.5)  # a constant predictor ranks nothing
    assert fitted["auc_roc"] > baseline["auc_roc"] + 0.15
    assert fitted["pr_auc"] > 1.5 * baseline["pr_auc"]
    assert fitted["log_loss"] < baseline["log_loss"]
    assert fitted["brier"] < baseline["brier"]


def test_forecast_test_window_is_later_than_the_training_window(metrics):
    for task in ("purchase_propensity", "cart_conversion"):
        row = metrics[(task, "forecast", "xgboost")]
        assert row["train_end"] <= row["test_end"]
        assert row["train_start"] < row["test_start"]


def test_no_label_derived_feature_is_used(demo):
    features = {row[0] for row in demo.sql("select distinct feature from {s}_ml.ml_feature_importance")}
    assert features, "no feature importance rows"
    assert not [f for f in features if is_leaky(f.split("=")[0])]


def test_the_scoring_models_are_saved_per_schema_under_their_versions(demo):
    import os

    from ml import persist

    folder = Path(os.environ["REES46_WAREHOUSE_DIR"]) / "ml_models" / f"{demo.schema}_ml"
    forecast = demo.frame("select task, model, model_version from {s}_ml.ml_model_metrics"
                          " where evaluation = 'forecast' and task != 'product_recommendation'")
    assert len(forecast) == 6
    for row in forecast.itertuples():
        fitted = persist.load_model(folder, row.task, row.model, row.model_version)
        assert fitted.model_version == row.model_version and fitted.evaluation == "forecast"
    # only forecast models are saved: the same-window ones never score
    assert not list(folder.rglob("*same_window*"))


def test_training_sets_carry_no_future_information(demo):
    columns = {row[0] for row in demo.sql("describe {s}_ml.ml_cart_training_set")}
    assert not [c for c in columns if is_leaky(c) and c != "purchased"]
    # history counts, recomputed in pandas from stg_events: exactly the events
    # strictly before the cart (one in the same second, such as the purchase
    # the label looks at, is not history)
    events = demo.frame("select user_id, event_type, event_at from {s}_staging.stg_events")
    carts = demo.frame(
        "select user_id, cart_at, user_views_before, user_carts_before, user_purchases_before"
        " from {s}_ml.ml_cart_training_set"
    )
    assert len(carts) > 1000
    same_second = 0
    for event_type, column in [("view", "user_views_before"), ("cart", "user_carts_before"),
                               ("purchase", "user_purchases_before")]:
        times = events[events["event_type"] == event_type].groupby("user_id")["event_at"].apply(sorted)
        for row in carts.itertuples():
            earlier = times.get(row.user_id, [])
            strictly_before = sum(1 for t in earlier if t < row.cart_at)
            same_second += sum(1 for t in earlier if t == row.cart_at) - (event_type == "cart")
            assert getattr(row, column) == strictly_before, (row, column)
    assert same_second > 0  # the data has same-second events, so the check bites


def test_purchase_features_come_from_the_feature_window_and_the_label_from_the_label_window(demo):
    """Views, carts and the label of every forecast row, recounted in pandas
    from stg_events over the row's own windows: an event on or after
    feature_end_date in a feature is a future leak."""
    events = demo.frame("select user_id, event_type, event_date from {s}_staging.stg_events")
    rows = demo.frame(
        "select user_id, split, feature_start_date, feature_end_date, label_start_date, label_end_date,"
        " views, carts, purchased from {s}_ml.ml_purchase_training_set where split in ('train', 'test')"
    )
    assert len(rows) > 500 and set(rows["split"]) == {"train", "test"}
    for (start, end, label_start, label_end), group in rows.groupby(
            ["feature_start_date", "feature_end_date", "label_start_date", "label_end_date"]):
        assert end == label_start  # the label starts where the features end
        in_features = events[(events["event_date"] >= start) & (events["event_date"] < end)]
        counts = pd.crosstab(in_features["user_id"], in_features["event_type"])
        buyers = set(events.loc[(events["event_type"] == "purchase") & (events["event_date"] >= label_start)
                                & (events["event_date"] < label_end), "user_id"])
        for event_type, column in [("view", "views"), ("cart", "carts")]:
            expected = counts[event_type].reindex(group["user_id"]).fillna(0).astype(int).to_numpy()
            assert (group[column].to_numpy() == expected).all(), (start, end, column)
        assert (group["purchased"].to_numpy() == group["user_id"].isin(buyers).astype(int).to_numpy()).all()


def test_predictions_cover_every_scored_user_with_probabilities(demo):
    scored, expected, bad = demo.sql(
        "select (select count(distinct user_id) from {s}_ml.ml_purchase_predictions),"
        " (select count(*) from {s}_ml.ml_purchase_training_set where split = 'score'),"
        " (select count(*) from {s}_ml.ml_purchase_predictions where not purchase_probability between 0 and 1)"
    )[0]
    assert scored == expected > 0 and bad == 0
    open_carts, cart_scores = demo.sql(
        "select (select count(*) from {s}_ml.ml_cart_training_set where split = 'open'),"
        " (select count(*) from {s}_ml.ml_cart_predictions)"
    )[0]
    assert cart_scores == open_carts > 0


def test_rolling_origin_gives_at_least_three_folds_per_task_and_model(folds, metrics):
    counts = folds.groupby(["task", "model"])["fold"].apply(sorted).to_dict()
    assert set(counts) == {(task, model) for task, _ in TASK_EVALUATIONS for model in MODELS}
    assert all(len(f) >= 3 and f == list(range(1, len(f) + 1)) for f in counts.values()), counts
    for row in folds[folds.fold == 1].itertuples():  # fold 1 has the forecast's windows and procedure
        forecast = metrics[(row.task, "forecast", row.model)]
        assert (row.test_start, row.test_end, row.n_test) == (
            forecast["test_start"], forecast["test_end"], forecast["n_test"])
        assert math.isclose(row.auc_roc, forecast["auc_roc"], rel_tol=1e-12)
    later = folds.sort_values("fold").groupby(["task", "model"])["test_start"].apply(list)
    assert all(starts == sorted(starts, reverse=True) and len(set(starts)) == len(starts) for starts in later)
    for row in folds[folds.model == "xgboost"].itertuples():  # every origin still beats the baseline
        base = folds[(folds.task == row.task) & (folds.fold == row.fold) & (folds.model == "baseline")]
        assert row.auc_roc > base.auc_roc.iloc[0] + 0.1, (row.task, row.fold)


def test_rolling_origin_summary_matches_the_folds(demo, folds):
    summary = demo.frame("select * from {s}_ml.ml_rolling_origin_summary").set_index(["task", "model"])
    for (task, model), part in folds.groupby(["task", "model"]):
        row = summary.loc[(task, model)]
        assert row.folds == len(part)
        assert math.isclose(row.auc_roc_mean, part.auc_roc.mean(), rel_tol=1e-9)
        assert math.isclose(row.auc_roc_std, part.auc_roc.std(ddof=1), rel_tol=1e-9, abs_tol=1e-12)
        assert math.isclose(row.brier_mean, part.brier.mean(), rel_tol=1e-9)


@pytest.mark.parametrize("task", ["purchase_propensity", "cart_conversion"])
@pytest.mark.parametrize("model", ["logistic_regression", "xgboost"])
def test_calibration_does_not_worsen_the_brier_score_on_the_later_window(metrics, task, model):
    row = metrics[(task, "forecast", model)]
    parameters = json.loads(row["parameters"])
    # calibrated only where it lowered the held-out Brier score out of fold
    held_out = parameters["calibration_holdout_brier"]
    assert parameters["calibration"] == ("sigmoid" if held_out["calibrated"] < held_out["raw"] else "none")
    assert row["brier"] <= row["brier_uncalibrated"]
    if parameters["calibration"] == "none":
        assert row["brier"] == row["brier_uncalibrated"]


def test_reliability_tables_reconcile_with_the_test_rows(demo, metrics):
    tables = demo.frame("select * from {s}_ml.ml_calibration")
    assert set(tables.calibrated) == {True, False}
    for (task, model, evaluation, _), part in tables.groupby(["task", "model", "evaluation", "calibrated"]):
        row = metrics[(task, evaluation, model)]
        assert part["rows"].sum() == row["n_test"]
        buyers = (part["rows"] * part["observed_rate"]).sum()
        assert math.isclose(buyers, row["n_test"] * row["positive_rate_test"], rel_tol=1e-9)
        assert part.sort_values("bin").mean_predicted.is_monotonic_increasing


def test_roc_curves_enclose_the_reported_auc(demo, metrics):
    curves = demo.frame("select * from {s}_ml.ml_evaluation_curves where curve = 'roc'")
    assert not curves.empty
    for (task, model, evaluation), part in curves.groupby(["task", "model", "evaluation"]):
        part = part.sort_values("point")
        area = float(((part.x.diff()) * (part.y + part.y.shift()) / 2).sum())
        assert math.isclose(area, metrics[(task, evaluation, model)]["auc_roc"], abs_tol=0.01), (task, model)



def test_the_recommenders_rows_join_the_model_metrics(demo):
    joined = demo.frame("select model, status, auc_roc, ndcg_at_k, k from {s}_ml.ml_model_metrics "
                        "where task = 'product_recommendation'")
    assert set(joined.model) == {"als", "popularity", "recently_viewed"}
    assert set(joined.status) == {"trained"} and joined.auc_roc.isna().all() and set(joined.k) == {10}
    ndcg = joined.set_index("model")["ndcg_at_k"]
    assert ndcg["als"] > ndcg["popularity"] and ndcg["als"] > ndcg["recently_viewed"]


def test_every_metric_of_the_training_run_reads_back_from_the_long_table(demo, metrics):
    """ml_model_metrics is a pivot of ml_training_runs: each figure is one long row."""
    long = demo.frame("select task, model, evaluation, measure, value from {s}_ml.ml_training_runs"
                      " where record = 'metrics' and fold is null and value is not null")
    assert len(long) > 100
    for row in long.itertuples():
        key = (row.task, row.evaluation, row.model)
        if key in metrics and row.measure in metrics[key]:
            assert math.isclose(float(metrics[key][row.measure]), row.value, rel_tol=1e-12), (key, row.measure)
