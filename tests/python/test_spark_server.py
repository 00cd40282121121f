"""The Spark server (Thrift + Spark Connect), the standalone cluster and the
`thrift` target.

Quick tests check the server's settings and every one-line error of
scripts/spark_server.py without starting Spark. One test starts a server in
local mode (`make server-start`) and checks it listens on loopback only,
answers SQL, refuses a second start and stops. The rest run on one cluster
(`make cluster-start`: a master and two one-core workers on loopback, the
server submitted to it) on a scratch warehouse: the one build through a
server of the suite, `dbt build --target thrift` of the four Python models
and everything they read, and the RFM mart (SQL models over Thrift, Python
models over Spark Connect, their batches in the workers' executors) on the
same generated period as the local `demo` scenario, every table it built
compared with the local build's; then the cluster is stopped and every
process of it is gone.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import NO_TESTS
from dbt_harness import DbtScenario, spark
from server_harness import (
    SERVER_SCRIPT,
    SERVER_TIME_ZONE,
    ServerEnv,
    figures_match,
    fingerprint_sql,
    is_loopback,
    listening_addresses,
    process_tree,
)


def load_script():
    spec = importlib.util.spec_from_file_location("spark_server", SERVER_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def one_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{text}"
    return lines[0]


# --- settings and errors, without starting Spark ------------------------------

def test_server_runs_with_the_local_targets_settings_on_loopback(tmp_path, monkeypatch):
    monkeypatch.setenv("REES46_WAREHOUSE_DIR", str(tmp_path / "wh"))
    monkeypatch.setenv("SPARK_SHUFFLE_PARTITIONS", "7")
    script = load_script()
    layout = script.Layout.from_env()
    local = script.local_target_settings(layout)
    server = script.server_settings(layout, master=None)
    assert local["spark.sql.session.timeZone"] == "UTC"
    assert local["spark.sql.shuffle.partitions"] == "7"  # rendered from the environment as dbt does
    assert local["spark.sql.ansi.enabled"] == "false"  # as dbt-spark sets it on every connection
    assert local["spark.sql.warehouse.dir"] == f"{tmp_path / 'wh'}/spark-warehouse"
    assert str(tmp_path / "wh" / "metastore_db") in local["spark.hadoop.javax.jdo.option.ConnectionURL"]
    own = {"spark.app.name", "spark.master", "spark.driver.memory", "spark.driver.host", "spark.driver.bindAddress"}
    assert {k: v for k, v in server.items() if k in local and k not in own} == {
        k: v for k, v in local.items() if k not in own
    }
    for key in ("spark.driver.host", "spark.driver.bindAddress", "spark.connect.grpc.binding.address"):
        assert server[key] == "127.0.0.1"
    assert server["spark.plugins"] == script.CONNECT_PLUGIN
    assert server["spark.master"] == "local[*]"
    cluster = script.server_settings(layout, master="spark://127.0.0.1:7077")
    assert cluster["spark.master"] == "spark://127.0.0.1:7077" and cluster["spark.cores.max"] == "2"


def test_fingerprints_compare_sketch_columns_within_their_bound_and_others_exactly():
    from dbt_harness import SKETCH_BOUND, SKETCH_RSE

    query, tolerances = fingerprint_sql("t", [("user_id", "bigint"), ("unique_users", "bigint"),
                                              ("users_sketch", "binary"), ("brand", "string"), ("content", "binary")])
    assert query == ("select count(*), sum(cast(`user_id` as double)), sum(cast(`unique_users` as double)),"
                     " sum(hll_sketch_estimate(`users_sketch`)), count(distinct `brand`), count(distinct `content`)"
                     " from t")
    assert tolerances == [0.0, 0.0, SKETCH_BOUND, SKETCH_BOUND, 0.0, 0.0] and SKETCH_BOUND == 3 * SKETCH_RSE
    within, beyond = 1000 * (1 + 2.9 * SKETCH_RSE), 1000 * (1 + 3.5 * SKETCH_RSE)  # relative to the larger
    figures = (5, 10.0, 1000.0, 1000.0, 3, 2)
    assert figures_match(figures, (5, 10.0, within, within, 3, 2), tolerances)
    assert not figures_match(figures, (5, 10.0, beyond, 1000.0, 3, 2), tolerances)
    assert not figures_match(figures, (5, 10.0 + 1e-6, 1000.0, 1000.0, 3, 2), tolerances)
    assert not figures_match(figures, (5, 10.0, 1000.0, 1000.0, 4, 2), tolerances)
    assert not figures_match((None,), (0,), [0.0])


@pytest.fixture
def scratch(tmp_path) -> ServerEnv:
    return ServerEnv(tmp_path / "warehouse")


def test_stopping_a_server_that_is_not_running_says_so(scratch):
    result = scratch.script("stop")
    assert result.returncode == 0 and one_line(result.stdout) == "server: not running"
    status = scratch.script("status")
    assert status.returncode == 1 and one_line(status.stdout) == "server: not running"


def test_a_stale_pid_file_is_not_taken_for_a_running_server(scratch):
    (scratch.warehouse / "server").mkdir(parents=True)
    pid_file = scratch.warehouse / "server" / "server.pid"
    pid_file.write_text(f"{subprocess.Popen(['true']).pid}\n")  # a pid that is not a Spark server
    assert one_line(scratch.script("stop").stdout) == "server: not running"
    assert not pid_file.exists()


def test_sql_without_a_server_says_how_to_start_one(scratch):
    result = scratch.script("sql", "-e", "select 1")
    assert result.returncode == 1
    assert "not running: `make server-start` first" in one_line(result.stderr)


def test_missing_java_is_one_line(scratch):
    result = scratch.script("start", PATH=str(Path(sys.executable).parent), JAVA_HOME="")
    assert result.returncode == 1
    assert "Java 17+ was not found" in one_line(result.stderr)


def test_a_taken_port_is_one_line(scratch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", scratch.ports["SPARK_THRIFT_PORT"]))
        taken.listen()
        result = scratch.script("start")
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert f"port {scratch.ports['SPARK_THRIFT_PORT']} on 127.0.0.1 (Thrift) is taken" in line
    assert "SPARK_THRIFT_PORT" in line


def test_a_metastore_held_by_a_local_build_is_one_line(scratch):
    from test_adapter_plugin import hold_derby_lock

    holder = hold_derby_lock(scratch.warehouse / "metastore_db")
    try:
        result = scratch.script("start")
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 1
    assert "is open in another Spark process (a local dbt build?)" in one_line(result.stderr)


# --- a real server: the thrift target end to end -------------------------------

def assert_listens_on_loopback_only(pids: list[int], expected_ports: set[int]) -> None:
    addresses = listening_addresses(pid for pid in pids for pid in process_tree(pid))
    assert expected_ports <= {port for _, port in addresses}, addresses
    assert all(is_loopback(host) for host, _ in addresses), f"not loopback: {addresses}"


def tables_on(server: ServerEnv, schema_prefix: str) -> list[str]:
    """Every table the server's build made in a scenario's schemas (staging,
    marts, ml, ...), by the names analysts query (not the build tables behind
    table models)."""
    schemas = [name for (name,) in server.query("show databases")
               if name.startswith(schema_prefix + "_") and not name.endswith("__builds")]
    return sorted(f"{schema}.{table}" for schema in schemas
                  for _, table, temporary in server.query(f"show tables in {schema}") if not temporary)


# The Python models, by materialization, and the views of what they wrote.
PYTHON_MODELS = {"ml_training_runs": "incremental", "ml_cart_predictions": "table",
                 "ml_purchase_predictions": "table", "ml_product_recommendations": "table"}
PYTHON_MODEL_OUTPUTS = {*PYTHON_MODELS, "ml_model_metrics", "ml_feature_importance", "ml_calibration",
                        "ml_evaluation_curves", "ml_recommendation_metrics", "ml_rolling_origin_summary"}


def compare_targets(local: DbtScenario, server: ServerEnv) -> list[str]:
    """Tables the server built whose figures differ from the local build's.

    Every table built from SQL gets its row count, numeric sums and distinct
    counts compared (approximate distinct counts within their bound); the
    Python models' outputs (and the propensity deciles read from them) get
    their row counts compared, since training samples in Spark and model
    versions carry the build time.
    """
    differences = []
    tables = tables_on(server, local.schema)
    assert len(tables) > 20 and PYTHON_MODEL_OUTPUTS <= {t.split(".")[1] for t in tables}, tables
    for table in tables:
        name = table.split(".")[1]
        if name in PYTHON_MODEL_OUTPUTS or name == "ml_user_purchase_propensity":
            query, tolerances = f"select count(*) from {table}", [0.0]
        else:
            query, tolerances = fingerprint_sql(table, spark().table(table).dtypes)
        expected = tuple(spark().sql(query).collect()[0])
        actual = tuple(server.query(query)[0])
        if not figures_match(expected, actual, tolerances):
            differences.append(f"{table}: local {expected} != server {actual}")
    return differences


def running(pid: int) -> bool:
    """Alive and not a zombie waiting for init to reap it."""
    try:
        return not Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].startswith("Z")
    except OSError:
        return False


@pytest.mark.dbt
@pytest.mark.server
def test_a_local_mode_server_listens_on_loopback_only_answers_and_refuses_a_second_start(tmp_path):
    env = ServerEnv(tmp_path / "warehouse")
    started = env.script("start")
    try:
        assert started.returncode == 0, started.stderr
        assert "server: running" in started.stdout
        assert env.query("set spark.master") == [("spark.master", "local[*]")]
        assert_listens_on_loopback_only([env.pid()], {env.ports["SPARK_THRIFT_PORT"], env.ports["SPARK_CONNECT_PORT"]})
        again = env.script("start")
        assert again.returncode == 1 and "already running" in one_line(again.stderr)
        pid = env.pid()
    finally:
        stopped = env.script("stop")
    assert stopped.returncode == 0 and not running(pid)
    assert not (env.warehouse / "server" / "server.pid").exists()


# --- the cluster: the one build through a server -------------------------------

def on_the_cluster(test):
    """Marks a test that uses the cluster (the `server` fixture below)."""
    for mark in (pytest.mark.dbt, pytest.mark.server, pytest.mark.cluster):
        test = mark(test)
    return test


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> ServerEnv:
    """The project's server on a standalone cluster (a master and two one-core
    workers on loopback); the module's last test stops it, and so does the
    teardown whatever happened (a no-op when it is stopped)."""
    env = ServerEnv(tmp_path_factory.mktemp("cluster") / "warehouse")
    started = env.script("cluster-start")
    try:
        assert started.returncode == 0, started.stderr + started.stdout
        assert "server: running" in started.stdout
        yield env
    finally:
        stopped = env.script("cluster-stop")
        print(stopped.stdout, stopped.stderr)


# What the server builds: the Python models (each kind: the incremental
# training runs, the scoring and recommending tables), every model that reads
# them and everything those read (dbt's `@`), and the mart beeline reads.
THRIFT_SELECTION = ("--select", "@ml_training_runs", "+mart_user_rfm")


@pytest.fixture(scope="module")
def thrift_build(server: ServerEnv, demo: DbtScenario, tmp_path_factory) -> subprocess.CompletedProcess:
    """`dbt build --target thrift` of THRIFT_SELECTION on the demo scenario's
    raw files, same schema name; `started` and `ended` hold when it ran
    (seconds since the epoch), `pid` its process. The data tests are left
    out: they are the same queries on the same data as the demo build's,
    which compare_targets shows equal; so are the unit tests, which bring
    their own rows and run in the demo build.
    Once it holds the build lock, a second build on the same schemas is run
    (`second`: its completed process), as a second person would start one."""
    started = time.time()
    first = server.dbt_started("build", "--target", "thrift", *THRIFT_SELECTION, *NO_TESTS,
                               "--vars", json.dumps(demo.vars), schema=demo.schema, raw_dir=demo.raw_dir,
                               work_dir=tmp_path_factory.mktemp("thrift_build"))
    try:
        lock = f"{demo.schema}__build_lock"
        while first.poll() is None and not server.query(f"show databases like '{lock}'"):
            time.sleep(0.5)
        second = server.dbt("build", "--target", "thrift", "--select", "stg_raw_files", *NO_TESTS,
                            "--vars", json.dumps(demo.vars), schema=demo.schema, raw_dir=demo.raw_dir,
                            work_dir=tmp_path_factory.mktemp("second_build"))
        output, _ = first.communicate(timeout=1800)
    finally:
        if first.poll() is None:
            first.kill()
    build = subprocess.CompletedProcess(first.args, first.returncode, output, "")
    build.started, build.ended, build.pid, build.second = started, time.time(), first.pid, second
    return build


def master_state(env: ServerEnv) -> dict:
    url = f"http://127.0.0.1:{env.ports['SPARK_MASTER_WEBUI_PORT']}/json/"
    with urllib.request.urlopen(url, timeout=10) as page:
        return json.load(page)


@on_the_cluster
def test_cluster_runs_the_server_on_two_workers_on_loopback_only(server):
    master_url = f"spark://127.0.0.1:{server.ports['SPARK_MASTER_PORT']}"
    state = master_state(server)
    assert state["aliveworkers"] == 2 and all(worker["cores"] == 1 for worker in state["workers"])
    [application] = state["activeapps"]
    assert application["name"] == "rees46-server" and application["cores"] == 2
    assert server.query("set spark.master") == [("spark.master", master_url)]
    processes = [server.pid(name) for name in ("master", "worker-1", "worker-2", "server")]
    assert_listens_on_loopback_only(processes, {
        server.ports["SPARK_MASTER_PORT"], server.ports["SPARK_MASTER_WEBUI_PORT"],
        server.ports["SPARK_THRIFT_PORT"], server.ports["SPARK_CONNECT_PORT"],
    })
    again = server.script("cluster-start")
    assert again.returncode == 1 and "already running" in one_line(again.stderr)


@on_the_cluster
def test_connect_sessions_get_the_sql_sides_settings(server):
    probe = f"""
