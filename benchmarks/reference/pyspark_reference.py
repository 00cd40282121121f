"""Reference job in plain PySpark: the project's staging, daily funnel, RFM and
user z-scores, hand-written with the DataFrame API (no dbt, no Hive).

    python benchmarks/reference/pyspark_reference.py --raw DIR --out DIR [--threads 2]
        [--seeds DIR] [--analysis-date YYYY-MM-DD]

Timed with time.perf_counter, each step ending in a Parquet write under --out (so
lazy evaluation hides no work):

- staging: read every *.csv / *.csv.gz line, validate and type it, write the
  invalid lines to quarantine/ and the de-duplicated events to staging/
  (partitioned by event_date);
- daily_funnel, rfm, user_zscores: each reads staging/ back, assigns sessions
  (cheap: only events without a session id need a window) and writes its table;
  rfm scores F by the thresholds of the project's seeds/rfm_frequency_scores.csv
  and names segments from seeds/rfm_segment_map.csv (read at run time);
- total: the four steps back to back.

Not timed: starting the Spark session, and reading the outputs back for the
"figures". The last line of stdout is one JSON object; see README.md beside this
file for the definitions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import time
from pathlib import Path

import pyspark
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

HEADER_PREFIX = "event_time,event_type,"
EVENT_TYPES = ["view", "cart", "purchase", "remove_from_cart"]
TIME_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} UTC$"
TIME_FORMAT = "yyyy-MM-dd HH:mm:ss 'UTC'"
INTEGER_TEXT = r"^[0-9]+$"
DECIMAL_TEXT = r"^-?[0-9]+(\.[0-9]+)?$"
SESSION_GAP_SECONDS = 30 * 60
EVENT_COLUMNS = ["event_at", "event_type", "product_id", "category_id", "category_code",
                 "brand", "price", "user_id", "user_session"]
FEATURES = ["views", "carts", "remove_from_carts", "purchases", "sessions", "active_days",
            "product_days", "avg_view_price", "revenue"]
OUTPUTS = ["staging", "quarantine", "daily_funnel", "rfm", "user_zscores", "_spark"]
# the project's seeds: F thresholds and the (R, F) segment grid, read at run time
DEFAULT_SEEDS = Path(__file__).resolve().parents[2] / "seeds"
FREQUENCY_SEED = "rfm_frequency_scores.csv"
SEGMENT_SEED = "rfm_segment_map.csv"


def raw_files(raw_dir: str | Path) -> list[str]:
    """Every *.csv and *.csv.gz file of the folder, sorted."""
    folder = Path(raw_dir)
    files = sorted({*folder.glob("*.csv"), *folder.glob("*.csv.gz")})
    if not files:
        raise SystemExit(f"no *.csv or *.csv.gz files in {folder}")
    return [str(path.resolve()) for path in files]


def start_spark(out: Path, threads: int, driver_memory: str, shuffle_partitions: int) -> SparkSession:
    scratch = out / "_spark"
    spark = (
        SparkSession.builder.master(f"local[{threads}]")
        .appName("rees46-pyspark-reference")
        .config("spark.sql.catalogImplementation", "in-memory")  # no Hive
        .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
        .config("spark.local.dir", str(scratch / "local"))
        .config("spark.driver.memory", driver_memory)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.sql.adaptive.enabled", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


# --------------------------------------------------------------------------- staging

def classify_lines(spark: SparkSession, files: list[str]) -> DataFrame:
    """Every data line (header lines dropped) with its typed fields and `is_valid`."""
    lines = spark.read.text(files).withColumnRenamed("value", "line")
    lines = lines.where(~F.lower(F.trim("line")).startswith(HEADER_PREFIX))

    parts = F.split("line", ",", -1)

    def field(i: int):  # trimmed text of field i (0-based), null when missing
        return F.trim(F.try_element_at(parts, F.lit(i + 1)))

    text = lines.select(
        "line",
        F.size(parts).alias("field_count"),
        field(0).alias("event_time_text"),
        F.lower(field(1)).alias("event_type"),
        field(2).alias("product_id_text"),
        field(3).alias("category_id_text"),
        F.nullif(field(4), F.lit("")).alias("category_code"),
        F.nullif(field(5), F.lit("")).alias("brand"),
        field(6).alias("price_text"),
        field(7).alias("user_id_text"),
        F.nullif(field(8), F.lit("")).alias("user_session"),
    )
    typed = text.select(
        "*",
        F.when(F.col("event_time_text").rlike(TIME_TEXT),
               F.try_to_timestamp("event_time_text", F.lit(TIME_FORMAT))).alias("event_at"),
        F.col("product_id_text").try_cast("bigint").alias("product_id"),
        F.col("category_id_text").try_cast("bigint").alias("category_id"),
        F.col("price_text").try_cast("decimal(12,2)").alias("price"),
        F.col("user_id_text").try_cast("bigint").alias("user_id"),
    )
    checks = (
        (F.trim("line") != "")
        & (F.col("field_count") == 9)
        & F.col("event_at").isNotNull()
        & F.col("event_type").isin(EVENT_TYPES)
        & F.col("product_id_text").rlike(INTEGER_TEXT) & F.col("product_id").isNotNull()
        & F.col("category_id_text").rlike(INTEGER_TEXT) & F.col("category_id").isNotNull()
        & F.col("price_text").rlike(DECIMAL_TEXT) & F.col("price").isNotNull()
        & (F.col("price") >= 0)
        & F.col("user_id_text").rlike(INTEGER_TEXT) & F.col("user_id").isNotNull()
    )
    return typed.withColumn("is_valid", F.coalesce(checks, F.lit(False)))


def stage(spark: SparkSession, files: list[str], out: Path) -> None:
    # the raw text is parsed once: the typed lines go to Parquet, both outputs read them
    parsed = out / "_spark" / "lines"
    # (the raw text is kept for invalid lines only, as the project does)
    classified = classify_lines(spark, files)
    classified.withColumn("line", F.when(~F.col("is_valid"), F.col("line"))).select(
        "line", "is_valid", *EVENT_COLUMNS).write.mode("overwrite").parquet(str(parsed))
    lines = spark.read.parquet(str(parsed))
    lines.where(~F.col("is_valid")).select("line").write.mode("overwrite").parquet(str(out / "quarantine"))
    staged = (
        lines.where(F.col("is_valid"))
        .groupBy(*EVENT_COLUMNS)  # exact duplicates (all nine normalised fields) collapse
        .agg(F.count(F.lit(1)).alias("source_row_count"))
        .withColumn("event_date", F.to_date("event_at"))
    )
    staged.write.mode("overwrite").partitionBy("event_date").parquet(str(out / "staging"))


def read_staged(spark: SparkSession, out: Path) -> DataFrame:
    staged = spark.read.parquet(str(out / "staging"))
    return staged.withColumn("event_date", F.col("event_date").cast("date"))


def with_sessions(staged: DataFrame) -> DataFrame:
    """Adds `session_key`. Sessions are date-local: (user_id, event_date, user_session);
    events without a session id are split per user and day at gaps > 30 minutes."""
    user_id, event_date = F.col("user_id").cast("string"), F.col("event_date").cast("string")
    with_id = staged.where(F.col("user_session").isNotNull()).withColumn(
        "session_key", F.concat_ws("|", user_id, event_date, F.lit("id"), "user_session"))

    user_day = Window.partitionBy("user_id", "event_date").orderBy("event_at")
    previous_at = F.lag("event_at").over(user_day)
    starts = F.when(previous_at.isNull(), 1).when(
        F.unix_timestamp("event_at") - F.unix_timestamp(previous_at) > SESSION_GAP_SECONDS, 1
    ).otherwise(0)
    without_id = (
        staged.where(F.col("user_session").isNull())
        .withColumn("starts_session", starts)
        .withColumn("session_number", F.sum("starts_session").over(
            user_day.rowsBetween(Window.unboundedPreceding, Window.currentRow)))
        .withColumn("session_key", F.concat_ws(
            "|", user_id, event_date, F.lit("gap"), F.col("session_number").cast("string")))
        .drop("starts_session", "session_number")
    )
    return with_id.unionByName(without_id)


def is_type(event_type: str):
    return F.col("event_type") == event_type


# ------------------------------------------------------------------ daily funnel

def daily_funnel(spark: SparkSession, out: Path) -> None:
    events = with_sessions(read_staged(spark, out))

    def rate(numerator: str, denominator: str):
        return F.when(F.col(denominator) > 0, F.col(numerator) / F.col(denominator))

    funnel = (
        events.groupBy("event_date").agg(
            F.count(F.when(is_type("view"), 1)).alias("views"),
            F.count(F.when(is_type("cart"), 1)).alias("carts"),
            F.count(F.when(is_type("purchase"), 1)).alias("purchases"),
            F.count(F.when(is_type("remove_from_cart"), 1)).alias("remove_from_carts"),
            F.count_distinct("user_id").alias("unique_users"),
            F.count_distinct("session_key").alias("sessions"),
            F.coalesce(F.sum(F.when(is_type("purchase"), F.col("price"))),
                       F.lit(0).cast("decimal(22,2)")).alias("revenue"),
        )
        .withColumn("view_to_cart_rate", rate("carts", "views"))
        .withColumn("cart_to_purchase_rate", rate("purchases", "carts"))
        .withColumn("view_to_purchase_rate", rate("purchases", "views"))
    )
    funnel.coalesce(1).write.mode("overwrite").parquet(str(out / "daily_funnel"))


# ------------------------------------------------------------------------- RFM

def checked_seeds(seeds_dir: str | Path | None) -> Path:
    """The seeds folder (default: the project's), which must hold both RFM seed files."""
    seeds = Path(seeds_dir or DEFAULT_SEEDS).resolve()
    for name in (FREQUENCY_SEED, SEGMENT_SEED):
        if not (seeds / name).is_file():
            raise SystemExit(f"seed file not found: {seeds / name}")
    return seeds


def read_seed(spark: SparkSession, path: Path, columns: dict[str, str]) -> DataFrame:
    """A seed CSV as dbt loads it: header row, columns by name, cast to the seed's types
    (an empty cell is null)."""
    seed = spark.read.option("header", True).csv(str(path))
    return seed.select(*[F.col(name).cast(kind).alias(name) for name, kind in columns.items()])


def rfm(spark: SparkSession, out: Path, seeds: Path, analysis_date: str | None = None) -> None:
    staged = read_staged(spark, out)
    events = with_sessions(staged)
    if analysis_date:  # the project's var rfm_analysis_date
        analysis = spark.range(1).select(F.to_date(F.lit(analysis_date)).alias("analysis_date"))
    else:  # else the day after the last event date
        analysis = staged.agg(F.date_add(F.max("event_date"), 1).alias("analysis_date"))

    purchasers = (
        events.where(is_type("purchase")).groupBy("user_id").agg(
            F.max("event_at").alias("last_purchase_at"),
            F.count_distinct("session_key").alias("frequency"),
            F.sum("price").alias("monetary"),
        )
        .crossJoin(analysis)
        .withColumn("recency_days", F.datediff("analysis_date", F.to_date("last_purchase_at")))
    )
    everyone = Window.partitionBy()  # R and M rank all purchasers together
    ranked = (
        purchasers
        .withColumn("rfm_users", F.count(F.lit(1)).over(everyone))
        .withColumn("recency_rank", F.rank().over(everyone.orderBy(F.col("recency_days").desc())))
        .withColumn("monetary_rank", F.rank().over(everyone.orderBy("monetary")))
    )

    def score(rank_column: str):  # 1 + floor(5 * (rank - 1) / n), in integers
        return F.expr(f"1 + (5 * ({rank_column} - 1)) div rfm_users").cast("int")

    # F is not a quintile: the thresholds of rfm_frequency_scores.csv, each score
    # running from its min_frequency up to the next score's minimum
    thresholds = read_seed(spark, seeds / FREQUENCY_SEED, {"f_score": "int", "min_frequency": "int"})
    bands = thresholds.withColumn("max_frequency", F.lead("min_frequency").over(
        Window.partitionBy().orderBy("min_frequency")))
    segments = read_seed(spark, seeds / SEGMENT_SEED,
                         {"r_score": "int", "f_score": "int", "rfm_segment": "string"})
    in_band = (F.col("frequency") >= F.col("min_frequency")) & (
        F.col("max_frequency").isNull() | (F.col("frequency") < F.col("max_frequency")))
    scored = (
        ranked
        .withColumn("r_score", score("recency_rank"))
        .withColumn("m_score", score("monetary_rank"))
        .join(F.broadcast(bands.select("f_score", "min_frequency", "max_frequency")), in_band, "left")
        .join(F.broadcast(segments), ["r_score", "f_score"], "left")
        .withColumn("rfm_score", F.concat(F.col("r_score").cast("string"), F.col("f_score").cast("string"),
                                          F.col("m_score").cast("string")))
        .withColumn("rfm_total_score", F.col("r_score") + F.col("f_score") + F.col("m_score"))
        .select("user_id", "last_purchase_at", "analysis_date", "recency_days", "frequency",
                "monetary", "r_score", "f_score", "m_score", "rfm_score", "rfm_total_score", "rfm_segment")
    )
    scored.write.mode("overwrite").parquet(str(out / "rfm"))


# ----------------------------------------------------------------- user z-scores

def user_zscores(spark: SparkSession, out: Path) -> None:
    events = with_sessions(read_staged(spark, out))

    # one row per user and day first: sessions and product_days are per-day counts
    user_days = events.groupBy("user_id", "event_date").agg(
        F.count(F.when(is_type("view"), 1)).alias("views"),
        F.count(F.when(is_type("cart"), 1)).alias("carts"),
        F.count(F.when(is_type("remove_from_cart"), 1)).alias("remove_from_carts"),
        F.count(F.when(is_type("purchase"), 1)).alias("purchases"),
        F.count_distinct("session_key").alias("sessions"),
        F.count_distinct(F.when(~is_type("purchase"), F.col("product_id"))).alias("products"),
        F.sum(F.when(is_type("view"), F.col("price"))).alias("view_price_sum"),
        F.sum(F.when(is_type("purchase"), F.col("price"))).alias("revenue"),
    )
    users = user_days.groupBy("user_id").agg(
        F.sum("views").alias("views"),
        F.sum("carts").alias("carts"),
        F.sum("remove_from_carts").alias("remove_from_carts"),
        F.sum("purchases").alias("purchases"),
        F.sum("sessions").alias("sessions"),
        F.count(F.lit(1)).alias("active_days"),
        F.sum("products").alias("product_days"),
        F.sum("view_price_sum").alias("view_price_sum"),
        F.coalesce(F.sum("revenue"), F.lit(0).cast("decimal(22,2)")).alias("revenue"),
    )
    users = users.withColumn(
        "avg_view_price",
        F.when(F.col("views") > 0, F.col("view_price_sum").cast("double") / F.col("views")).otherwise(0.0),
    ).drop("view_price_sum")

    logged = users.select("*", *[F.log(1 + F.col(f).cast("double")).alias(f"{f}_log") for f in FEATURES])
    stats = logged.agg(*[agg(f"{f}_log").alias(f"{f}_{name}")
                         for f in FEATURES for name, agg in (("mean", F.mean), ("sd", F.stddev_samp))])
    scored = logged.crossJoin(stats).select(
        "user_id", *FEATURES,
        *[F.when(F.col(f"{f}_sd") > 0, (F.col(f"{f}_log") - F.col(f"{f}_mean")) / F.col(f"{f}_sd"))
          .otherwise(0.0).alias(f"z_{f}") for f in FEATURES],
    )
    scored.write.mode("overwrite").parquet(str(out / "user_zscores"))


# --------------------------------------------------------------------- figures

def money(value) -> str:
    return f"{value or 0:.2f}"


def counts(frame: DataFrame, column: str) -> dict[str, int]:
    """Rows per value of `column`, keyed by the value as text ("null" for null), sorted."""
    rows = frame.groupBy(column).count().collect()
    return dict(sorted(("null" if row[column] is None else str(row[column]), int(row["count"])) for row in rows))


def figures(spark: SparkSession, out: Path) -> dict:
    """Check figures, read back from the written outputs (not timed)."""
    staged = spark.read.parquet(str(out / "staging"))
    funnel = spark.read.parquet(str(out / "daily_funnel"))
    scores = spark.read.parquet(str(out / "rfm"))
    zscores = spark.read.parquet(str(out / "user_zscores"))

    s = staged.agg(F.count(F.lit(1)).alias("n"), F.sum("source_row_count").alias("rows")).first()
    f = funnel.agg(*[F.sum(c).alias(c) for c in
                     ("views", "carts", "purchases", "remove_from_carts", "revenue", "sessions")],
                   F.count(F.lit(1)).alias("days")).first()
    r = scores.agg(F.count(F.lit(1)).alias("n"), F.sum("frequency").alias("frequency"),
                   F.sum("monetary").alias("monetary"), F.sum("recency_days").alias("recency"),
                   *[F.sum(f"{k}_score").alias(f"{k}_score") for k in "rfm"]).first()
    z = zscores.agg(F.count(F.lit(1)).alias("n"),
                    *[F.sum(f"z_{c}").alias(f"sum_{c}") for c in FEATURES],
                    *[F.sum(F.abs(f"z_{c}")).alias(f"abs_{c}") for c in FEATURES]).first()
    return {
        "staged_events": int(s["n"]),
        "source_rows": int(s["rows"] or 0),
        "quarantined_lines": spark.read.parquet(str(out / "quarantine")).count(),
        "views": int(f["views"] or 0),
        "carts": int(f["carts"] or 0),
        "purchases": int(f["purchases"] or 0),
        "remove_from_carts": int(f["remove_from_carts"] or 0),
        "revenue": money(f["revenue"]),
        "days": int(f["days"]),
        "sessions": int(f["sessions"] or 0),
        "rfm_users": int(r["n"]),
        "rfm_frequency_sum": int(r["frequency"] or 0),
        "rfm_monetary_sum": money(r["monetary"]),
        "rfm_recency_sum": int(r["recency"] or 0),
        "rfm_score_counts": counts(scores, "rfm_score"),
        "rfm_r_score_counts": counts(scores, "r_score"),
        "rfm_f_score_counts": counts(scores, "f_score"),
        "rfm_m_score_counts": counts(scores, "m_score"),
        "rfm_segment_counts": counts(scores, "rfm_segment"),
        "rfm_r_score_sum": int(r["r_score"] or 0),
        "rfm_f_score_sum": int(r["f_score"] or 0),
        "rfm_m_score_sum": int(r["m_score"] or 0),
        "zscore_users": int(z["n"]),
        # sum of z over all users is 0 by construction (a sanity check only);
        # the sums of |z| are the discriminating figures
        "zscore_sums": {c: round(z[f"sum_{c}"] or 0.0, 6) + 0.0 for c in FEATURES},
        "zscore_abs_sums": {c: round(z[f"abs_{c}"] or 0.0, 6) + 0.0 for c in FEATURES},
    }


# ------------------------------------------------------------------------ main

def run(raw_dir: str | Path, out_dir: str | Path, threads: int = 2, *,
        driver_memory: str | None = None, shuffle_partitions: int | None = None,
        seeds_dir: str | Path | None = None, analysis_date: str | None = None) -> dict:
    """Run the four steps and return the result dict (also printed by the CLI)."""
    files = raw_files(raw_dir)
    seeds = checked_seeds(seeds_dir)
    if analysis_date is not None:
        analysis_date = dt.date.fromisoformat(analysis_date).isoformat()  # YYYY-MM-DD or ValueError
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:
        shutil.rmtree(out / name, ignore_errors=True)
    spark = start_spark(
        out, threads,
        driver_memory or os.environ.get("SPARK_DRIVER_MEMORY", "12g"),
        shuffle_partitions or int(os.environ.get("SPARK_SHUFFLE_PARTITIONS", "16")),
    )
    try:
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        for name, step in (("staging", lambda: stage(spark, files, out)),
                           ("daily_funnel", lambda: daily_funnel(spark, out)),
                           ("rfm", lambda: rfm(spark, out, seeds, analysis_date)),
                           ("user_zscores", lambda: user_zscores(spark, out))):
            step_started = time.perf_counter()
            step()
            seconds[name] = round(time.perf_counter() - step_started, 3)
        seconds["total"] = round(time.perf_counter() - started, 3)
        return {"engine": "pyspark", "engine_version": pyspark.__version__, "threads": threads,
                "seconds": seconds, "figures": figures(spark, out)}
    finally:
        spark.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw", required=True, help="folder of raw *.csv / *.csv.gz files")
    parser.add_argument("--out", required=True, help="folder for the Parquet outputs (replaced)")
    parser.add_argument("--threads", type=int, default=2, help="Spark cores: local[N] (default 2)")
    parser.add_argument("--driver-memory", default=None,
                        help="JVM heap (default: env SPARK_DRIVER_MEMORY, else 12g)")
    parser.add_argument("--shuffle-partitions", type=int, default=None,
                        help="spark.sql.shuffle.partitions (default: env SPARK_SHUFFLE_PARTITIONS, else 16)")
    parser.add_argument("--seeds", default=str(DEFAULT_SEEDS),
                        help=f"folder with {FREQUENCY_SEED} and {SEGMENT_SEED} (default: the project's seeds/)")
    parser.add_argument("--analysis-date", default=None,
                        help="RFM analysis date YYYY-MM-DD, as the var rfm_analysis_date "
                             "(default: the day after the last event date)")
    args = parser.parse_args(argv)
    result = run(args.raw, args.out, args.threads, driver_memory=args.driver_memory,
                 shuffle_partitions=args.shuffle_partitions, seeds_dir=args.seeds,
                 analysis_date=args.analysis_date)
    sys.stdout.flush()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
