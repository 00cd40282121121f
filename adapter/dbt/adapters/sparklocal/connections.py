"""Credentials and connection manager: dbt-spark's, under the `sparklocal` type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from dbt.adapters.spark.connections import SparkConnectionManager, SparkCredentials


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


class SparkLocalConnectionManager(SparkConnectionManager):
    TYPE = "sparklocal"

    def add_query(self, sql: str, auto_begin: bool = True, bindings: Optional[Any] = None,
                  abridge_sql_log: bool = False, *args: Any, **kwargs: Any) -> Any:
        # Only the session method formats bindings into the SQL text itself;
        # PyHive (thrift) escapes them on its own.
        if bindings and self.profile.credentials.method == "session":
            bindings = [escape_spark_string(value) for value in bindings]
        return super().add_query(sql, auto_begin, bindings, abridge_sql_log, *args, **kwargs)
