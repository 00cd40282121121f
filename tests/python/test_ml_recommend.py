"""ml.recommend: ranking metrics against hand-computed values, the two dbt
models on the demo period (the ALS recommender beats both baselines on NDCG@10
on the held-out days), then the filtering rule and ALS on tiny Spark frames in
the session dbt started."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from conftest import DEMO_VARS
from ml import recommend
from ml.recommend import Filters, RecommendSettings, ranking_metrics

pyspark_sql = pytest.importorskip("pyspark.sql")


# --- metrics (no Spark) -------------------------------------------------------

def recs(rows: list[tuple[int, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "product_id", "rank"])


def pairs(rows: list[tuple[int, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["user_id", "product_id"])


def test_ranking_metrics_match_hand_computed_values():
    recommended = recs([
        (1, 1, 1), (1, 2, 2), (1, 3, 3), (1, 9, 4),  # rank 4 is beyond k = 3
        (2, 5, 1),
        (4, 8, 1),  # user 4 has nothing relevant: not evaluated
    ])
    relevant = pairs([(1, 2), (1, 9), (2, 5), (3, 7), (3, 7)])  # user 3 got no list; duplicates count once
    metrics = ranking_metrics(recommended, relevant, k=3)
    # user 1: one hit (product 2) at rank 2 of 2 relevant; user 2: hit at rank 1 of 1; user 3: nothing
    ndcg_user_1 = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert metrics.users == 3
    assert metrics.precision == pytest.approx((1 / 3 + 1 / 3 + 0) / 3)
    assert metrics.recall == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert metrics.ndcg == pytest.approx((ndcg_user_1 + 1 + 0) / 3)
    assert ndcg_user_1 == pytest.approx(0.386853, abs=1e-6)


def test_perfect_and_empty_lists():
    relevant = pairs([(1, 10), (1, 11)])
    perfect = ranking_metrics(recs([(1, 10, 1), (1, 11, 2)]), relevant, k=10)
    assert (perfect.precision, perfect.recall, perfect.ndcg) == (pytest.approx(0.2), 1.0, pytest.approx(1.0))
    nothing = ranking_metrics(recs([]), relevant, k=10)
    assert (nothing.precision, nothing.recall, nothing.ndcg, nothing.users) == (0.0, 0.0, 0.0, 1)
    no_users = ranking_metrics(recs([(1, 10, 1)]), pairs([]), k=10)
    assert no_users.users == 0 and math.isnan(no_users.ndcg)


def test_settings_reject_nonsense_and_follow_dbt_vars():
    from ml.dbt_bridge import recommend_settings

    with pytest.raises(ValueError):
        RecommendSettings(top_n=0)
    chosen = recommend_settings({"rec_top_n": "5", "ml_label_window_days": "3", "rec_active_days": "None",
                                 "rec_repeat_purchase_min_share": "0.25", "rec_repeat_purchase_min_buyers": None})
    assert (chosen.top_n, chosen.k, chosen.test_days, chosen.repeat_min_share) == (5, 5, 3, 0.25)
    assert chosen.active_days == RecommendSettings().active_days
    assert chosen.repeat_min_buyers == RecommendSettings().repeat_min_buyers
    assert recommend_settings({}) == RecommendSettings()
    with pytest.raises(ValueError, match="top_n"):
        recommend_settings({"rec_top_n": "0"})


def test_the_better_baseline_by_ndcg_serves_the_users_als_does_not_know():
    def current(rows: list[tuple[str, float]]) -> pd.DataFrame:
        return pd.DataFrame(rows, columns=["model", "ndcg_at_k"])

    assert recommend.best_baseline(current([("als", 0.9), ("popularity", 0.1), ("recently_viewed", 0.2)])) == (
        "recently_viewed"
    )
    assert recommend.best_baseline(current([("popularity", 0.3), ("recently_viewed", 0.2)])) == "popularity"
    assert recommend.best_baseline(current([("popularity", float("nan")), ("recently_viewed", 0.01)])) == (
        "recently_viewed"
    )
    assert recommend.best_baseline(current([("popularity", 0.2), ("recently_viewed", 0.2)])) == "popularity"  # tie
    assert recommend.best_baseline(current([("als", 0.5)])) == "popularity"  # no baseline figure


# --- dbt: the models on the demo period ---------------------------------------

@pytest.fixture(scope="module")
def metrics(demo) -> dict[str, dict]:
    rows = demo.frame("select * from {s}_ml.ml_recommendation_metrics").to_dict("records")
    return {row["model"]: row for row in rows}


@pytest.mark.dbt
def test_metrics_have_one_row_per_recommender(metrics):
    assert set(metrics) == {"als", "popularity", "recently_viewed"}
    for row in metrics.values():
        assert row["task"] == "product_recommendation" and row["evaluation"] == "forecast"
        assert row["k"] == 10 and row["n_train"] > 0 and row["n_test"] > 0
        assert row["train_end"] == row["test_start"] and (row["test_end"] - row["test_start"]).days == DEMO_VARS["ml_label_window_days"]
        assert row["model_version"].startswith(f"product_recommendation-{row['model']}-forecast-")
    print({name: {m: round(row[m], 4) for m in ("ndcg_at_k", "precision_at_k", "recall_at_k")}
           for name, row in metrics.items()})


@pytest.mark.dbt
def test_als_beats_both_baselines_on_ndcg_at_10(metrics):
    als = metrics["als"]["ndcg_at_k"]
    assert als > metrics["popularity"]["ndcg_at_k"]
    assert als > metrics["recently_viewed"]["ndcg_at_k"]


@pytest.mark.dbt
def test_recommendations_cover_recently_active_users_with_ranked_lists(demo):
    summary = demo.sql("""
        select count(distinct user_id) as users, max(rank) as max_rank, min(rank) as min_rank,
               max(per_user) as longest, count(*) as rows
        from (select *, count(*) over (partition by user_id) as per_user
              from {s}_ml.ml_product_recommendations)
    """)[0]
    assert summary.users > 0 and summary.min_rank == 1 and summary.max_rank == summary.longest == 10
    stray = demo.sql("""
        select count(*) from {s}_ml.ml_product_recommendations
        where user_id not in (
            select user_id from {s}_marts.fct_user_product_daily
            where event_date > date_sub((select max(event_date) from {s}_marts.fct_user_product_daily), 7))
    """)[0][0]
    assert stray == 0
    recommended_at = demo.sql("select max(recommended_at) from {s}_ml.ml_product_recommendations")[0][0]
    # the session is in UTC: the instant read back is the build's, whatever the machine's TZ
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert abs(now - recommended_at) < dt.timedelta(hours=3)


@pytest.mark.dbt
def test_the_evaluated_als_model_recommends_and_the_better_baseline_serves_the_rest(demo, metrics):
    rows = demo.frame("select user_id, model, model_version from {s}_ml.ml_product_recommendations")
    sources = rows.groupby("user_id")["model"].nunique()
    assert (sources == 1).all(), "every user's list comes from one recommender"
    baseline = max(["popularity", "recently_viewed"], key=lambda m: (metrics[m]["ndcg_at_k"], m == "popularity"))
    assert set(rows.model) == {"als", baseline}
    versions = rows.groupby("model")["model_version"].unique().to_dict()
    assert list(versions["als"]) == [metrics["als"]["model_version"]]  # the evaluated fit, not a second one
    # ALS lists go to the users it was trained on (active before the held-out days), the baseline's to the others
    train_end = metrics["als"]["train_end"]
    known = {row[0] for row in demo.sql(
        f"select distinct user_id from {{s}}_marts.fct_user_product_daily where event_date < date'{train_end}'"
        " and views + 3 * carts + 5 * purchases > 0")}
    by_source = rows.groupby("model")["user_id"].unique()
    assert set(by_source["als"]) <= known
    assert not set(by_source[baseline]) & known


# --- Spark: filters and ALS on tiny frames ------------------------------------

DAILY_SCHEMA = (
    "user_id bigint, product_id bigint, category_id bigint, views bigint, carts bigint, "
    "purchases bigint, last_view_at timestamp, event_date date"
)
DAY = dt.date(2019, 11, 1)


def day(offset: int) -> dt.date:
    return DAY + dt.timedelta(days=offset)


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    """The running session: dbt's, since the demo tests above run first (a
    session started here before a dbt build would leave its warehouse location
    to the build). Run alone (-k), a small local one, stopped afterwards."""
    from pyspark import SparkContext

    if SparkContext._active_spark_context is not None:
        yield pyspark_sql.SparkSession.builder.getOrCreate()
        return
    session = (
        pyspark_sql.SparkSession.builder.master("local[1]")
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark_warehouse")))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    yield session
    session.stop()


def daily_frame(spark, rows: list[dict]):
    defaults = {"category_id": 1, "views": 0, "carts": 0, "purchases": 0, "last_view_at": None}
    full = [defaults | row for row in rows]
    for row in full:
        if row["views"] and row["last_view_at"] is None:
            row["last_view_at"] = dt.datetime.combine(row["event_date"], dt.time(12))
    columns = [part.split()[0] for part in DAILY_SCHEMA.split(", ")]
    return spark.createDataFrame([tuple(row[c] for c in columns) for row in full], DAILY_SCHEMA)


@pytest.mark.spark
def test_filters_keep_active_products_and_skip_bought_ones_outside_repeat_categories(spark):
    rows = [
        # category 100 is a repeat category: both buyers bought product 10 again on another day
        {"user_id": 1, "product_id": 10, "category_id": 100, "purchases": 1, "event_date": day(0)},
        {"user_id": 1, "product_id": 10, "category_id": 100, "purchases": 1, "event_date": day(8)},
        {"user_id": 2, "product_id": 10, "category_id": 100, "purchases": 2, "event_date": day(1)},
        {"user_id": 2, "product_id": 10, "category_id": 100, "purchases": 1, "event_date": day(9)},
        # category 200 is not: each buyer bought once (two units the same day are one purchase day)
        {"user_id": 1, "product_id": 20, "category_id": 200, "purchases": 2, "event_date": day(2)},
        {"user_id": 2, "product_id": 21, "category_id": 200, "purchases": 1, "event_date": day(9)},
        # product 30: viewed long ago only, no longer active
        {"user_id": 3, "product_id": 30, "category_id": 200, "views": 4, "event_date": day(0)},
        # product 21 is bought by user 2 on the as-of day: not "already bought" as of it
        {"user_id": 2, "product_id": 21, "category_id": 200, "purchases": 1, "event_date": day(10)},
        {"user_id": 3, "product_id": 20, "category_id": 200, "views": 1, "event_date": day(9)},
    ]
    daily = daily_frame(spark, rows)
    settings = RecommendSettings(active_days=3, repeat_min_buyers=2, repeat_min_share=0.5)
    as_of = day(10)
    repeat = {r.category_id for r in recommend.repeat_purchase_categories(daily, as_of, settings).collect()}
    assert repeat == {100}
    filters = recommend.filters_as_of(daily, as_of, settings)
    assert {r.product_id for r in filters.candidates.collect()} == {10, 20, 21}  # events on days 7..9
    assert {(r.user_id, r.product_id) for r in filters.excluded.collect()} == {(1, 20), (2, 21)}
    # every recommender applies them: popularity over everything that was interacted with
    train = recommend.interactions(recommend.in_window(daily, None, as_of), settings)
    users = spark.createDataFrame([(1,), (2,), (3,)], "user_id bigint")
    popular = recommend.popularity_recommendations(train, users, filters, n=5).collect()
    got = {(r.user_id, r.product_id) for r in popular}
    assert got == {(1, 10), (1, 21), (2, 10), (2, 20), (3, 10), (3, 20), (3, 21)}
    viewed = recommend.recently_viewed_recommendations(train, users, filters, n=5).collect()
    assert {(r.user_id, r.product_id, r.rank) for r in viewed} == {(3, 20, 1)}  # product 30 is inactive


def two_groups(rng) -> tuple[list[dict], dict[int, set[int]]]:
    """Two groups of 20 users, each viewing and buying 8 of its group's 10
    products on day 0: rows, and each user's two products not seen."""
    rows, unseen = [], {}
    for user in range(40):
        group = [100 + i for i in range(10)] if user < 20 else [200 + i for i in range(10)]
        seen = rng.sample(group, 8)
        unseen[user] = set(group) - set(seen)
        for product in seen:
            rows.append({"user_id": user, "product_id": product, "views": rng.randint(1, 3),
                         "purchases": 1, "event_date": day(0)})
    return rows, unseen


