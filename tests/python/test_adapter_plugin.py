"""The sparklocal adapter plugin: dbt-spark plus Python models on OSS Spark."""

from __future__ import annotations

from pathlib import Path

import pytest
from dbt_common.exceptions import DbtRuntimeError

from dbt.adapters.sparklocal import Plugin
from dbt.adapters.sparklocal.connections import (
    SparkLocalCredentials,
    check_metastore_free,
    derby_metastore,
    escape_spark_string,
    inline_bindings,
)
from dbt.adapters.sparklocal.python_submissions import (
    SessionPythonJobHelper,
    SparkConnectPythonJobHelper,
    run_compiled_model,
)


def credentials(method: str, **extra) -> SparkLocalCredentials:
    return SparkLocalCredentials(method=method, host="localhost", schema="s", **extra)


def test_plugin_inherits_every_spark_macro():
    assert Plugin.adapter.type() == "sparklocal"
    assert Plugin.dependencies == ["spark"]
    assert credentials("session").type == "sparklocal"


def test_python_model_runs_with_spark_bound_as_a_global():
    import builtins

    sentinel = object()
    # the compiled script reads the global `spark`; hand it out through builtins
    run_compiled_model("import builtins\nbuiltins._sparklocal_probe = spark", sentinel, "m")
    assert builtins.__dict__.pop("_sparklocal_probe") is sentinel


def test_ml_log_lines_inside_a_model_reach_dbt_once_not_also_the_root_logger():
    import logging

    class Collect(logging.Handler):
        def __init__(self):
            super().__init__(logging.INFO)
            self.messages = []

        def emit(self, record):
            self.messages.append(record.getMessage())

    root_handler, forwarded = Collect(), Collect()
    logging.getLogger().addHandler(root_handler)
    logging.getLogger("ml").addHandler(forwarded)
    try:
        run_compiled_model("import logging\nlogging.getLogger('ml.probe').info('inside')", object(), "m")
        logging.getLogger("ml.probe").info("outside")
    finally:
        logging.getLogger().removeHandler(root_handler)
        logging.getLogger("ml").removeHandler(forwarded)
    # inside a model only the forwarding path sees the line; outside, Python's
    # defaults (propagation to the root) are back
    assert forwarded.messages == ["inside", "outside"]
    assert root_handler.messages == ["outside"]


def test_session_helper_refuses_a_non_session_profile():
    with pytest.raises(DbtRuntimeError, match="method: session"):
        SessionPythonJobHelper({"alias": "m"}, credentials("thrift"))


def test_spark_connect_helper_needs_a_connect_url():
    with pytest.raises(DbtRuntimeError, match="connect_url"):
        SparkConnectPythonJobHelper({"alias": "m"}, credentials("thrift"))
    helper = SparkConnectPythonJobHelper({"alias": "m"}, credentials("thrift", connect_url="sc://127.0.0.1:15002"))
    assert helper.connect_url == "sc://127.0.0.1:15002"


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [("Can't Lose Them", "Can\\'t Lose Them"), ("a\\b", "a\\\\b"), ("plain", "plain"), (3.5, 3.5), (None, None)],
)
def test_seed_bindings_are_escaped_for_spark_string_literals(raw, escaped):
    assert escape_spark_string(raw) == escaped


def test_seed_bindings_become_spark_literals_with_null_for_empty_cells():
    import datetime as dt
    from decimal import Decimal

    sql = inline_bindings("insert into t values (%s, %s, %s, %s, %s)",
                          [None, "Can't", Decimal("2.50"), 7, dt.datetime(2019, 11, 1, 10, 0, 0, 123456)])
    assert sql == "insert into t values (null, 'Can\\'t', 2.5, 7.0, '2019-11-01 10:00:00.123')"


@pytest.mark.dbt
def test_tiny_python_models_build_end_to_end(warehouse):
    from conftest import new_scenario

    scenario = new_scenario("plugin", warehouse)
    scenario.project_dir = Path(__file__).parent / "fixtures" / "tiny_project"
    scenario.dbt("build")
    rows = scenario.sql("select n, doubled, squared from {s}.downstream order by n")
    assert [tuple(row) for row in rows] == [(n, 2 * n, n * n) for n in range(1, 6)]
    # an empty seed cell is NULL, not the text 'None'; a quote survives
    labels = scenario.sql("select id, label from {s}.labels order by id")
    assert [tuple(row) for row in labels] == [(1, "plain"), (2, None), (3, "Can't Lose Them")]
    from test_atomic_builds import build_table_of

    build_table = build_table_of(f"{scenario.schema}.doubled")  # a table model is a view over its build
    provider = {row[0]: row[1] for row in scenario.sql(f"describe table extended {build_table}")}
    assert provider.get("Provider") == "parquet"  # not dbt-spark's default of delta


# --- metastore contention: one clear message instead of a Java stack trace ---

HOLD_LOCK = """
import fcntl, os, sys, time
descriptor = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.lockf(descriptor, fcntl.LOCK_EX)  # what Derby does to dbex.lck while booted
print("held", flush=True)
time.sleep(120)
"""


def hold_derby_lock(metastore: Path):
    """Another process holding the metastore's lock the way a booted Derby does."""
    import subprocess
    import sys

    metastore.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(metastore / "dbex.lck")],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def derby_settings(metastore: Path) -> dict:
    return {"spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={metastore};create=true"}


def test_metastore_path_is_read_from_the_derby_url(tmp_path):
    assert derby_metastore(derby_settings(tmp_path / "metastore_db")) == tmp_path / "metastore_db"
    assert derby_metastore({"spark.hadoop.javax.jdo.option.ConnectionURL": "jdbc:mysql://db/hive"}) is None
    assert derby_metastore({}) is None


def test_a_metastore_held_by_another_process_fails_fast_naming_the_holder(tmp_path):
    metastore = tmp_path / "metastore_db"
    check_metastore_free(derby_settings(metastore))  # no database yet: free
    holder = hold_derby_lock(metastore)
    try:
        with pytest.raises(DbtRuntimeError, match="in use by another process") as other:
            check_metastore_free(derby_settings(metastore))
        assert "--target thrift" in str(other.value)
        (tmp_path / "server").mkdir()
        (tmp_path / "server" / "server.pid").write_text("4242\n")
        with pytest.raises(DbtRuntimeError, match=r"the project's Spark server \(pid 4242\)"):
            check_metastore_free(derby_settings(metastore))
    finally:
        holder.kill()
        holder.wait()
    check_metastore_free(derby_settings(metastore))  # released with its process: free again


@pytest.mark.dbt
def test_a_build_after_this_process_stopped_its_session_is_not_refused(warehouse):
    """The JVM (and Derby booted in it) outlives a stopped SparkContext: the
    metastore lock is then this process's own, not another holder's."""
    from conftest import new_scenario
    from dbt_harness import spark

    scenario = new_scenario("restart", warehouse)
    scenario.project_dir = Path(__file__).parent / "fixtures" / "tiny_project"
    scenario.dbt("build")
    spark().stop()
    scenario.dbt("build")  # raises DbtFailed if the metastore check refused it
    assert scenario.sql("select count(*) from {s}.downstream")[0][0] == 5
