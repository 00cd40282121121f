"""Start and stop the project's Spark server, and a small standalone cluster.

    python scripts/spark_server.py start|stop|status|sql [beeline args]
    python scripts/spark_server.py cluster-start|cluster-stop

`start` launches ONE Spark application that serves the Hive Thrift protocol
(dbt's `thrift` target, beeline, PyHive, JDBC) and Spark Connect (the Python
models on that target) over the project's warehouse and Derby metastore. Its
Spark settings are the local target's (`outputs.local.server_side_parameters`
in profiles/profiles.yml, rendered with the same environment), so both targets
compute the same results. Every port binds to 127.0.0.1 unless
SPARK_SERVER_BIND_HOST says otherwise (see the README before you change it).

`cluster-start` starts a Spark standalone master and two one-core workers on
loopback from the same pyspark install, then the server with
`--master spark://127.0.0.1:7077`; `cluster-stop` stops all of them.

Log and pid files live under $REES46_WAREHOUSE_DIR/server (ignored by git).
Every failure the user can fix is one line on stderr and exit status 1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

PROJECT_ROOT = Path(__file__).resolve().parents[1]
THRIFT_SERVER_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
CONNECT_PLUGIN = "org.apache.spark.sql.connect.SparkConnectPlugin"
WORKERS = 2


class UserError(Exception):
    """Something the user can fix; printed as one line."""


def env(name: str, default: str) -> str:
    return os.environ.get(name) or default


@dataclass(frozen=True)
class Layout:
    """Where everything lives and which addresses it uses (all from the environment)."""

    warehouse: Path
    bind_host: str
    thrift_port: int
    connect_port: int
    master_port: int
    master_ui_port: int

    @classmethod
    def from_env(cls) -> "Layout":
        return cls(
            warehouse=Path(env("REES46_WAREHOUSE_DIR", str(PROJECT_ROOT / "warehouse"))).resolve(),
            bind_host=env("SPARK_SERVER_BIND_HOST", "127.0.0.1"),
            thrift_port=int(env("SPARK_THRIFT_PORT", "10000")),
            connect_port=int(env("SPARK_CONNECT_PORT", "15002")),
            master_port=int(env("SPARK_MASTER_PORT", "7077")),
            master_ui_port=int(env("SPARK_MASTER_WEBUI_PORT", "8080")),
        )

    @property
    def run_dir(self) -> Path:
        from dbt.adapters.sparklocal.connections import server_run_dir  # where the adapter looks too

        return server_run_dir(self.warehouse)

    def pid_file(self, name: str) -> Path:
        from dbt.adapters.sparklocal.connections import server_pid_file  # where the adapter looks too

        return server_pid_file(self.warehouse, name)

    def log_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.log"

    @property
    def metastore(self) -> Path:
        return self.warehouse / "metastore_db"

    @property
    def master_url(self) -> str:
        return f"spark://{self.bind_host}:{self.master_port}"


# --- Spark settings: the local target's, rendered like dbt renders them ------

def local_target_settings(layout: Layout) -> dict[str, str]:
    """`outputs.local.server_side_parameters` of profiles/profiles.yml,
    rendered with env_var() as dbt does, plus what dbt-spark adds to every
    connection (ANSI mode off), so SQL behaves the same on both targets."""
    import jinja2
    import yaml

    def env_var(name: str, default: str | None = None) -> str:
        if name == "REES46_WAREHOUSE_DIR":
            return str(layout.warehouse)
        value = os.environ.get(name, default)
        if value is None:
            raise UserError(f"profiles.yml needs the environment variable {name}")
        return value

    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    environment.globals["env_var"] = env_var
    environment.filters["as_number"] = lambda value: value
    text = environment.from_string((PROJECT_ROOT / "profiles" / "profiles.yml").read_text()).render()
    settings = yaml.safe_load(text)["rees46"]["outputs"]["local"]["server_side_parameters"]
    settings = {str(key): str(value) for key, value in settings.items()}
    settings["spark.sql.ansi.enabled"] = "false"  # dbt-spark sets this on every connection
    return settings


def server_settings(layout: Layout, master: str | None) -> dict[str, str]:
    """The server's Spark settings: the local target's, with the server's own
    name, master, addresses and Python."""
    settings = local_target_settings(layout)
    settings.update(
        {
            "spark.app.name": "rees46-server",
            "spark.master": master or env("SPARK_SERVER_MASTER", "local[*]"),
            "spark.driver.memory": env("SPARK_SERVER_DRIVER_MEMORY", settings["spark.driver.memory"]),
            "spark.driver.host": layout.bind_host,
            "spark.driver.bindAddress": layout.bind_host,
            "spark.plugins": CONNECT_PLUGIN,
            "spark.connect.grpc.binding.address": layout.bind_host,
            "spark.connect.grpc.binding.port": str(layout.connect_port),
            # Python UDFs (the ML models score with mapInPandas) run in the
            # project's interpreter, which has pandas, xgboost and the ml package.
            "spark.pyspark.python": sys.executable,
            "spark.pyspark.driver.python": sys.executable,
            "spark.executorEnv.PYTHONPATH": str(PROJECT_ROOT),
        }
    )
    if master and master.startswith("spark://"):
        # One executor per worker, one core each; the rest of the memory stays
        # for the driver and the dbt process.
        settings.update(
            {
                "spark.executor.cores": "1",
                "spark.executor.memory": env("SPARK_EXECUTOR_MEMORY", "2g"),
                "spark.cores.max": str(WORKERS),
            }
        )
    return settings


# --- processes -----------------------------------------------------------------

def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def require_java() -> None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise UserError("Java 17+ was not found on PATH (Spark needs it): install openjdk-17-jre-headless")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    state = Path(f"/proc/{pid}/stat")
    return not (state.exists() and state.read_text().split(") ")[-1].startswith("Z"))


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def running_pid(layout: Layout, name: str, java_class: str) -> int | None:
    """The pid in `name`.pid if that process is alive and is ours (its command
    line names `java_class`); a stale pid file is removed."""
    path = layout.pid_file(name)
    if not path.exists():
        return None
    try:
        pid = int(path.read_text().strip())
    except ValueError:
        pid = -1
    if pid > 0 and alive(pid) and java_class in command_line(pid):
        return pid
    path.unlink(missing_ok=True)
    return None


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def port_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def metastore_in_use(metastore: Path) -> bool:
    """True while a JVM has the Derby metastore open (the adapter's check,
    which a local build runs before it opens a session)."""
    from dbt.adapters.sparklocal.connections import derby_in_use

    return derby_in_use(metastore)


def launch(layout: Layout, name: str, command: list[str], extra_env: dict[str, str]) -> int:
    """Start `command` detached, output to <name>.log, pid to <name>.pid."""
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    process_env = {
        **os.environ,
        # Every Spark daemon (and the web UIs, which ignore bind settings)
        # listens on this address only.
        "SPARK_LOCAL_IP": layout.bind_host,
        "SPARK_LOG_DIR": str(layout.run_dir),
        "PYSPARK_PYTHON": sys.executable,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        **extra_env,
    }
    with open(layout.log_file(name), "ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=process_env, cwd=PROJECT_ROOT, start_new_session=True,
        )
    layout.pid_file(name).write_text(f"{process.pid}\n")
    return process.pid


def wait_until(ready: Callable[[], bool], pid: int, what: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if not alive(pid):
            raise UserError(f"{what} exited during start-up; see {log}: {last_error(log)}")
        time.sleep(1)
    raise UserError(f"{what} did not become ready within {timeout:.0f} s; see {log}")


def last_error(log: Path) -> str:
    """The most telling line of a failed start: the last exception or error."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    for line in reversed(lines):
        if re.search(r"Exception|Error|ERROR", line):
            return line.strip()[:300]
    return lines[-1].strip()[:300] if lines else "(empty log)"


