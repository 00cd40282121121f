"""Spark <-> pandas for the dbt Python models, with bounded driver memory.

Three rules keep the driver's memory independent of the table sizes:

* training: only the columns and splits a task trains on, and at most the
  sample planned by ml.sampling, are converted to pandas;
* scoring: rows to score never reach the driver; each Spark task scores its
  Arrow batches (mapInPandas) with the pickled model;
* results: pandas frames become Spark frames through Arrow, with every column
  coerced to its declared type first (NaN/NaT -> null, timestamps as UTC
  instants, dates as dates), never through a Python loop over rows.

Written against the DataFrame API that classic sessions and Spark Connect
share: the local target runs a classic session, the `thrift` target's Python
models a Spark Connect session (tests/python/test_spark_server.py builds both).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import Any

import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from ml.sampling import SamplePlan
from ml.splits import training_columns
from ml.tasks import LABEL, TaskSpec

# Arrow for pandas <-> Spark, with no silent fallback: the fallback converts
# row by row in Python and writes NaN as NaN instead of null.
ARROW_CONF = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
}
_U, _RANK = "__sample_u", "__sample_rank"


def is_connect(session: SparkSession) -> bool:
    """True for a Spark Connect session (the `thrift` target's Python models)."""
    return type(session).__module__.startswith("pyspark.sql.connect")


@contextmanager
def arrow(session: SparkSession) -> Iterator[None]:
    """Arrow conversion forced on for the block, previous settings restored after.
    Spark Connect always converts through Arrow and has no such settings."""
    if is_connect(session):
        yield
        return
    previous = {key: session.conf.get(key, None) for key in ARROW_CONF}
    for key, value in ARROW_CONF.items():
        session.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                session.conf.unset(key)
            else:
                session.conf.set(key, value)


# --- training: a bounded sample to pandas ------------------------------------

def label_counts(table: DataFrame) -> dict[str, dict[Any, int]]:
    """split -> {label value: rows} of a training table, computed in Spark."""
    counts: dict[str, dict[Any, int]] = {}
    for row in table.groupBy("split", LABEL).count().collect():
        counts.setdefault(row["split"], {})[row[LABEL]] = row["count"]
    return counts


def training_rows(table: DataFrame, spec: TaskSpec, plan: SamplePlan) -> DataFrame:
    """The columns build_evaluation reads (those present) of the planned splits."""
    present = set(table.columns)
    columns = [c for c in training_columns(spec) if c in present]
    return table.select(*columns).filter(F.col("split").isin(list(plan.keep)))


def _group(split: str, label: Any) -> Column:
    return (F.col("split") == F.lit(split)) & F.col(LABEL).eqNullSafe(F.lit(label))


def _case(pairs: list[tuple[Column, Any]], default: Any) -> Column:
    expression = F.when(pairs[0][0], F.lit(pairs[0][1]))
    for condition, value in pairs[1:]:
        expression = expression.when(condition, F.lit(value))
    return expression.otherwise(F.lit(default))


def seeded_uniform(keys: list[str], seed: int) -> Column:
    """A number in [0, 1) per row from a hash of its split, its keys and the
    seed: the same rows get the same numbers however the table is partitioned
    or ordered (rand(seed) depends on both), so a sample is reproducible."""
    modulus = 2_147_483_647  # a prime near 2^31: the hash's residues spread evenly
    hashed = F.xxhash64(F.col("split"), *[F.col(k) for k in keys], F.lit(seed))
    return F.pmod(hashed, F.lit(modulus)).cast("double") / F.lit(float(modulus))


def draw_sample(rows: DataFrame, plan: SamplePlan, seed: int, keys: list[str]) -> DataFrame:
    """Exactly plan.keep[split][label] rows of each (split, label) group, at random.

    Each row gets a seeded uniform number (seeded_uniform: a hash of its keys);
    a group's rows with the k smallest numbers are a simple random sample of k
    of them. To rank only about k rows per group, rows are first kept with a
    probability a little above k / n (six standard deviations of margin), then
    ranked within their group (ties broken by the keys).
    """
    trimmed = [
        (split, label, keep, plan.available[split][label])
        for split, labels in plan.keep.items()
        for label, keep in labels.items()
        if keep < plan.available[split][label]
    ]
    if not trimmed:
        return rows
    fractions = [(_group(s, v), min(1.0, (k + 6 * math.sqrt(k) + 10) / n)) for s, v, k, n in trimmed]
    limits = [(_group(s, v), k) for s, v, k, _ in trimmed]
    candidates = rows.withColumn(_U, seeded_uniform(keys, seed)).filter(F.col(_U) < _case(fractions, 1.0))
    order = Window.partitionBy("split", LABEL).orderBy(_U, *keys)
    ranked = candidates.withColumn(_RANK, F.row_number().over(order))
    limit = _case(limits, None)
    return ranked.filter(limit.isNull() | (F.col(_RANK) <= limit)).drop(_U, _RANK)


def training_sample(table: DataFrame, spec: TaskSpec, plan: SamplePlan, seed: int) -> pd.DataFrame:
    """The planned sample of `table`, only the needed columns, as pandas."""
    sample = draw_sample(training_rows(table, spec, plan), plan, seed, list(spec.keys))
    with arrow(table.sparkSession):
        return sample.toPandas()


# --- scoring: batch by batch in the Python workers ---------------------------

def require_unique_keys(rows: DataFrame, keys: list[str], what: str) -> None:
    """Raise when a key occurs more than once among `rows` (checked in Spark,
    across the whole table; batches could only see their own duplicates)."""
    duplicated = rows.groupBy(*keys).count().filter(F.col("count") > 1)
    examples = duplicated.limit(5).collect()
    if examples:
        shown = [{k: row[k] for k in keys} | {"rows": row["count"]} for row in examples]
        raise ValueError(f"{what}: {duplicated.count()} {keys} values occur more than once, e.g. {shown}")


ScoreFunction = Callable[..., pd.DataFrame]


def _score_batches(
    batches: Iterator[pd.DataFrame], score: ScoreFunction, source: Any, columns: list[str], scored_at: pd.Timestamp
) -> Iterator[pd.DataFrame]:
    """mapInPandas body: runs in the Python workers, one Arrow batch at a time."""
    for batch in batches:
        if batch.empty:
            continue
        scored = score(source, batch, scored_at=scored_at)[columns]
        scored["predicted_purchase"] = scored["predicted_purchase"].astype(bool)
        yield scored


def use_driver_python(session: SparkSession) -> None:
    """Run a classic session's Python workers on the driver's interpreter
    unless PYSPARK_PYTHON chooses one.

    Spark otherwise starts `python3` from PATH, which lacks pandas and the `ml`
    package when dbt runs as .venv/bin/dbt without the virtualenv activated. In
    local mode the workers share the driver's machine, so its interpreter (which
    just imported `ml`) is the right one. Spark Connect servers start their own
    workers and are left alone.
    """
    if os.environ.get("PYSPARK_PYTHON") or is_connect(session):
        return
    context = session.sparkContext
    if context.pythonExec == "python3":  # Spark's default, not a choice
        context.pythonExec = sys.executable


def score_in_batches(
    rows: DataFrame, score: ScoreFunction, source: Any, columns: list[str], schema: str, scored_at: pd.Timestamp
) -> DataFrame:
    """`score(source, batch, scored_at=...)[columns]` over `rows`, as a Spark
    frame with `schema`. `source` (the fitted model) is pickled to the workers;
    `scored_at` is one value for the whole run."""
    use_driver_python(rows.sparkSession)
    batches = partial(_score_batches, score=score, source=source, columns=columns, scored_at=scored_at)
    return rows.mapInPandas(batches, schema)


# --- results: pandas -> Spark through Arrow ----------------------------------

def _dates(values: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(values, errors="raise")
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return pd.Series(stamps.dt.date, index=values.index, dtype=object).where(stamps.notna(), None)


# Declared type -> vectorised coercion to a pandas dtype Arrow maps onto it with nulls.
_COERCE: Mapping[str, Callable[[pd.Series], pd.Series]] = {
    "string": lambda s: s.astype("string"),
    "double": lambda s: pd.to_numeric(s, errors="raise").astype("float64"),  # NaN -> null
    "bigint": lambda s: pd.to_numeric(s, errors="raise").astype("Int64"),
    "boolean": lambda s: s.astype("boolean"),
    "date": _dates,
    # naive values are taken as UTC (the project's convention), aware ones converted
    "timestamp": lambda s: pd.to_datetime(s, utc=True, errors="raise"),
}


def schema_fields(schema: str) -> list[tuple[str, str]]:
    """(column, type) pairs of a flat DDL schema such as 'a string, n bigint'."""
    fields = []
    for part in schema.split(","):
        words = part.split()
        if len(words) != 2:
            raise ValueError(f"cannot read {part.strip()!r} of schema {schema!r} as '<column> <type>'")
        name, kind = words
        if kind.lower() not in _COERCE:
            raise ValueError(f"unsupported type {kind!r} for column {name!r}; supported: {sorted(_COERCE)}")
        fields.append((name, kind.lower()))
    return fields


def spark_ready(frame: pd.DataFrame, schema: str) -> pd.DataFrame:
    """`frame`'s schema columns, in order, each coerced to its declared type."""
    return pd.DataFrame({name: _COERCE[kind](frame[name]) for name, kind in schema_fields(schema)}, index=frame.index)


def to_spark(session: SparkSession, frame: pd.DataFrame, schema: str) -> DataFrame:
    """A Spark frame with `schema` built through Arrow: NaN/NaT/None -> null,
    timestamps written as the same UTC instant whatever the machine's TZ."""
    with arrow(session):
        return session.createDataFrame(spark_ready(frame, schema).reset_index(drop=True), schema=schema)