from dbt.adapters.sparklocal.connections import SparkLocalCredentials
from dbt.adapters.sparklocal.python_submissions import SparkConnectPythonJobHelper
credentials = SparkLocalCredentials(method="thrift", host="127.0.0.1", schema="s",
                                    connect_url="sc://127.0.0.1:{server.ports['SPARK_CONNECT_PORT']}")
spark = SparkConnectPythonJobHelper({{"alias": "probe"}}, credentials).session()
print(type(spark).__module__)
for key in ("spark.sql.session.timeZone", "spark.sql.ansi.enabled", "spark.sql.parquet.outputTimestampType"):
    print(key, spark.conf.get(key))
"""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "pyspark.sql.connect.session",
        "spark.sql.session.timeZone UTC",
        "spark.sql.ansi.enabled false",
        "spark.sql.parquet.outputTimestampType TIMESTAMP_MICROS",
    ]


@on_the_cluster
def test_thrift_target_builds_the_python_models_on_the_cluster_and_matches_the_local_target(server, thrift_build, demo):
    assert thrift_build.returncode == 0, thrift_build.stdout[-5000:]
    log = thrift_build.stdout
    assert "Concurrency: 2 threads (target='thrift')" in log
    assert "ERROR=0" in log and "Completed successfully" in log
    for model, materialized in PYTHON_MODELS.items():  # Python models ran, through Spark Connect
        assert f"OK created python {materialized} model {demo.schema}_ml.{model}" in log
    assert compare_targets(demo, server) == []
    # the same models evaluated the same ways; the server trained them (the
    # local demo may have been rebuilt since in reuse mode, status 'reused')
    statuses = "select task, model, evaluation, status from {schema}_ml.ml_model_metrics order by 1, 2, 3"
    local = [tuple(row) for row in spark().sql(statuses.format(schema=demo.schema)).collect()]
    on_server = server.query(statuses.format(schema=demo.schema))
    assert local and [row[:3] for row in on_server] == [row[:3] for row in local]
    assert {row[3] for row in on_server} == {"trained"} and {row[3] for row in local} <= {"trained", "reused"}
    # the work ran in an executor on each worker, not only in the driver
    for number in (1, 2):
        executor_logs = list((server.warehouse / "server" / f"worker-{number}").glob("app-*/*/stderr"))
        assert executor_logs and any("Running task" in log.read_text() for log in executor_logs), number


@on_the_cluster
def test_the_servers_python_models_stamp_utc_instants_whatever_its_time_zone(server, thrift_build, demo):
    assert thrift_build.returncode == 0
    # the server (and dbt talking to it) ran eight hours off UTC; this process runs in UTC
    jvm_zone, session_zone = server.query(
        "select java_method('java.lang.System', 'getProperty', 'user.timezone'), current_timezone()")[0]
    assert (jvm_zone, session_zone) == (SERVER_TIME_ZONE, "UTC")
    stamps = {"ml_model_metrics": "trained_at", "ml_purchase_predictions": "scored_at",
              "ml_cart_predictions": "scored_at", "ml_product_recommendations": "recommended_at"}
    for table, column in stamps.items():
        earliest, latest, rows = server.query(
            f"select min(unix_seconds({column})), max(unix_seconds({column})), count(*) from {demo.schema}_ml.{table}"
        )[0]
        # written during the build: a stamp read as local time would be 8 hours off
        assert rows > 0 and thrift_build.started - 1 <= earliest <= latest <= thrift_build.ended + 1, (table, column)


@on_the_cluster
def test_a_second_build_on_the_same_schemas_stops_at_once_naming_the_running_one(server, thrift_build, demo):
    assert thrift_build.returncode == 0, thrift_build.stdout[-3000:]
    second = thrift_build.second.stdout + thrift_build.second.stderr
    assert thrift_build.second.returncode != 0
    [line] = [line for line in second.splitlines() if "Another dbt build is running" in line]
    assert f"on the schemas {demo.schema}_*: started 20" in line
    assert f" on {socket.gethostname()} (pid {thrift_build.pid})" in line and f"drop database {demo.schema}__build_lock" in line
    # it stopped before touching anything: no raw table registered, no model started
    assert "raw events: registering" not in second and " START sql " not in second, second[-3000:]
    assert "Traceback" not in second
    # the first build dropped its lock when it ended
    assert server.query(f"show databases like '{demo.schema}__build_lock'") == []


@on_the_cluster
def test_beeline_counts_the_same_rfm_rows_as_the_local_target(server, thrift_build, demo):
    assert thrift_build.returncode == 0
    table = demo.table("marts", "mart_user_rfm")
    result = server.script("sql", "--outputformat=tsv2", "-e", f"select count(*) as n from {table}")
    assert result.returncode == 0, result.stderr
    # beeline echoes its prompt and the header before the value
    count = int([line.strip() for line in result.stdout.splitlines() if line.strip().isdigit()][-1])
    assert count == spark().sql(f"select count(*) from {table}").collect()[0][0] > 0


@on_the_cluster
def test_a_local_build_while_the_server_runs_fails_fast_with_what_to_do(server, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    result = server.dbt("build", schema="t_clash", raw_dir=raw, work_dir=tmp_path)  # local target
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"in use by the project's Spark server (pid {server.pid()})" in output
    assert "--target thrift" in output and "make server-stop" in output
    assert "at org." not in output and "Traceback" not in output  # no Java or Python stack trace


@on_the_cluster
def test_cluster_stop_stops_every_process(server):
    """The module's last test on the cluster."""
    pids = [server.pid(name) for name in ("master", "worker-1", "worker-2", "server")]
    stopped = server.script("cluster-stop")
    assert stopped.returncode == 0
    assert [line.split(":")[0] for line in stopped.stdout.splitlines()] == ["server", "worker 1", "worker 2", "master"]
    assert [pid for pid in pids if running(pid)] == []
    assert list((server.warehouse / "server").glob("*.pid")) == []


