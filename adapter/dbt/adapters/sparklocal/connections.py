"""Credentials and connection manager: dbt-spark's, under the `sparklocal` type."""

from __future__ import annotations

import datetime as dt
import fcntl
import numbers
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generator, Mapping, Optional, Sequence

from dbt.adapters.contracts.connection import Connection
from dbt.adapters.spark.connections import SparkConnectionManager, SparkCredentials
from dbt_common.exceptions import DbtRuntimeError


@dataclass
class SparkLocalCredentials(SparkCredentials):
    # Spark Connect endpoint (sc://host:port) used to run Python models when dbt
    # itself talks to a Thrift server; unused by the in-process `session` method.
    connect_url: Optional[str] = None

    @property
    def type(self) -> str:
        return "sparklocal"


def escape_spark_string(value: Any) -> Any:
    """Escape a string for the inside of a Spark SQL '...' literal.

    dbt-spark's session cursor wraps string bindings in quotes without escaping
    them, so a seed value such as "Can't Lose Them" breaks the INSERT. Other
    values pass through unchanged.
    """
    if isinstance(value, str):
        return value.replace("\\", "\\\\").replace("'", "\\'")
    return value


def spark_literal(value: Any) -> str:
    """One seed binding written as a Spark SQL literal: None as NULL (dbt-spark
    writes the text 'None'), numbers as numbers, anything else as an escaped
    string (timestamps in the format dbt-spark uses)."""
    if value is None:
        return "null"
    if isinstance(value, numbers.Number):
        return repr(float(value))
    if isinstance(value, dt.datetime):
        return "'" + value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "'"
    return "'" + escape_spark_string(str(value)) + "'"


def inline_bindings(sql: str, bindings: Sequence[Any]) -> str:
    """`sql` with its %s placeholders replaced by the bindings as literals."""
    return sql % tuple(spark_literal(value) for value in bindings)


def derby_metastore(server_side_parameters: Mapping[str, str]) -> Optional[Path]:
    """The folder of the embedded Derby metastore the settings point at, if any."""
    url = server_side_parameters.get("spark.hadoop.javax.jdo.option.ConnectionURL", "")
    match = re.match(r"jdbc:derby:;?databaseName=([^;]+)", url)
    return Path(match.group(1)) if match else None


def derby_in_use(metastore: Path) -> bool:
    """True while another JVM has the Derby database open: Derby holds an
    exclusive lock on dbex.lck for as long as the database is booted."""
    lock = metastore / "dbex.lck"
    if not lock.exists():
        return False
    descriptor = os.open(lock, os.O_RDWR)
    try:
        fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.lockf(descriptor, fcntl.LOCK_UN)
        return False
    finally:
        os.close(descriptor)


def server_run_dir(warehouse: Path) -> Path:
    """Where the project's Spark server (scripts/spark_server.py) keeps its pid
    and log files: beside the metastore, in the warehouse folder."""
    return warehouse / "server"


def server_pid_file(warehouse: Path, process: str = "server") -> Path:
    """The pid file of one process of the project's Spark server: the server
    itself, or a cluster's master or workers (scripts/spark_server.py writes
    them; the adapter reads the server's to name the metastore's holder)."""
    return server_run_dir(warehouse) / f"{process}.pid"


def check_metastore_free(server_side_parameters: Mapping[str, str]) -> None:
    """Fail fast, in one message, when the in-process session could not open
    the metastore because another process holds it (Derby admits one).

    Only called before this process has started its own JVM (see
    session_jvm_running): once it has, the lock is this process's own.
    """
    metastore = derby_metastore(server_side_parameters)
    if metastore is None or not derby_in_use(metastore):
        return
    holder = "another process (a second local dbt build, or a notebook)"
    server_pid = server_pid_file(metastore.parent)
    if server_pid.exists():
        holder = f"the project's Spark server (pid {server_pid.read_text().strip()})"
    raise DbtRuntimeError(
        f"The metastore {metastore} is in use by {holder}; the local target needs it to itself. "
        "Build through the server with `dbt build --target thrift`, or stop it (`make server-stop`) "
        "or wait for the other build to finish."
    )


