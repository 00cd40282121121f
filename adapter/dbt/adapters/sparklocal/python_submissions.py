"""Run a compiled dbt Python model against a SparkSession.

dbt-spark compiles a Python model into a script that expects a global `spark`
(as on a Databricks notebook) and ends with `df.write...saveAsTable(...)`.
These helpers supply that global and execute the script in this process.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from typing import Any, Dict, Iterator

from dbt.adapters.base import PythonJobHelper
from dbt.adapters.events.logging import AdapterLogger
from dbt_common.exceptions import DbtRuntimeError

from dbt.adapters.sparklocal.connections import SparkLocalCredentials

# Python loggers whose INFO and higher records a model's run shows in dbt's
# console and log: the project's `ml` package says there what it trains and
# why. Other libraries' loggers are left alone.
FORWARDED_LOGGERS = ("ml",)

# The model each dbt worker thread is running (dbt runs models in threads).
_running = threading.local()
# How many models are running now: while any is, the forwarded loggers do not
# also pass their records to the root logger, whose handler (if a library set
# one up) would print each line a second time in dbt's output.
_models_running = 0
_models_running_lock = threading.Lock()


class _ToDbt(logging.Handler):
    """Sends a record to dbt's log, prefixed with the model its thread runs;
    records from threads that run no model are left to Python's defaults."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.dbt_logger = AdapterLogger("sparklocal")

    def emit(self, record: logging.LogRecord) -> None:
        model_name = getattr(_running, "model_name", None)
        message = f"{model_name}: {record.getMessage()}"
        if record.levelno >= logging.WARNING:
            self.dbt_logger.warning(message)
        else:
            self.dbt_logger.info(message)


class _InModel(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(_running, "model_name", None) is not None


def _install_forwarding() -> None:
    handler = _ToDbt()
    handler.addFilter(_InModel())
    for name in FORWARDED_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
        logger.addHandler(handler)


_install_forwarding()


@contextmanager
def forwarded_logs(model_name: str) -> Iterator[None]:
    """The FORWARDED_LOGGERS' records of this thread go to dbt's log while
    the block runs, prefixed with `model_name`."""
    global _models_running
    _running.model_name = model_name
    with _models_running_lock:
        _models_running += 1
        _set_propagation(False)
    try:
        yield
    finally:
        _running.model_name = None
        with _models_running_lock:
            _models_running -= 1
            if _models_running == 0:
                _set_propagation(True)


def _set_propagation(propagate: bool) -> None:
    for name in FORWARDED_LOGGERS:
        logging.getLogger(name).propagate = propagate


def run_compiled_model(compiled_code: str, spark: Any, model_name: str) -> None:
    """Execute the compiled model with `spark` bound, as a notebook would."""
    namespace: Dict[str, Any] = {"spark": spark, "__name__": f"dbt_python_model_{model_name}"}
    with forwarded_logs(model_name):
        exec(compile(compiled_code, f"<dbt python model {model_name}>", "exec"), namespace)


class SessionPythonJobHelper(PythonJobHelper):
    """Runs the model in dbt's own in-process SparkSession (`method: session`)."""

    def __init__(self, parsed_model: Dict, credentials: SparkLocalCredentials) -> None:
        if credentials.method != "session":
            raise DbtRuntimeError(
                "submission_method 'session' needs the profile's `method: session`; "
                "use 'spark_connect' for a Thrift server target"
            )
        self.model_name = parsed_model["alias"]
        self.server_side_parameters = credentials.server_side_parameters

    def submit(self, compiled_code: str) -> None:
        from pyspark.sql import SparkSession

        # The same builder calls as dbt-spark's session cursor, so getOrCreate()
        # returns the session dbt's SQL already runs in (one Derby metastore).
        builder = SparkSession.builder.enableHiveSupport()
        for key, value in self.server_side_parameters.items():
            builder = builder.config(key, value)
        run_compiled_model(compiled_code, builder.getOrCreate(), self.model_name)


class SparkConnectPythonJobHelper(PythonJobHelper):
    """Runs the model through Spark Connect against the server dbt's SQL uses.

    The server's defaults already match the local target (scripts/spark_server.py
    starts it with the local target's settings, UTC included); the profile's
    `server_side_parameters` (dbt-spark adds ANSI mode off to them) are set on
    the Connect session too, as dbt-spark sets them on its Thrift sessions, so
    SQL and Python models run under the same settings.
    """

    def __init__(self, parsed_model: Dict, credentials: SparkLocalCredentials) -> None:
        if not credentials.connect_url:
            raise DbtRuntimeError(
                "Python models on this target need `connect_url: sc://host:port` in the profile"
            )
        self.model_name = parsed_model["alias"]
        self.connect_url = credentials.connect_url
        self.server_side_parameters = dict(credentials.server_side_parameters)

    def session(self) -> Any:
        from pyspark.sql import SparkSession

        try:
            spark = SparkSession.builder.remote(self.connect_url).getOrCreate()
            for key, value in self.server_side_parameters.items():
                spark.conf.set(key, value)
        except Exception as error:  # grpc and Spark errors: say where, keep the cause
            raise DbtRuntimeError(
                f"cannot prepare a Spark Connect session at {self.connect_url} for {self.model_name}: "
                f"{str(error).splitlines()[0] if str(error) else type(error).__name__} "
                "(is the server running? `make server-start`)"
            ) from error
        return spark

    def submit(self, compiled_code: str) -> None:
        run_compiled_model(compiled_code, self.session(), self.model_name)