def terminate(layout: Layout, name: str, pid: int) -> None:
    """SIGTERM to the process group (Spark shuts down cleanly and releases the
    metastore), SIGKILL after a minute."""
    try:
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        if alive(pid):
            os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    layout.pid_file(name).unlink(missing_ok=True)


def stop_process(layout: Layout, name: str, java_class: str, what: str) -> bool:
    pid = running_pid(layout, name, java_class)
    if pid is None:
        print(f"{what}: not running")
        return False
    terminate(layout, name, pid)
    print(f"{what}: stopped (pid {pid})")
    return True


# --- the server ----------------------------------------------------------------

def start_server(layout: Layout, master: str | None = None) -> None:
    require_java()
    pid = running_pid(layout, "server", THRIFT_SERVER_CLASS)
    if pid is not None:
        raise UserError(
            f"the Spark server is already running (pid {pid}) on thrift {layout.bind_host}:{layout.thrift_port}; "
            "`make server-stop` stops it"
        )
    for port, what, variable in (
        (layout.thrift_port, "Thrift", "SPARK_THRIFT_PORT"),
        (layout.connect_port, "Spark Connect", "SPARK_CONNECT_PORT"),
    ):
        if port_in_use(layout.bind_host, port):
            raise UserError(
                f"port {port} on {layout.bind_host} ({what}) is taken by another program: stop it or set {variable}"
            )
    if metastore_in_use(layout.metastore):
        raise UserError(
            f"the metastore {layout.metastore} is open in another Spark process (a local dbt build?): "
            "let it finish or stop it, then start the server"
        )
    if layout.bind_host not in {"127.0.0.1", "localhost", "::1"}:
        print(f"server: WARNING: listening on {layout.bind_host} with no authentication; "
              "configure LDAP or Kerberos first (README, 'Safe defaults')", file=sys.stderr)
    settings = server_settings(layout, master)
    command = [str(spark_home() / "bin" / "spark-submit"), "--class", THRIFT_SERVER_CLASS, "--name", "rees46-server"]
    for key, value in settings.items():
        command += ["--conf", f"{key}={value}"]
    command += [
        "spark-internal",
        "--hiveconf", f"hive.server2.thrift.bind.host={layout.bind_host}",
        "--hiveconf", f"hive.server2.thrift.port={layout.thrift_port}",
    ]
    pid = launch(layout, "server", command, {})
    log = layout.log_file("server")
    try:
        wait_until(
            lambda: port_answers(layout.bind_host, layout.thrift_port)
            and port_answers(layout.bind_host, layout.connect_port),
            pid, "the Spark server", log, timeout=float(env("SPARK_SERVER_START_TIMEOUT", "300")),
        )
    except UserError:
        terminate(layout, "server", pid)
        raise
    print(
        f"server: running (pid {pid}, master {settings['spark.master']}): "
        f"thrift jdbc:hive2://{layout.bind_host}:{layout.thrift_port}, "
        f"connect sc://{layout.bind_host}:{layout.connect_port}; log {log}"
    )


