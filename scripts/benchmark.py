"""Benchmark: generate EVENTS events, run `dbt build` on them, write the numbers.

    .venv/bin/python scripts/benchmark.py [--events 67500000] [--keep-data]

Everything lives under warehouse/benchmark/ (ignored by git): the raw files, a
warehouse of its own and dbt's target folder. Results are written to
benchmarks/results/<UTC time>-<events>.json and .md: generation seconds, dbt
build seconds, the slowest models, peak memory of dbt and its Spark JVM, and
row counts of the main tables.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "warehouse" / "benchmark"
RESULTS = ROOT / "benchmarks" / "results"
COUNTED_TABLES = [
    "rees46_staging.stg_events",
    "rees46_staging.stg_events_quarantine",
    "rees46_marts.fct_sessions",
    "rees46_marts.mart_user_rfm",
    "rees46_marts.mart_user_segments",
    "rees46_ml.ml_cart_training_set",
    "rees46_ml.ml_purchase_predictions",
]


def tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants, in kB (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
        stack.extend(children.get(current, []))
    return total


def run_measured(command: list[str], env: dict[str, str], log_path: Path) -> tuple[float, int, int]:
    """Run a command; return (seconds, exit code, peak tree RSS in kB)."""
    peak = 0
    started = time.monotonic()
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, tree_rss_kb(process.pid))
                done.wait(1.0)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = process.wait()
        done.set()
        sampler.join()
    return time.monotonic() - started, code, peak


def count_rows(env: dict[str, str]) -> dict[str, int]:
    """Row counts of the main tables, read through the benchmark's own metastore."""
    script = (
        "import json, os\n"
        "from pyspark.sql import SparkSession\n"
        "w = os.environ['REES46_WAREHOUSE_DIR']\n"
        "spark = (SparkSession.builder.enableHiveSupport()\n"
        "  .config('spark.sql.warehouse.dir', w + '/spark-warehouse')\n"
        "  .config('spark.hadoop.javax.jdo.option.ConnectionURL', f'jdbc:derby:;databaseName={w}/metastore_db')\n"
        "  .config('spark.ui.enabled', 'false').getOrCreate())\n"
        f"tables = {COUNTED_TABLES!r}\n"
        "print(json.dumps({t: spark.table(t).count() for t in tables}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=67_500_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep-data", action="store_true", help="reuse raw files from an earlier run of the same size")
    args = parser.parse_args()

    raw, warehouse, target = BENCH / "raw", BENCH / "warehouse", BENCH / "target"
    marker = BENCH / "raw.events"
    if not (args.keep_data and marker.exists() and marker.read_text() == str(args.events)):
        shutil.rmtree(raw, ignore_errors=True)
    shutil.rmtree(warehouse, ignore_errors=True)
    BENCH.mkdir(parents=True, exist_ok=True)

    env = dict(os.environ, DBT_PROFILES_DIR=str(ROOT / "profiles"), REES46_WAREHOUSE_DIR=str(warehouse),
               REES46_RAW_DIR=str(raw), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    bin_dir = Path(sys.executable).parent
    generate_seconds, code, generate_rss = run_measured(
        [sys.executable, "-m", "datagen", "--out", str(raw), "--events", str(args.events),
         "--seed", str(args.seed), "--if-empty"], env, BENCH / "generate.log")
    if code != 0:
        print(f"generation failed, see {BENCH / 'generate.log'}", file=sys.stderr)
        return code
    marker.write_text(str(args.events))
    raw_bytes = sum(p.stat().st_size for p in raw.glob("*.csv*"))

    build_seconds, code, build_rss = run_measured(
        [str(bin_dir / "dbt"), "build", "--target-path", str(target), "--log-path", str(BENCH / "logs")],
        env, BENCH / "dbt_build.log")
    run_results = json.loads((target / "run_results.json").read_text()) if (target / "run_results.json").exists() else {"results": []}
    timings = sorted(
        ({"node": r["unique_id"], "status": r["status"], "seconds": round(r["execution_time"], 1)}
         for r in run_results["results"]),
        key=lambda r: -r["seconds"],
    )
    failures = [t for t in timings if t["status"] not in ("success", "pass")]
    result = {
        "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "driver_memory": os.environ.get("SPARK_DRIVER_MEMORY", "12g")},
        "events_requested": args.events,
        "raw_bytes": raw_bytes,
        "generate_seconds": round(generate_seconds, 1),
        "generate_peak_rss_mb": round(generate_rss / 1024),
        "dbt_build_seconds": round(build_seconds, 1),
        "dbt_build_exit_code": code,
        "dbt_build_peak_rss_mb": round(build_rss / 1024),
        "nodes": len(timings),
        "failures": failures,
        "slowest_nodes": timings[:15],
        "rows": count_rows(env) if code == 0 else {},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M}Z-{args.events}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Benchmark {result['measured_at']}: {args.events:,} events requested",
        "",
        f"- raw: {raw_bytes / 1e9:.2f} GB; generation {result['generate_seconds']} s, peak {result['generate_peak_rss_mb']} MB",
        f"- `dbt build`: {result['dbt_build_seconds']} s, exit {code}, {len(timings)} nodes, "
        f"peak RSS of dbt + Spark JVM {result['dbt_build_peak_rss_mb']} MB",
        "",
        "| table | rows |", "|---|---|",
        *[f"| {table} | {rows:,} |" for table, rows in result["rows"].items()],
        "", "| slowest node | seconds |", "|---|---|",
        *[f"| {t['node']} | {t['seconds']} |" for t in timings[:15]],
    ]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    sys.exit(main())
