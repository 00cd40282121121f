"""Product recommendations from implicit feedback: ALS and two baselines.

Everything reads `fct_user_product_daily` (one row per user, product, category
id and day with views, carts, purchases and the day's last view), never the
events. Spark in, Spark out; only the item factors of the candidate products
and the evaluation's recommendation lists reach the driver.

Rules (the same for every recommender, so the comparison is fair):

* interaction strength of a user and a product over a window =
  log(1 + views x 1 + carts x 3 + purchases x 5) (EVENT_WEIGHTS); the log keeps
  a user who viewed one product 40 times from outweighing five carts;
* candidates = products still active: at least one event (any user) in the
  last `active_days` days before the as-of date;
* a product the user already bought before the as-of date is not recommended
  again, unless the product was bought under a repeat-purchase category: one
  where at least `repeat_min_buyers` users bought a product and at least
  `repeat_min_share` of those (user, product) pairs were bought on two or more
  different days (consumables bought again, not the same phone twice);
* ALS: Spark MLlib, implicitPrefs=True on the strengths (confidence
  1 + alpha x strength), fixed seed, cold-start users dropped.

Training (`train_and_evaluate`, when the training node finds the recommender
due): ALS is fitted once on the days before the cut-off (the last `test_days`
days are held out), its factors are saved, and it and both baselines are
evaluated as of the cut-off (filters computed from the train days only)
against what users carted or bought in the held-out days. Views alone are not
relevance: most views are browsing, and a product the user viewed in the
train days and views again is what the "recently viewed" baseline gets for
free; a cart or a purchase is a decision.

Recommending (`recommend`, every build): as of the day after the last day,
for every user active in the last `test_days` days, from the saved factors of
the model that was evaluated for the users it knows when it beat both
baselines (`als_serves`), from the better baseline of that evaluation for
everybody else.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from ml import outputs

log = logging.getLogger(__name__)

TASK = "product_recommendation"
EVALUATION = "forecast"
RECOMMENDERS: tuple[str, ...] = ("als", "popularity", "recently_viewed")

# Implicit feedback weights per event count of fct_user_product_daily (removals weigh nothing:
# the cart before them already counted).
EVENT_WEIGHTS: tuple[tuple[str, float], ...] = (("views", 1.0), ("carts", 3.0), ("purchases", 5.0))

# The columns of fct_user_product_daily the recommender reads.
DAILY_COLUMNS = ("user_id", "product_id", "category_id", "views", "carts", "purchases", "last_view_at", "event_date")

# Output schemas, declared once in ml.outputs: (column, Spark type) pairs.
RECOMMENDATION_COLUMNS: tuple[tuple[str, str], ...] = outputs.PRODUCT_RECOMMENDATIONS.fields
# What an evaluation reports per recommender (rows of ml_training_runs, read
# back as ml_recommendation_metrics).
METRICS_COLUMNS: tuple[str, ...] = (
    "task", "model", "evaluation", "k", "precision_at_k", "recall_at_k", "ndcg_at_k", "n_train", "n_test",
    "train_start", "train_end", "test_start", "test_end", "model_version", "trained_at",
)


def ddl(columns: Sequence[tuple[str, str]]) -> str:
    """'a string, n bigint' from (column, type) pairs."""
    return ", ".join(f"{name} {kind}" for name, kind in columns)


@dataclass(frozen=True)
class RecommendSettings:
    """Recommender settings (one place; the dbt models pass top_n, test_days,
    active_days from vars).

    rank / max_iter / reg_param / alpha / blocks: ALS. Chosen on the generated
    demo month (tests/python/test_ml_recommend.py), stable across seeds: rank
    32 beats 8 and 16 clearly, regParam 1.0 a little better than 0.1, alpha 10
    better than 3 or 40, 5 iterations as good as 10 in half the time. alpha scales the confidence of an observed
    interaction; blocks = user and item blocks (raise with the cores).
    max_eval_users: evaluated users beyond this are sampled (seeded hash) so the
    recommendation lists collected for the metrics stay small.
    """

    top_n: int = 10
    k: int = 10
    test_days: int = 7
    active_days: int = 7
    repeat_min_share: float = 0.1
    repeat_min_buyers: int = 20
    rank: int = 32
    max_iter: int = 5
    reg_param: float = 1.0
    alpha: float = 10.0
    blocks: int = 2
    seed: int = 42
    max_eval_users: int = 50_000
    weights: tuple[tuple[str, float], ...] = field(default=EVENT_WEIGHTS)

    def __post_init__(self) -> None:
        for name in ("top_n", "k", "test_days", "active_days", "rank", "max_iter", "blocks", "max_eval_users"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 < self.repeat_min_share <= 1.0:
            raise ValueError(f"repeat_min_share must be in (0, 1], got {self.repeat_min_share}")


# --- building blocks ----------------------------------------------------------

def in_window(daily: DataFrame, start: dt.date | None, end: dt.date | None) -> DataFrame:
    """Rows of days start <= event_date < end (a None bound is open)."""
    if start is not None:
        daily = daily.filter(F.col("event_date") >= F.lit(start))
    if end is not None:
        daily = daily.filter(F.col("event_date") < F.lit(end))
    return daily


def strength(weighted: Any) -> Any:
    """log(1 + weighted event count): the ALS rating and the popularity score."""
    return F.log1p(weighted)


def interactions(daily: DataFrame, settings: RecommendSettings) -> DataFrame:
    """user_id, product_id, views, carts, purchases, strength, last_view_at:
    one row per user and product over the days of `daily`."""
    weighted = sum((F.col(column) * F.lit(weight) for column, weight in settings.weights), F.lit(0.0))
    return (
        daily.groupBy("user_id", "product_id")
        .agg(
            F.sum("views").alias("views"),
            F.sum("carts").alias("carts"),
            F.sum("purchases").alias("purchases"),
            F.max("last_view_at").alias("last_view_at"),
            F.sum(weighted).alias("weighted"),
        )
        .filter(F.col("weighted") > 0)
        .withColumn("strength", strength(F.col("weighted")))
        .drop("weighted")
    )


def active_products(daily: DataFrame, as_of: dt.date, days: int) -> DataFrame:
    """product_id of products with any event in the `days` days before `as_of`."""
    recent = in_window(daily, as_of - dt.timedelta(days=days), as_of)
    return recent.select("product_id").distinct()


def repeat_purchase_categories(daily: DataFrame, as_of: dt.date, settings: RecommendSettings) -> DataFrame:
    """category_id of repeat-purchase categories before `as_of` (rule in the module doc)."""
    bought = in_window(daily, None, as_of).filter(F.col("purchases") > 0)
    pairs = bought.groupBy("category_id", "user_id", "product_id").agg(
        F.countDistinct("event_date").alias("purchase_days")
    )
    return (
        pairs.groupBy("category_id")
        .agg(F.count("*").alias("buyers"), F.count_if(F.col("purchase_days") >= 2).alias("repeat_buyers"))
        .filter(
            (F.col("buyers") >= settings.repeat_min_buyers)
            & (F.col("repeat_buyers") >= F.col("buyers") * F.lit(settings.repeat_min_share))
        )
        .select("category_id")
    )


def already_bought(daily: DataFrame, as_of: dt.date, repeat_categories: DataFrame) -> DataFrame:
    """user_id, product_id pairs never to recommend: bought before `as_of`
    under a category that is not a repeat-purchase category."""
    bought = in_window(daily, None, as_of).filter(F.col("purchases") > 0)
    return (
        bought.join(repeat_categories, "category_id", "left_anti")
        .select("user_id", "product_id")
        .distinct()
    )


@dataclass(frozen=True)
class Filters:
    """What every recommender may recommend: candidate products, and the
    (user, product) pairs excluded for each user."""

    candidates: DataFrame  # product_id
    excluded: DataFrame  # user_id, product_id


def filters_as_of(daily: DataFrame, as_of: dt.date, settings: RecommendSettings) -> Filters:
    """The filters computed from the days before `as_of` only."""
    repeat = repeat_purchase_categories(daily, as_of, settings)
    return Filters(active_products(daily, as_of, settings.active_days), already_bought(daily, as_of, repeat))


# --- recommenders -------------------------------------------------------------

@contextmanager
def active_session(session: Any) -> Iterator[None]:
    """`session` made the thread's active Spark Connect session for the block.

    pyspark.ml on Spark Connect sends every call (fit, factors) through the
    thread's active session, and dbt runs Python models in worker threads that
    have none (the `thrift` target). Classic sessions need nothing.
    """
    from ml.spark_io import is_connect

    if not is_connect(session):
        yield
        return
    local = type(session)._active_session
    previous = getattr(local, "session", None)
    local.session = session
    try:
        yield
    finally:
        local.session = previous


def fit_als(train: DataFrame, settings: RecommendSettings) -> Any:
    """Spark MLlib ALS (implicit feedback) on interactions' strengths."""
    from pyspark.ml.recommendation import ALS

    als = ALS(
        userCol="user_id",
        itemCol="product_id",
        ratingCol="strength",
        implicitPrefs=True,
        rank=settings.rank,
        maxIter=settings.max_iter,
        regParam=settings.reg_param,
        alpha=settings.alpha,
        seed=settings.seed,
        coldStartStrategy="drop",
        numUserBlocks=settings.blocks,
        numItemBlocks=settings.blocks,
    )
    # ids stay bigint: ALS checks that they fit in an int instead of wrapping them
    ratings = train.select("user_id", "product_id", F.col("strength").cast("float").alias("strength"))
    with active_session(train.sparkSession):
        return als.fit(ratings)