def status(layout: Layout) -> int:
    pid = running_pid(layout, "server", THRIFT_SERVER_CLASS)
    if pid is None:
        print("server: not running")
        return 1
    print(f"server: running (pid {pid}): thrift {layout.bind_host}:{layout.thrift_port}, "
          f"connect {layout.bind_host}:{layout.connect_port}")
    return 0


def beeline(layout: Layout, arguments: Iterable[str]) -> int:
    if running_pid(layout, "server", THRIFT_SERVER_CLASS) is None:
        raise UserError("the Spark server is not running: `make server-start` first")
    url = f"jdbc:hive2://{layout.bind_host}:{layout.thrift_port}/default"
    command = [str(spark_home() / "bin" / "beeline"), "-u", url, "-n", env("SPARK_THRIFT_USER", "dbt"),
               "--silent=true", *arguments]
    return subprocess.call(command, env={**os.environ, "SPARK_LOCAL_IP": layout.bind_host})


# --- the standalone cluster ------------------------------------------------------

def alive_workers(layout: Layout) -> int:
    try:
        with urllib.request.urlopen(f"http://{layout.bind_host}:{layout.master_ui_port}/json/", timeout=2) as page:
            return int(json.load(page).get("aliveworkers", 0))
    except (OSError, ValueError):
        return 0


def start_cluster(layout: Layout) -> None:
    require_java()
    if running_pid(layout, "master", MASTER_CLASS) is not None:
        raise UserError("the standalone cluster is already running: `make cluster-stop` stops it")
    for port in (layout.master_port, layout.master_ui_port):
        if port_in_use(layout.bind_host, port):
            raise UserError(f"port {port} on {layout.bind_host} (Spark master) is taken by another program")
    spark_class = str(spark_home() / "bin" / "spark-class")
    daemon_env = {"SPARK_DAEMON_MEMORY": env("SPARK_DAEMON_MEMORY", "512m")}
    master = launch(layout, "master", [
        spark_class, MASTER_CLASS, "--host", layout.bind_host, "--port", str(layout.master_port),
        "--webui-port", str(layout.master_ui_port),
    ], daemon_env)
    wait_until(lambda: port_answers(layout.bind_host, layout.master_port), master,
               "the Spark master", layout.log_file("master"), timeout=120)
    for number in range(1, WORKERS + 1):
        work_dir = layout.run_dir / f"worker-{number}"
        work_dir.mkdir(parents=True, exist_ok=True)
        launch(layout, f"worker-{number}", [
            spark_class, WORKER_CLASS, "--host", layout.bind_host, "--cores", "1",
            "--memory", env("SPARK_WORKER_MEMORY", "3g"), "--webui-port", "0",  # any free port
            "--work-dir", str(work_dir), layout.master_url,
        ], daemon_env)
    wait_until(lambda: alive_workers(layout) >= WORKERS, master, f"{WORKERS} Spark workers",
               layout.log_file("master"), timeout=120)
    print(f"cluster: master {layout.master_url} with {WORKERS} workers of 1 core each")
    try:
        start_server(layout, master=layout.master_url)
    except UserError:
        stop_cluster(layout)
        raise


def stop_cluster(layout: Layout) -> None:
    stop_process(layout, "server", THRIFT_SERVER_CLASS, "server")
    for number in range(1, WORKERS + 1):
        stop_process(layout, f"worker-{number}", WORKER_CLASS, f"worker {number}")
    stop_process(layout, "master", MASTER_CLASS, "master")


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    layout = Layout.from_env()
    action, rest = argv[0], argv[1:]
    try:
        if action == "start":
            start_server(layout)
        elif action == "stop":
            stop_process(layout, "server", THRIFT_SERVER_CLASS, "server")
        elif action == "status":
            return status(layout)
        elif action == "sql":
            return beeline(layout, rest)
        elif action == "cluster-start":
            start_cluster(layout)
        elif action == "cluster-stop":
            stop_cluster(layout)
        else:
            raise UserError(f"unknown action {action!r}; use start, stop, status, sql, cluster-start or cluster-stop")
    except UserError as error:
        print(f"{action}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
