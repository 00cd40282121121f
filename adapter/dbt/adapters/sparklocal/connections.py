"""Credentials and connection manager: dbt-spark's, under the `sparklocal` type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from dbt.adapters.spark.connections import SparkConnectionManager, SparkCredentials


@dataclass
class SparkLocalCredentials(SparkCredentials):
    # Spark Connect endpoint (sc://host:port) used to run Python models when dbt
    # itself talks to a Thrift server; unused by the in-process `session` method.
    connect_url: Optional[str] = None

    @property
    def type(self) -> str:
        return "sparklocal"


class SparkLocalConnectionManager(SparkConnectionManager):
    TYPE = "sparklocal"
