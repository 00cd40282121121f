"""dbt adapter `sparklocal`: dbt-spark with Python models on open-source Spark.

The plugin declares `dependencies=["spark"]`, so dbt loads dbt-spark's macros
too and every `spark__` implementation applies; only the Python-model
submission is added here.
"""

from dbt.adapters.base import AdapterPlugin

from dbt.adapters.sparklocal.connections import SparkLocalCredentials
from dbt.adapters.sparklocal.impl import SparkLocalAdapter
from dbt.include import sparklocal

Plugin = AdapterPlugin(
    adapter=SparkLocalAdapter,  # type: ignore[arg-type]
    credentials=SparkLocalCredentials,
    include_path=sparklocal.PACKAGE_PATH,
    dependencies=["spark"],
)