@pytest.mark.spark
def test_als_recommends_the_unseen_products_of_the_users_group(spark):
    """Two groups of 20 users, each browsing 8 of its group's 10 products:
    with the products a user bought excluded, ALS fills the top 2 with the
    group's two products the user has not seen, never the other group's."""
    import random

    rng = random.Random(3)
    rows, unseen = two_groups(rng)
    daily = daily_frame(spark, rows)
    settings = RecommendSettings(rank=2, max_iter=10, reg_param=0.1, blocks=2)
    train = recommend.interactions(daily, settings)
    model = recommend.fit_als(train, settings)
    filters = Filters(candidates=daily.select("product_id").distinct(),
                      excluded=daily.select("user_id", "product_id").distinct())
    users = daily.select("user_id").distinct()
    ranked = recommend.als_recommendations(model.userFactors, model.itemFactors, users, filters, n=2,
                                           chunk_cells=30).toPandas()
    assert len(ranked) == 80 and set(ranked["rank"]) == {1, 2}
    got = ranked.groupby("user_id")["product_id"].apply(set).to_dict()
    assert got == unseen
    first = ranked.sort_values(["user_id", "rank"]).groupby("user_id")["score"].apply(list)
    assert all(scores[0] >= scores[1] for scores in first)


@pytest.mark.spark
def test_trained_als_factors_are_saved_and_recommend_for_the_users_they_know(spark, tmp_path):
    """ALS fitted once on the train days and evaluated on the held-out days;
    its saved factors then make the lists of the users it knows, and the
    better baseline those of a user it has never seen."""
    import random

    rng = random.Random(3)
    rows, unseen = two_groups(rng)
    # held-out days: every user carts one of the two products it has not seen
    carted = {user: min(products) for user, products in unseen.items()}
    rows += [{"user_id": u, "product_id": p, "carts": 1, "event_date": day(8)} for u, p in carted.items()]
    rows.append({"user_id": 99, "product_id": 105, "views": 1, "event_date": day(9)})  # a new user
    daily = daily_frame(spark, rows)
    settings = RecommendSettings(rank=2, max_iter=10, reg_param=0.1, blocks=2, top_n=2, k=2, test_days=3,
                                 active_days=10, repeat_min_buyers=1000)  # fmt: skip
    trained_at = pd.Timestamp("2019-11-12 04:00", tz="UTC")
    window = recommend.EvaluationDays(train_start=day(0), cutoff=day(7), end=day(10))
    metrics = recommend.train_and_evaluate(daily, window, settings, tmp_path, trained_at)
    assert list(metrics.columns) == list(recommend.METRICS_COLUMNS)
    by_model = metrics.set_index("model")
    assert list(by_model.index) == list(recommend.RECOMMENDERS)
    assert (metrics.n_train == 40 * 8).all() and (metrics.n_test == 40).all()  # user x product pairs; users
    assert (metrics.train_end == day(7)).all() and (metrics.test_end == day(10)).all()
    # ALS puts each user's two unseen products first: the carted one is always in the top 2
    assert by_model.loc["als", "recall_at_k"] == 1.0 and by_model.loc["als", "precision_at_k"] == 0.5
    # everything a user viewed it also bought: recently_viewed has nothing eligible to offer
    assert by_model.loc["recently_viewed", "recall_at_k"] == 0.0
    als_version = by_model.loc["als", "model_version"]
    assert als_version == recommend.model_version("als", trained_at)
    assert recommend.factors_saved(recommend.factors_path(tmp_path, als_version))

    ranked = recommend.recommend(daily, metrics, settings, tmp_path, recommended_at=trained_at).toPandas()
    assert list(ranked.columns) == [name for name, _ in recommend.RECOMMENDATION_COLUMNS]
    assert set(ranked.user_id) == set(range(40)) | {99}  # everybody active in the last 3 days
    known, new = ranked[ranked.user_id != 99], ranked[ranked.user_id == 99]
    assert (known.model == "als").all() and (known.model_version == als_version).all()
    assert known.groupby("user_id")["product_id"].apply(set).to_dict() == unseen
    baseline = recommend.best_baseline(metrics)
    assert set(new.model) == {baseline} and set(new.model_version) == {by_model.loc[baseline, "model_version"]}
    assert 1 <= len(new) <= 2
    # an ALS model that lost to a baseline recommends to nobody (its factors are not even read)
    lost = metrics.assign(ndcg_at_k=metrics.ndcg_at_k.where(metrics.model != "als", 0.0))
    assert not recommend.als_serves(lost) and recommend.als_serves(metrics)
    served = recommend.recommend(daily, lost, settings, tmp_path / "elsewhere", recommended_at=trained_at).toPandas()
    assert set(served.model) == {baseline} and set(served.user_id) == set(ranked.user_id)
    # without saved factors the named ALS model cannot recommend: an error, never a silent retrain
    with pytest.raises(FileNotFoundError, match="ml_retrain"):
        recommend.recommend(daily, metrics, settings, tmp_path / "elsewhere").collect()
