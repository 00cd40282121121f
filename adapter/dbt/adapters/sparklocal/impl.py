"""The adapter: SparkAdapter with Python-model submission methods for OSS Spark."""

from __future__ import annotations

import os
import re
import socket
from typing import Any, Dict, Iterable, Optional, Type

from dbt.adapters.base import BaseRelation, PythonJobHelper, available
from dbt.adapters.spark.column import SparkColumn
from dbt.adapters.spark.impl import SparkAdapter

from dbt.adapters.sparklocal.connections import SparkLocalConnectionManager
from dbt.adapters.sparklocal.python_submissions import (
    SessionPythonJobHelper,
    SparkConnectPythonJobHelper,
)


# The build table a table model's view reads (the view text written by the
# table materialization in include/sparklocal/macros/atomic_table.sql).
BUILD_TABLE_IN_VIEW_TEXT = re.compile(r"(\w+__builds)\.(\w+__build_[0-9a-f]+)")


class SparkLocalAdapter(SparkAdapter):
    ConnectionManager = SparkLocalConnectionManager

    def _get_columns_for_catalog(self, relation: BaseRelation) -> Iterable[Dict[str, Any]]:
        """Catalog columns; a table model's view shows its build table's size and
        row count, which is what `dbt docs` readers take the model to be."""
        build_stats = self._build_table_stats(relation)
        for column in super()._get_columns_for_catalog(relation):
            yield {**column, **build_stats}

    def _build_table_stats(self, relation: BaseRelation) -> Dict[str, Any]:
        if not relation.is_view:
            return {}
        found = BUILD_TABLE_IN_VIEW_TEXT.search(getattr(relation, "information", None) or "")
        if not found:
            return {}
        schema, table = found.groups()
        _, rows = self.execute(f"show table extended in {schema} like '{table}'", fetch=True)
        for row in rows:
            stats = re.search(self.INFORMATION_STATISTICS_REGEX, row["information"])
            if stats:
                return SparkColumn.convert_table_stats(stats.group(1))
        return {}

    @available
    def this_process(self) -> Dict[str, str]:
        """The host and pid of this dbt process: what the build lock
        (macros/build_lock.sql) says about the build holding it."""
        return {"host": socket.gethostname(), "pid": str(os.getpid())}

    @available
    def process_is_running(self, host: str, pid: str) -> Optional[bool]:
        """Whether process `pid` runs on `host`; None when `host` is another
        machine (there is no knowing)."""
        if host != socket.gethostname():
            return None
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # someone else's process: it runs
            return True
        return True

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
