"""Run the dbt project in-process against a scratch warehouse and read results.

dbt runs through its programmatic entry point (`dbtRunner`) inside the pytest
process, so dbt, the Python models and the assertions share one Spark session
and one Derby metastore (Derby allows a single process). Each scenario builds
into its own schema (`REES46_SCHEMA`), reading its own raw folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]


# The documented bound of the approximate distinct counts (macros/metrics.sql,
# doc block approximate_distinct_count): HyperLogLog with lgConfigK 12,
# relative standard error 1.04 / sqrt(2^12). A sketch depends on the order its
# values arrived in (the file layout, the partitioning, one machine or a
# cluster), so two builds of the same rows agree on the sketches and the
# counts and rates read from them within three standard errors, on every
# other column exactly.
SKETCH_RSE = 1.04 / 2**6
SKETCH_BOUND = 3 * SKETCH_RSE  # relative: how far two counts of one set may be apart
APPROXIMATE_COLUMNS = {"unique_users", "viewers", "carters", "purchasers", "sessions", "user_purchase_rate"}


def is_sketch(name: str, kind: str) -> bool:
    """A HyperLogLog sketch column (distinct_sketch in macros/metrics.sql)."""
    return kind == "binary" and name.endswith("_sketch")


def is_approximate(name: str, kind: str) -> bool:
    """A column read from HyperLogLog sketches, or a sketch itself."""
    return name in APPROXIMATE_COLUMNS or is_sketch(name, kind)


class DbtFailed(AssertionError):
    """A dbt invocation did not succeed; the message lists the failing nodes."""


@dataclass
class DbtScenario:
    """One raw folder built into one schema."""

    name: str
    raw_dir: Path
    work_dir: Path
    project_dir: Path = PROJECT_ROOT
    # Reuse the parse of the scenario's previous invocation (its target
    # folder's partial_parse.msgpack) when the project files and vars did not
    # change: dbt re-parses what did change.
    partial_parse: bool = True
    # Project vars every invocation passes (an invocation's own `vars` win).
    vars: dict[str, Any] = field(default_factory=dict)

    @property
    def schema(self) -> str:
        return f"t_{self.name}"

    def dbt(self, *args: str, vars: dict[str, Any] | None = None, expect_success: bool = True):
        """Invoke dbt with this scenario's schema and raw folder; return the result."""
        from dbt.cli.main import dbtRunner

        os.environ["REES46_SCHEMA"] = self.schema
        os.environ["REES46_RAW_DIR"] = str(self.raw_dir)
        command = [
            *args,
            "--project-dir", str(self.project_dir),
            "--profiles-dir", str(PROJECT_ROOT / "profiles"),
            "--target-path", str(self.work_dir / "target"),
            "--log-path", str(self.work_dir / "logs"),
            "--partial-parse" if self.partial_parse else "--no-partial-parse",
        ]
        vars = {**self.vars, **(vars or {})}
        if vars:
            import json

            command += ["--vars", json.dumps(vars)]
        result = dbtRunner().invoke(command)
        if expect_success and not result.success:
            raise DbtFailed(f"dbt {' '.join(args)} failed for {self.name}:\n{describe_failures(result)}")
        return result

    def table(self, layer: str, name: str) -> str:
        """Fully qualified name of a model built by this scenario."""
        return f"{self.schema}_{layer}.{name}"

    def sql(self, query: str) -> list[Any]:
        """Run a query in the shared Spark session and collect the rows."""
        return spark().sql(query.format(s=self.schema)).collect()

    def frame(self, query: str):
        """Run a query in the shared Spark session and return a pandas frame."""
        return spark().sql(query.format(s=self.schema)).toPandas()


def describe_failures(result: Any) -> str:
    """The failing nodes of a dbt result, or the exception that stopped dbt."""
    if result.exception is not None:
        return repr(result.exception)
    lines = []
    for node_result in getattr(result.result, "results", []) or []:
        status = str(node_result.status).lower()
        if status in ("error", "fail", "runtime error"):
            lines.append(f"{node_result.node.unique_id}: {status}: {node_result.message}")
    return "\n".join(lines) or "no node failed; see the dbt log"


def spark():
    """The Spark session dbt created (getOrCreate returns the running one)."""
    from pyspark.sql import SparkSession

    return SparkSession.builder.getOrCreate()


def configure_process(warehouse: Path) -> None:
    """Environment for every dbt invocation in this process; set once, before
    the first one, because the JVM and its metastore location outlive them."""
    os.environ.update(
        {
            "DBT_PROFILES_DIR": str(PROJECT_ROOT / "profiles"),
            "REES46_WAREHOUSE_DIR": str(warehouse),
            "SPARK_SHUFFLE_PARTITIONS": "4",
            "SPARK_DRIVER_MEMORY": os.environ.get("SPARK_DRIVER_MEMORY", "6g"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
