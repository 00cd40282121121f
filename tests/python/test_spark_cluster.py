"""A Spark standalone cluster on loopback (a master, two one-core workers) with
the project's server submitted to it: the `thrift` target builds against it
unchanged and gives the same tables as the local target on the real rows."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from dbt_harness import DbtScenario
from server_harness import ServerEnv
from test_spark_server import assert_listens_on_loopback_only, compare_targets, one_line

pytestmark = [pytest.mark.dbt, pytest.mark.cluster]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> ServerEnv:
    env = ServerEnv(tmp_path_factory.mktemp("cluster") / "warehouse")
    started = env.script("cluster-start")
    try:
        assert started.returncode == 0, started.stderr + started.stdout
        yield env
    finally:
        stopped = env.script("cluster-stop")
        print(stopped.stdout, stopped.stderr)


def master_state(env: ServerEnv) -> dict:
    url = f"http://127.0.0.1:{env.ports['SPARK_MASTER_WEBUI_PORT']}/json/"
    with urllib.request.urlopen(url, timeout=10) as page:
        return json.load(page)


def test_cluster_runs_the_server_on_two_workers_on_loopback_only(cluster):
    master_url = f"spark://127.0.0.1:{cluster.ports['SPARK_MASTER_PORT']}"
    state = master_state(cluster)
    assert state["aliveworkers"] == 2 and all(worker["cores"] == 1 for worker in state["workers"])
    [application] = state["activeapps"]
    assert application["name"] == "rees46-server" and application["cores"] == 2
    assert cluster.query("set spark.master") == [("spark.master", master_url)]
    processes = [cluster.pid(name) for name in ("master", "worker-1", "worker-2", "server")]
    assert_listens_on_loopback_only(processes, {
        cluster.ports["SPARK_MASTER_PORT"], cluster.ports["SPARK_MASTER_WEBUI_PORT"],
        cluster.ports["SPARK_THRIFT_PORT"], cluster.ports["SPARK_CONNECT_PORT"],
    })
    again = cluster.script("cluster-start")
    assert again.returncode == 1 and "already running" in one_line(again.stderr)


def test_thrift_target_on_the_cluster_matches_the_local_target(cluster, real_rows: DbtScenario, tmp_path):
    # every model and seed; the data and unit tests are left out here: through
    # Thrift they are the same queries the server test runs (test_spark_server)
    result = cluster.dbt("build", "--target", "thrift", "--exclude-resource-type", "test",
                         "--exclude-resource-type", "unit_test", schema=real_rows.schema,
                         raw_dir=real_rows.raw_dir, work_dir=tmp_path)
    assert result.returncode == 0, result.stdout[-5000:]
    assert "Completed successfully" in result.stdout
    assert compare_targets(real_rows, cluster) == []
    # the work ran in an executor on each worker, not only in the driver
    for number in (1, 2):
        executor_logs = list((cluster.warehouse / "server" / f"worker-{number}").glob("app-*/*/stderr"))
        assert executor_logs and any("Running task" in log.read_text() for log in executor_logs), number


def running(pid: int) -> bool:
    """Alive and not a zombie waiting for init to reap it."""
    try:
        return not Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].startswith("Z")
    except OSError:
        return False


def test_cluster_stop_stops_every_process(cluster):
    pids = [cluster.pid(name) for name in ("master", "worker-1", "worker-2", "server")]
    stopped = cluster.script("cluster-stop")
    assert stopped.returncode == 0
    assert [line.split(":")[0] for line in stopped.stdout.splitlines()] == ["server", "worker 1", "worker 2", "master"]
    assert [pid for pid in pids if running(pid)] == []
    assert list((cluster.warehouse / "server").glob("*.pid")) == []
