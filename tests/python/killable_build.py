"""One build of the kill-anywhere test, in a process of its own (the test kills
it): `python killable_build.py '<json spec>'`.

1. opens the local target's Spark session on the spec's warehouse and queries
   each relation in `check` (a missing or unreadable one is reported);
2. prints one JSON line {"unqueryable": [...], "utc_offset": <seconds>} and
   then "building";
3. runs `dbt <args>` in this process (the test may SIGKILL it from here on);
4. after a finished build, prints {"built": [...]} (its seed, staging and mart
   relations), writes each relation in `export` as Parquet under `export_dir`
   (without `loaded_at`, the build's own stamp) and prints "done".
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dbt_harness import PROJECT_ROOT, DbtScenario, configure_process  # noqa: E402


def open_session():
    """The session the local target would open (dbt's session cursor then reuses it)."""
    from pyspark.sql import SparkSession

    spec = importlib.util.spec_from_file_location("spark_server", PROJECT_ROOT / "scripts" / "spark_server.py")
    server = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = server  # its dataclasses look their module up
    spec.loader.exec_module(server)
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in server.local_target_settings(server.Layout.from_env()).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def unqueryable(spark, relations: list[str]) -> list[str]:
    failed = []
    for relation in relations:
        try:
            spark.sql(f"select * from {relation} limit 1").collect()
        except Exception as error:  # any failure to read counts; the message says which
            failed.append(f"{relation}: {str(error).splitlines()[0]}")
    return failed


def main(spec: dict) -> None:
    configure_process(Path(spec["warehouse"]))
    spark = open_session()
    # the machine's UTC offset, so the test can tell this process ran in the time zone it set
    print(json.dumps({"unqueryable": unqueryable(spark, spec["check"]), "utc_offset": time.localtime().tm_gmtoff}),
          flush=True)
    print("building", flush=True)
    # every build of the test shares one target folder: the first one parses,
    # the others reuse its parse (a parse killed half-way is redone)
    scenario = DbtScenario(name=spec["name"], raw_dir=Path(spec["raw_dir"]), work_dir=Path(spec["work_dir"]))
    scenario.dbt(*spec["args"])
    built = [f"{scenario.schema}_{layer}.{row.tableName}" for layer in ("reference", "staging", "marts")
             for row in spark.sql(f"show tables in {scenario.schema}_{layer}").collect() if not row.isTemporary]
    print(json.dumps({"built": sorted(built)}), flush=True)
    for relation in spec.get("export", []):
        frame = spark.table(relation)
        frame.drop(*[c for c in frame.columns if c == "loaded_at"]).write.mode("overwrite").parquet(
            str(Path(spec["export_dir"]) / relation))
    print("done", flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
