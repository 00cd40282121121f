"""Drive scripts/spark_server.py and the `thrift` target from tests.

Each server or cluster the tests start gets its own scratch warehouse and free
ports, so a developer's own `make server-start` on the default ports does not
get in the way, and every test stops what it started.
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from dbt_harness import PROJECT_ROOT, SKETCH_BOUND, is_approximate, is_sketch

SERVER_SCRIPT = PROJECT_ROOT / "scripts" / "spark_server.py"
# Servers, clusters and the dbt processes that talk to them run in a time zone
# eight hours off UTC (the tests' own process runs in UTC): what they build is
# compared with the local target's, so a timestamp that depends on the
# machine's zone shows up as a difference.
SERVER_TIME_ZONE = "America/Los_Angeles"


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ServerEnv:
    """Environment of one scratch server: warehouse, ports, small memory."""

    warehouse: Path
    ports: dict[str, int] = field(default_factory=lambda: {
        name: free_port() for name in
        ("SPARK_THRIFT_PORT", "SPARK_CONNECT_PORT", "SPARK_MASTER_PORT", "SPARK_MASTER_WEBUI_PORT")
    })

    def environ(self, **extra: str) -> dict[str, str]:
        environ = {
            **os.environ,
            "REES46_WAREHOUSE_DIR": str(self.warehouse),
            "DBT_PROFILES_DIR": str(PROJECT_ROOT / "profiles"),
            "SPARK_SERVER_DRIVER_MEMORY": "3g",
            "SPARK_EXECUTOR_MEMORY": "1500m",
            "SPARK_WORKER_MEMORY": "2g",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TZ": SERVER_TIME_ZONE,
            **{name: str(port) for name, port in self.ports.items()},
            **extra,
        }
        return environ

    def script(self, *args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(SERVER_SCRIPT), *args], env=self.environ(**extra),
            capture_output=True, text=True, timeout=900,
        )

    def dbt(self, *args: str, schema: str, raw_dir: Path, work_dir: Path, **extra: str) -> subprocess.CompletedProcess:
        command, environment = self.dbt_command(*args, schema=schema, raw_dir=raw_dir, work_dir=work_dir, **extra)
        return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=1800,
                              cwd=PROJECT_ROOT)

    def dbt_started(self, *args: str, schema: str, raw_dir: Path, work_dir: Path, **extra: str) -> subprocess.Popen:
        """`dbt` as a process that runs on while the caller does other things
        (its output, stderr included, in `stdout`)."""
        command, environment = self.dbt_command(*args, schema=schema, raw_dir=raw_dir, work_dir=work_dir, **extra)
        return subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, cwd=PROJECT_ROOT)

    def dbt_command(self, *args: str, schema: str, raw_dir: Path, work_dir: Path, **extra: str):
        dbt = Path(sys.executable).parent / "dbt"
        return ([str(dbt), *args, "--project-dir", str(PROJECT_ROOT),
                 "--target-path", str(work_dir / "target"), "--log-path", str(work_dir / "logs")],
                self.environ(REES46_SCHEMA=schema, REES46_RAW_DIR=str(raw_dir), **extra))

    def pid(self, name: str = "server") -> int:
        from dbt.adapters.sparklocal.connections import server_pid_file

        return int(server_pid_file(self.warehouse, name).read_text())

    def hive(self):
        from pyhive import hive

        return hive.connect(host="127.0.0.1", port=self.ports["SPARK_THRIFT_PORT"], username="analyst")

    def query(self, sql: str) -> list[tuple]:
        with closing(self.hive()) as connection, closing(connection.cursor()) as cursor:
            cursor.execute(sql)
            return cursor.fetchall()


# --- listening sockets, read from /proc (no extra dependency) ----------------

def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for descriptor in Path(f"/proc/{pid}/fd").glob("*"):
        try:
            target = os.readlink(descriptor)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


def _address(hex_address: str) -> tuple[str, int]:
    host_hex, port_hex = hex_address.split(":")
    raw = bytes.fromhex(host_hex)
    if len(raw) == 4:
        host = socket.inet_ntop(socket.AF_INET, raw[::-1])
    else:  # /proc/net/tcp6 stores four little-endian 32-bit words
        words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
        host = socket.inet_ntop(socket.AF_INET6, words)
    return host, int(port_hex, 16)


def listening_addresses(pids: Iterable[int]) -> set[tuple[str, int]]:
    """(host, port) of every TCP socket in LISTEN state held by `pids`."""
    inodes = set().union(*(_socket_inodes(pid) for pid in pids))
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if parts[3] == "0A" and parts[9] in inodes:  # 0A = LISTEN
                listening.add(_address(parts[1]))
    return listening


def is_loopback(host: str) -> bool:
    return host in {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


# --- comparing marts between targets ---------------------------------------

# Columns that hold when the build ran: they differ between any two builds.
BUILD_STAMPS = {"loaded_at"}
NUMERIC = ("int", "bigint", "smallint", "tinyint", "double", "float", "decimal")


def fingerprint_sql(table: str, columns: list[tuple[str, str]]) -> tuple[str, list[float]]:
    """Row count, the sum of every numeric column, of every timestamp (as
    microseconds since the epoch) and date (as days), the sum of the
    estimates of every sketch, and the distinct count of every other column,
    in one query that runs the same on both targets; with each figure's
    relative tolerance (the sketches' bound for approximate columns)."""
    parts, tolerances = ["count(*)"], [0.0]
    for name, kind in columns:
        kind = kind.lower()
        if is_sketch(name, kind):
            parts.append(f"sum(hll_sketch_estimate(`{name}`))")
        elif kind.startswith(NUMERIC):
            parts.append(f"sum(cast(`{name}` as double))")
        elif kind.startswith("timestamp") and name not in BUILD_STAMPS:  # instants, not text in a zone
            parts.append(f"sum(cast(unix_micros(`{name}`) as decimal(38, 0)))")
        elif kind == "date":
            parts.append(f"sum(unix_date(`{name}`))")
        else:
            parts.append(f"count(distinct `{name}`)")
        tolerances.append(SKETCH_BOUND if is_approximate(name, kind) else 0.0)
    return f"select {', '.join(parts)} from {table}", tolerances


def figures_match(left: Iterable[Any], right: Iterable[Any], tolerances: Iterable[float]) -> bool:
    """Equal within each figure's relative tolerance; floats at least within
    1e-9 relative (sums of doubles depend on the order the partitions are
    added in)."""
    for a, b, tolerance in zip(left, right, tolerances, strict=True):
        if a is None or b is None:
            if a is not b:
                return False
        elif isinstance(a, float) or isinstance(b, float) or tolerance:
            if not math.isclose(float(a), float(b), rel_tol=max(tolerance, 1e-9), abs_tol=1e-9):
                return False
        elif a != b:
            return False
    return True
