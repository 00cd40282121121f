"""The adapter: SparkAdapter with Python-model submission methods for OSS Spark."""

from __future__ import annotations

from typing import Dict, Type

from dbt.adapters.base import PythonJobHelper
from dbt.adapters.spark.impl import SparkAdapter

from dbt.adapters.sparklocal.connections import SparkLocalConnectionManager
from dbt.adapters.sparklocal.python_submissions import (
    SessionPythonJobHelper,
    SparkConnectPythonJobHelper,
)


class SparkLocalAdapter(SparkAdapter):
    ConnectionManager = SparkLocalConnectionManager

    @property
    def default_python_submission_method(self) -> str:
        # With the in-process session method dbt's own SparkSession runs the
        # model; every other method (thrift) reaches the cluster through Spark Connect.
        if self.config.credentials.method == "session":
            return "session"
        return "spark_connect"

    @property
    def python_submission_helpers(self) -> Dict[str, Type[PythonJobHelper]]:
        return {
            "session": SessionPythonJobHelper,
            "spark_connect": SparkConnectPythonJobHelper,
        }
