"""The sparklocal adapter plugin: dbt-spark plus Python models on OSS Spark."""

from __future__ import annotations

from pathlib import Path

import pytest
from dbt_common.exceptions import DbtRuntimeError

from dbt.adapters.sparklocal import Plugin
from dbt.adapters.sparklocal.connections import SparkLocalCredentials, escape_spark_string
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


@pytest.mark.dbt
def test_tiny_python_models_build_end_to_end(warehouse):
    from conftest import new_scenario

    scenario = new_scenario("plugin", warehouse)
    scenario.project_dir = Path(__file__).parent / "fixtures" / "tiny_project"
    scenario.dbt("build")
    rows = scenario.sql("select n, doubled, squared from {s}.downstream order by n")
    assert [tuple(row) for row in rows] == [(n, 2 * n, n * n) for n in range(1, 6)]
    provider = {row[0]: row[1] for row in scenario.sql("describe table extended {s}.doubled")}
    assert provider.get("Provider") == "parquet"  # not dbt-spark's default of delta