HOLD_METASTORE = """
import sys, time
from pyspark.sql import SparkSession
warehouse = sys.argv[1]
spark = (SparkSession.builder.master("local[1]").enableHiveSupport()
         .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                 f"jdbc:derby:;databaseName={warehouse}/metastore_db;create=true")
         .config("spark.sql.warehouse.dir", f"{warehouse}/spark-warehouse")
         .config("spark.driver.extraJavaOptions", f"-Dderby.stream.error.file={warehouse}/derby.log")
         .config("spark.driver.memory", "1g").config("spark.ui.enabled", "false").getOrCreate())
spark.sql("show databases").collect()
print("held", flush=True)
time.sleep(300)
"""


@pytest.mark.dbt
def test_a_second_local_build_fails_fast_while_another_holds_the_metastore(tmp_path):
    """A real Spark session (like a first local build) holds the Derby metastore."""
    env = ServerEnv(tmp_path / "warehouse")
    env.warehouse.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_METASTORE, str(env.warehouse)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        raw = tmp_path / "raw"
        raw.mkdir()
        result = env.dbt("build", schema="t_second", raw_dir=raw, work_dir=tmp_path)
    finally:
        holder.kill()
        holder.wait()
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "is in use by another process (a second local dbt build, or a notebook)" in output
    assert "at org." not in output and "Traceback" not in output
    assert "log4j" not in output  # it stopped before starting a Spark session of its own