RANKED_SCHEMA = "user_id bigint, product_id bigint, rank bigint, score double"


def top_n_scores(
    batches: Iterator[pd.DataFrame], item_ids: np.ndarray, item_factors: np.ndarray, n: int, chunk_cells: int
) -> Iterator[pd.DataFrame]:
    """mapInPandas body: each user's n best candidate products by factor dot
    product, skipping the user's excluded products; runs in Spark's workers."""
    position = {int(item): index for index, item in enumerate(item_ids)}
    rows_per_chunk = max(1, chunk_cells // max(1, len(item_ids)))
    for batch in batches:
        for begin in range(0, len(batch), rows_per_chunk):
            chunk = batch.iloc[begin : begin + rows_per_chunk]
            users = np.stack([np.asarray(f, dtype=np.float32) for f in chunk["features"]])
            scores = users @ item_factors.T
            for row, excluded in enumerate(chunk["excluded"]):
                if excluded is not None and len(excluded):
                    cols = [position[int(p)] for p in excluded if int(p) in position]
                    scores[row, cols] = -np.inf
            take = min(n, scores.shape[1])
            best = np.argpartition(-scores, take - 1, axis=1)[:, :take]
            best_scores = np.take_along_axis(scores, best, axis=1)
            order = np.argsort(-best_scores, axis=1, kind="stable")
            best = np.take_along_axis(best, order, axis=1)
            best_scores = np.take_along_axis(best_scores, order, axis=1)
            keep = np.isfinite(best_scores)
            user_ids = np.repeat(chunk["user_id"].to_numpy(dtype=np.int64), take).reshape(-1, take)
            ranks = np.tile(np.arange(1, take + 1, dtype=np.int64), (len(chunk), 1))
            yield pd.DataFrame(
                {
                    "user_id": user_ids[keep],
                    "product_id": item_ids[best][keep].astype(np.int64),
                    "rank": ranks[keep],
                    "score": best_scores[keep].astype(np.float64),
                }
            )


def als_recommendations(
    user_factors: DataFrame, item_factors: DataFrame, users: DataFrame, filters: Filters, n: int,
    chunk_cells: int = 4_000_000,
) -> DataFrame:
    """user_id, product_id, rank, score: the n best eligible products of each
    user in `users` (user_id) by ALS factors (frames of id, features, as
    ALSModel.userFactors / itemFactors); users without factors get none."""
    from ml.spark_io import use_driver_python

    items = (
        item_factors.withColumnRenamed("id", "product_id")
        .join(filters.candidates, "product_id", "left_semi")
        .orderBy("product_id")
        .collect()
    )
    if not items:
        return users.sparkSession.createDataFrame([], RANKED_SCHEMA)
    item_ids = np.array([row["product_id"] for row in items], dtype=np.int64)
    item_vectors = np.array([row["features"] for row in items], dtype=np.float32)
    excluded = filters.excluded.groupBy("user_id").agg(F.collect_list("product_id").alias("excluded"))
    with_factors = (
        user_factors.select(F.col("id").cast("bigint").alias("user_id"), "features")
        .join(users, "user_id", "left_semi")
        .join(excluded, "user_id", "left")
    )
    use_driver_python(users.sparkSession)
    body = partial(top_n_scores, item_ids=item_ids, item_factors=item_vectors, n=n, chunk_cells=chunk_cells)
    return with_factors.mapInPandas(body, RANKED_SCHEMA)


def _first_n(candidates: DataFrame, order: list[Any], n: int) -> DataFrame:
    window = Window.partitionBy("user_id").orderBy(*order)
    ranked = candidates.withColumn("rank", F.row_number().over(window).cast("bigint"))
    return ranked.filter(F.col("rank") <= n).select("user_id", "product_id", "rank", F.col("score").cast("double"))


def popularity_recommendations(train: DataFrame, users: DataFrame, filters: Filters, n: int) -> DataFrame:
    """The most popular eligible products (sum of interaction strengths over
    the train days, ties by product id), the same list for everybody minus each
    user's excluded products."""
    popularity = (
        train.join(filters.candidates, "product_id", "left_semi")
        .groupBy("product_id")
        .agg(F.sum("strength").alias("score"))
    )
    # enough of the list that every user keeps n after removing their exclusions
    most_excluded = (
        filters.excluded.join(users, "user_id", "left_semi").groupBy("user_id").count().agg(F.max("count")).first()[0]
    )
    head = popularity.orderBy(F.desc("score"), "product_id").limit(n + int(most_excluded or 0))
    pairs = users.select("user_id").crossJoin(F.broadcast(head)).join(
        filters.excluded, ["user_id", "product_id"], "left_anti"
    )
    return _first_n(pairs, [F.desc("score"), "product_id"], n)


def recently_viewed_recommendations(train: DataFrame, users: DataFrame, filters: Filters, n: int) -> DataFrame:
    """Each user's most recently viewed eligible products, latest first (score
    = the last view as epoch seconds). A user who viewed fewer than n eligible
    products gets fewer."""
    viewed = (
        train.filter(F.col("last_view_at").isNotNull())
        .join(users, "user_id", "left_semi")
        .join(filters.candidates, "product_id", "left_semi")
        .join(filters.excluded, ["user_id", "product_id"], "left_anti")
        .withColumn("score", F.unix_timestamp("last_view_at").cast("double"))
    )
    return _first_n(viewed, [F.desc("score"), "product_id"], n)


# --- metrics ------------------------------------------------------------------

@dataclass(frozen=True)
class RankingMetrics:
    precision: float
    recall: float
    ndcg: float
    users: int


def ideal_dcg(relevant: int, k: int) -> float:
    return float(sum(1.0 / math.log2(position + 1) for position in range(1, min(relevant, k) + 1)))


def ranking_metrics(recommended: pd.DataFrame, relevant: pd.DataFrame, k: int) -> RankingMetrics:
    """Mean precision@k, recall@k and NDCG@k (binary gains) over the users of
    `relevant` (user_id, product_id); `recommended` holds user_id, product_id,
    rank (1 = first). A user without recommendations scores 0; NaN without users.

    precision@k = hits in the top k / k; recall@k = hits / relevant products;
    NDCG@k = sum over hits of 1 / log2(rank + 1), divided by the same sum for
    the min(relevant, k) first ranks.
    """
    truth = relevant[["user_id", "product_id"]].drop_duplicates()
    n_relevant = truth.groupby("user_id").size()
    if n_relevant.empty:
        return RankingMetrics(math.nan, math.nan, math.nan, 0)
    top = recommended.loc[recommended["rank"] <= k, ["user_id", "product_id", "rank"]]
    hits = top.merge(truth, on=["user_id", "product_id"], how="inner")
    hits = hits.assign(gain=1.0 / np.log2(hits["rank"].astype(float) + 1.0))
    per_user = hits.groupby("user_id").agg(hits=("product_id", "size"), dcg=("gain", "sum"))
    per_user = per_user.reindex(n_relevant.index, fill_value=0)
    idcg = n_relevant.map(lambda count: ideal_dcg(int(count), k))
    return RankingMetrics(
        precision=float((per_user["hits"] / k).mean()),
        recall=float((per_user["hits"] / n_relevant).mean()),
        ndcg=float((per_user["dcg"] / idcg).mean()),
        users=int(len(n_relevant)),
    )


# --- training, evaluation and the recommendations -------------------------------

def date_range(daily: DataFrame) -> tuple[dt.date, dt.date] | None:
    """(first day, day after the last day) of `daily`, None when empty."""
    first, last = daily.agg(F.min("event_date"), F.max("event_date")).first()
    if first is None:
        return None
    return first, last + dt.timedelta(days=1)


def model_version(model: str, trained_at: pd.Timestamp) -> str:
    return f"{TASK}-{model}-{EVALUATION}-{trained_at.strftime('%Y%m%dT%H%M%S%fZ')}"


def _relevant(test_days: DataFrame) -> DataFrame:
    """(user, product) pairs carted or bought in the held-out days."""
    decided = test_days.filter((F.col("carts") > 0) | (F.col("purchases") > 0))
    return decided.select("user_id", "product_id").distinct()


@dataclass(frozen=True)
class EvaluationDays:
    """The recommender's days: trained on [train_start, cutoff), evaluated on
    [cutoff, end) (the product_recommendation rows of ml_training_windows)."""

    train_start: dt.date
    cutoff: dt.date
    end: dt.date


def factors_path(directory: Any, version: str) -> str:
    """The folder of one ALS model's saved factors (user_factors/, item_factors/)."""
    from pathlib import Path

    return str(Path(directory) / TASK / "als" / version)


def _saved_marker(path: str) -> Any:
    from pathlib import Path

    return Path(path) / "saved.json"


def save_factors(model: Any, path: str, session: Any) -> None:
    """The ALS model's user and item factors as Parquet, then a marker file:
    a folder without the marker is a save that did not finish."""
    import json
    import shutil
    from pathlib import Path

    shutil.rmtree(path, ignore_errors=True)
    with active_session(session):
        users, items = model.userFactors, model.itemFactors
    users.write.parquet(f"{path}/user_factors")
    items.write.parquet(f"{path}/item_factors")
    Path(path).mkdir(parents=True, exist_ok=True)
    _saved_marker(path).write_text(json.dumps({"rank": model.rank}))


def factors_saved(path: str) -> bool:
    return _saved_marker(path).is_file()


def load_factors(session: Any, path: str) -> tuple[DataFrame, DataFrame]:
    """(user factors, item factors) saved by save_factors."""
    if not factors_saved(path):
        raise FileNotFoundError(
            f"no saved ALS factors at {path}; ml_training_runs names them, so the model folder was moved or "
            "emptied: run `dbt build --vars '{ml_retrain: true}'` to train again"
        )
    return session.read.parquet(f"{path}/user_factors"), session.read.parquet(f"{path}/item_factors")


def train_and_evaluate(
    daily: DataFrame,
    window: EvaluationDays,
    settings: RecommendSettings,
    directory: Any,
    trained_at: pd.Timestamp,
) -> pd.DataFrame:
    """One row per recommender (METRICS_COLUMNS): ALS fitted once on the
    train days, and the two baselines, evaluated on the held-out days. The
    ALS model's factors are saved (factors_path): it is the model that
    recommends until the next training run. Evaluated users: active in the
    train days and with at least one product carted or bought in the test
    days (at most max_eval_users, a seeded sample)."""
    base = {"task": TASK, "evaluation": EVALUATION, "k": settings.k, "trained_at": trained_at,
            "train_start": window.train_start, "train_end": window.cutoff, "test_start": window.cutoff,
            "test_end": window.end}
    daily = daily.select(*DAILY_COLUMNS).cache()
    train = interactions(in_window(daily, window.train_start, window.cutoff), settings).cache()
    relevant = _relevant(in_window(daily, window.cutoff, window.end)).join(
        train.select("user_id").distinct(), "user_id", "left_semi"
    )
    users = (
        relevant.select("user_id")
        .distinct()
        .orderBy(F.xxhash64("user_id", F.lit(settings.seed)), "user_id")
        .limit(settings.max_eval_users)
        .cache()
    )
    truth = relevant.join(users, "user_id", "left_semi").toPandas()
    filters = filters_as_of(daily, window.cutoff, settings)
    n_train = train.count()

    lists: dict[str, DataFrame] = {}
    if n_train:
        began = time.perf_counter()
        model = fit_als(train, settings)
        log.info("ALS trained on %d interactions in %.1f s", n_train, time.perf_counter() - began)
        save_factors(model, factors_path(directory, model_version("als", trained_at)), daily.sparkSession)
        with active_session(daily.sparkSession):
            user_factors, item_factors = model.userFactors, model.itemFactors
        lists["als"] = als_recommendations(user_factors, item_factors, users, filters, settings.k)
    lists["popularity"] = popularity_recommendations(train, users, filters, settings.k)
    lists["recently_viewed"] = recently_viewed_recommendations(train, users, filters, settings.k)

    rows = []
    for name in RECOMMENDERS:
        if name not in lists:
            continue
        metrics = ranking_metrics(lists[name].toPandas(), truth, settings.k)
        log.debug("%s: precision@%d %.4f, recall %.4f, NDCG %.4f over %d users", name, settings.k,
                 metrics.precision, metrics.recall, metrics.ndcg, metrics.users)
        rows.append(
            base
            | {
                "model": name,
                "precision_at_k": metrics.precision,
                "recall_at_k": metrics.recall,
                "ndcg_at_k": metrics.ndcg,
                "n_train": n_train,
                "n_test": metrics.users,
                "model_version": model_version(name, trained_at),
            }
        )
    for cached in (train, users, daily):
        cached.unpersist()
    log.info("NDCG@%d over %d users: %s", settings.k, rows[0]["n_test"] if rows else 0,
             ", ".join(f"{row['model']} {row['ndcg_at_k']:.4f}" for row in rows))
    return pd.DataFrame(rows, columns=list(METRICS_COLUMNS))


def best_baseline(current: pd.DataFrame) -> str:
    """The baseline with the higher NDCG@k in the latest evaluation
    (`current`: the recommenders' rows of ml_recommendation_metrics);
    popularity when neither has a figure."""
    baselines = current.loc[current["model"].isin(["popularity", "recently_viewed"])].dropna(subset=["ndcg_at_k"])
    if baselines.empty:
        return "popularity"
    return str(baselines.sort_values(["ndcg_at_k", "model"], ascending=[False, True])["model"].iloc[0])


def als_serves(current: pd.DataFrame) -> bool:
    """Whether the latest trained ALS model makes the lists of the users it
    knows: only when its NDCG@k beats the better baseline's in the same
    evaluation (or no baseline has a figure). A model that loses to
    "what you viewed last" is not shown to anybody; scoring every active
    user against every product is also the daily refresh's largest cost."""
    als = current.loc[current["model"] == "als"].dropna(subset=["ndcg_at_k"])
    if als.empty or not als["model_version"].notna().all():
        return False
    baseline = current.loc[current["model"] == best_baseline(current), "ndcg_at_k"].dropna()
    return baseline.empty or float(als["ndcg_at_k"].iloc[0]) > float(baseline.iloc[0])


def recommend(
    daily: DataFrame,
    current: pd.DataFrame,
    settings: RecommendSettings,
    directory: Any,
    recommended_at: pd.Timestamp | None = None,
) -> DataFrame:
    """RECOMMENDATION_COLUMNS: the top_n eligible products (filters as of the
    day after the last day) for every user active in the last test_days days.
    Users the latest trained ALS model knows (they have factors) get its
    list, from the saved factors, when it beat the baselines (als_serves);
    everybody else gets the better baseline of the latest evaluation.
    `model` says which recommender made each row.
    `current`: the recommenders' rows of ml_recommendation_metrics."""
    session = daily.sparkSession
    recommended_at = pd.Timestamp.now(tz="UTC") if recommended_at is None else recommended_at
    empty = session.createDataFrame([], ddl(RECOMMENDATION_COLUMNS))
    bounds = date_range(daily)
    if bounds is None or current.empty:
        return empty
    _, end = bounds
    daily = daily.select(*DAILY_COLUMNS)
    users = in_window(daily, end - dt.timedelta(days=settings.test_days), end).select("user_id").distinct().cache()
    filters = filters_as_of(daily, end, settings)
    versions = dict(zip(current["model"], current["model_version"], strict=True))
    parts = []
    remaining = users
    if als_serves(current):
        user_factors, item_factors = load_factors(session, factors_path(directory, versions["als"]))
        als = als_recommendations(user_factors, item_factors, users, filters, settings.top_n)
        parts.append(als.withColumn("model", F.lit("als")).withColumn("model_version", F.lit(versions["als"])))
        known = user_factors.select(F.col("id").cast("bigint").alias("user_id"))
        remaining = users.join(known, "user_id", "left_anti")
    baseline = best_baseline(current)
    if baseline == "popularity":  # one list for everybody, from every user's interactions
        fallback = popularity_recommendations(
            interactions(in_window(daily, None, end), settings), remaining, filters, settings.top_n)
    else:  # each user's own history: only the users it serves are read
        history = interactions(in_window(daily, None, end).join(remaining, "user_id", "left_semi"), settings)
        fallback = recently_viewed_recommendations(history, remaining, filters, settings.top_n)
    parts.append(fallback.withColumn("model", F.lit(baseline))
                 .withColumn("model_version", F.lit(versions.get(baseline) or model_version(baseline, recommended_at))))
    ranked = parts[0]
    for part in parts[1:]:
        ranked = ranked.unionByName(part)
    columns = [F.col(name).cast(kind).alias(name) for name, kind in RECOMMENDATION_COLUMNS]
    return ranked.withColumn("recommended_at", F.lit(recommended_at.to_pydatetime())).select(*columns)