def session_jvm_running() -> bool:
    """True once this process has started its JVM (a py4j gateway), even if its
    SparkContext was stopped since: Derby stays booted in that JVM, so its lock
    is this process's own."""
    from pyspark import SparkContext

    return SparkContext._gateway is not None or SparkContext._active_spark_context is not None


# Spark names a file it cannot read in FAILED_READ_FILE, deep inside a long
# stack trace; the Java cause ("Unexpected end of input stream" for a truncated
# gzip) comes a few lines later.
_FAILED_READ = re.compile(r"\[FAILED_READ_FILE[A-Z_.]*\][^\n]*?reading file (.+?)\.\s")
_CAUSE = re.compile(r"Caused by: [\w.$]+: ([^\n]+)")


def unreadable_file_message(message: str) -> Optional[str]:
    """One line naming the file Spark could not read, and why, or None when
    `message` is about something else."""
    match = _FAILED_READ.search(message)
    if match is None:
        return None
    path = match.group(1)
    cause = _CAUSE.search(message, match.end())
    why = f" ({cause.group(1).strip()})" if cause else ""
    kind = "truncated or corrupt gzip file" if path.endswith(".gz") else "file"
    return (f"Cannot read {kind} {path}{why}. Replace or remove it and run again;"
            " the statement that failed wrote nothing.")


_silenced_gateway: Any = None


def silence_sketch_memory_warning() -> None:
    """Spark's HyperLogLog sketches (Apache DataSketches) print "Warning: Java
    versions > Java 11 can only operate in restricted mode ..." to the JVM's
    stdout when the class behind them is first loaded: not through log4j, so
    the profile's logging cannot hold it back, and on the local target the
    JVM shares dbt's console. The sketches need no off-heap memory; the class
    is loaded here, once per JVM, with the JVM's output briefly pointed
    elsewhere. Best effort: a Spark without that class has nothing to say."""
    from pyspark import SparkContext

    global _silenced_gateway
    gateway = SparkContext._gateway
    if gateway is None or gateway is _silenced_gateway:
        return
    _silenced_gateway = gateway
    system = gateway.jvm.java.lang.System
    out, err = system.out, system.err
    sink = gateway.jvm.java.io.PrintStream(gateway.jvm.java.io.ByteArrayOutputStream())
    try:
        system.setOut(sink)
        system.setErr(sink)
        gateway.jvm.java.lang.Class.forName("org.apache.datasketches.memory.internal.ResourceImpl")
    except Exception:  # noqa: BLE001 - cosmetic; never fail a statement over it
        pass
    finally:
        system.setOut(out)
        system.setErr(err)


class SparkLocalConnectionManager(SparkConnectionManager):
    TYPE = "sparklocal"

    @classmethod
    def open(cls, connection: Connection) -> Connection:
        credentials = connection.credentials
        if credentials.method == "session" and not session_jvm_running():
            check_metastore_free(credentials.server_side_parameters)
        return super().open(connection)

    def add_query(self, sql: str, auto_begin: bool = True, bindings: Optional[Any] = None,
                  abridge_sql_log: bool = False, *args: Any, **kwargs: Any) -> Any:
        # Only the session method formats bindings into the SQL text itself
        # (PyHive, for thrift, escapes them on its own): write them as literals
        # here, so quotes are escaped and empty seed cells load as NULL.
        session = self.profile.credentials.method == "session"
        if bindings and session:
            sql, bindings = inline_bindings(sql, bindings), None
        result = super().add_query(sql, auto_begin, bindings, abridge_sql_log, *args, **kwargs)
        if session:  # the JVM exists once a statement ran
            silence_sketch_memory_warning()
        return result

    @contextmanager
    def exception_handler(self, sql: str) -> Generator[None, None, None]:
        # dbt-spark passes Spark's whole error text on; a file Spark cannot
        # read becomes one line naming it (the full text stays in dbt's debug log).
        try:
            with super().exception_handler(sql):
                yield
        except DbtRuntimeError as error:
            clear = unreadable_file_message(str(error))
            if clear is None:
                raise
            raise DbtRuntimeError(clear) from error
