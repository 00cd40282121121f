"""Benchmark: a full refresh of a month, then a one-day incremental refresh,
against plain PySpark and DuckDB on the same raw files.

    .venv/bin/python scripts/benchmark.py --events 10000000 [--keep-data] [--skip-references]
    .venv/bin/python scripts/benchmark.py --update-readme     (only rewrite README.md's benchmark block)

For EVENTS events a month it generates (or, with --keep-data, reuses) daily
files for November 2019 plus the file of 1 December (the day added), then:

1. `dbt build --full-refresh` over November: every model, test and ML model;
2. adds the 1 December file and runs `dbt build` (incremental);
3. times the reference implementations (benchmarks/reference) on the November
   files: staging parse + de-duplication, the daily funnel, RFM and user
   z-scores, and compares their figures with the project's tables.

It records wall time per dbt node (run_results.json), total wall time, peak
resident memory of the process tree, peak scratch disk (growth of the used
space on the warehouse's file system), events per second, and the machine's
cores and memory. Results go to benchmarks/results/benchmark-<events>.json and .md
(the latest run per size), with the exact commands; then README.md's benchmark
block is rewritten from all the results files (scripts/benchmark_readme.py).
Everything it writes besides the results lives under warehouse/benchmark/
(ignored by git).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import benchmark_readme  # noqa: E402

REFERENCES = ROOT / "benchmarks" / "reference"

BENCH = ROOT / "warehouse" / "benchmark"
RESULTS = ROOT / "benchmarks" / "results"
SCHEMA = "rees46"
ADDED_DAY_FILE = "2019-Dec-01.csv"
# The project's models that produce what the references produce: staging parse
# + de-duplication, the daily funnel, RFM and the user z-scores (with the event
# fact and the user-day aggregate they are built from).
REFERENCE_EQUIVALENT_NODES = [
    "model.rees46.base_rees46__event_lines",
    "model.rees46.stg_events",
    "model.rees46.fct_events",
    "model.rees46.fct_user_daily_activity",
    "model.rees46.mart_funnel_daily",
    "model.rees46.mart_user_rfm",
    "model.rees46.mart_user_segments",
]
# Buyers per score and per segment in mart_user_rfm (figure -> column), compared
# with the reference jobs' figures of the same names.
RFM_COUNTED_COLUMNS = {
    "rfm_r_score_counts": "r_score",
    "rfm_f_score_counts": "f_score",
    "rfm_m_score_counts": "m_score",
    "rfm_segment_counts": "rfm_segment",
    "rfm_score_counts": "rfm_score",
}
COUNTED_TABLES = [
    "rees46_staging.base_rees46__event_lines", "rees46_staging.stg_events_quarantine", "rees46_marts.fct_events",
    "rees46_marts.fct_sessions", "rees46_marts.fct_user_daily_activity", "rees46_marts.fct_product_dimension_daily",
    "rees46_marts.fct_product_daily_activity", "rees46_marts.fct_cart_outcomes", "rees46_marts.mart_user_rfm",
    "rees46_marts.mart_user_segments", "rees46_ml.ml_purchase_training_set", "rees46_ml.ml_cart_training_set",
    "rees46_ml.ml_purchase_predictions", "rees46_ml.ml_cart_predictions",
]


# --- measuring ------------------------------------------------------------------

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


def run_measured(command: list[str], env: dict[str, str], log_path: Path) -> dict:
    """Run a command; return seconds, exit code, peak tree RSS and peak disk growth."""
    peak_rss, peak_disk = 0, 0
    disk_before = shutil.disk_usage(BENCH).used
    started = time.monotonic()
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak_rss, peak_disk
            while not done.is_set():
                peak_rss = max(peak_rss, tree_rss_kb(process.pid))
                peak_disk = max(peak_disk, shutil.disk_usage(BENCH).used - disk_before)
                done.wait(1.0)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = process.wait()
        done.set()
        sampler.join()
    return {
        "seconds": round(time.monotonic() - started, 1),
        "exit_code": code,
        "peak_rss_mb": round(peak_rss / 1024),
        "peak_scratch_disk_gb": round(peak_disk / 1e9, 2),
    }


def node_seconds(target: Path) -> list[dict]:
    path = target / "run_results.json"
    results = json.loads(path.read_text())["results"] if path.exists() else []
    return sorted(
        ({"node": r["unique_id"], "status": r["status"], "seconds": round(r["execution_time"], 1)} for r in results),
        key=lambda r: -r["seconds"],
    )


def dbt_run(name: str, args: list[str], env: dict[str, str]) -> dict:
    """One measured dbt invocation with its own target folder and log."""
    target = BENCH / f"target_{name}"
    shutil.rmtree(target, ignore_errors=True)
    command = [str(Path(sys.executable).parent / "dbt"), *args,
               "--target-path", str(target), "--log-path", str(BENCH / f"logs_{name}")]
    log = BENCH / f"dbt_{name}.log"
    measured = run_measured(command, env, log)
    nodes = node_seconds(target)
    # the threads dbt ran with, as it reports them ("Concurrency: 2 threads (target='local')")
    concurrency = re.search(r"Concurrency: (\d+) threads?", log.read_text(errors="replace"))
    by_type: dict[str, float] = {}
    for node in nodes:
        kind = node["node"].split(".")[0]
        by_type[kind] = round(by_type.get(kind, 0.0) + node["seconds"], 1)
    return {
        "command": "dbt " + " ".join(args),
        "total_seconds": measured["seconds"],
        "exit_code": measured["exit_code"],
        "peak_rss_mb": measured["peak_rss_mb"],
        "peak_scratch_disk_gb": measured["peak_scratch_disk_gb"],
        "seconds_by_resource_type": by_type,
        "threads": int(concurrency.group(1)) if concurrency else None,
        "failures": [n for n in nodes if n["status"] not in ("success", "pass", "no-op")],
        "nodes": nodes,
    }


# --- the project's own figures, to compare with the references ---------------------

def project_figures(env: dict[str, str]) -> dict:
    """Row counts of the main tables and the figures the references report,
    read through the benchmark's own metastore (after the full refresh)."""
    out = subprocess.run([sys.executable, "-c", project_figures_script()], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def project_figures_script() -> str:
    """The Python run by project_figures (its own Spark session on the benchmark's
    metastore); its last line of output is {"rows": ..., "figures": ...}."""
    return f"""
import json, os
from pyspark.sql import SparkSession
w = os.environ['REES46_WAREHOUSE_DIR']
spark = (SparkSession.builder.enableHiveSupport()
  .config('spark.sql.warehouse.dir', w + '/spark-warehouse')
  .config('spark.hadoop.javax.jdo.option.ConnectionURL', f'jdbc:derby:;databaseName={{w}}/metastore_db')
  .config('spark.sql.session.timeZone', 'UTC').config('spark.ui.enabled', 'false').getOrCreate())
spark.sparkContext.setLogLevel('ERROR')
one = lambda q: spark.sql(q).collect()[0]
# a table the models no longer build is counted as None, not a crash after the full refresh
rows = {{t: spark.table(t).count() if spark.catalog.tableExists(t) else None for t in {COUNTED_TABLES!r}}}
f = one('''select count(*) staged_events, sum(source_row_count) source_rows from {SCHEMA}_marts.fct_events''').asDict()
f['quarantined_lines'] = one('select count(*) from {SCHEMA}_staging.stg_events_quarantine')[0]
f.update(one('''select sum(views) views, sum(carts) carts, sum(purchases) purchases,
  sum(remove_from_carts) remove_from_carts, cast(sum(revenue) as string) revenue, count(*) days,
  sum(sessions) sessions from {SCHEMA}_marts.mart_funnel_daily''').asDict())
f.update(one('''select count(*) rfm_users, sum(frequency) rfm_frequency_sum,
  cast(sum(monetary) as string) rfm_monetary_sum, sum(recency_days) rfm_recency_sum,
  sum(r_score) rfm_r_score_sum, sum(f_score) rfm_f_score_sum, sum(m_score) rfm_m_score_sum
  from {SCHEMA}_marts.mart_user_rfm''').asDict())
def counts(column):  # buyers per value, keyed by the value as text ("null" for null), as the references do
  rows = spark.sql(f'select {{column}} v, count(*) n from {SCHEMA}_marts.mart_user_rfm group by 1').collect()
  return dict(sorted(('null' if r.v is None else str(r.v), r.n) for r in rows))
for name, column in {RFM_COUNTED_COLUMNS!r}.items():
  f[name] = counts(column)
f['zscore_users'] = one('select count(*) from {SCHEMA}_marts.mart_user_segments')[0]
print(json.dumps({{'rows': rows, 'figures': f}}, default=str))
"""


COMPARED_FIGURES = ["staged_events", "source_rows", "quarantined_lines", "views", "carts", "purchases",
                    "remove_from_carts", "revenue", "days", "sessions", "rfm_users", "rfm_frequency_sum",
                    "rfm_monetary_sum", "rfm_recency_sum", "rfm_r_score_sum", "rfm_f_score_sum",
                    "rfm_m_score_sum", *RFM_COUNTED_COLUMNS, "zscore_users"]


def comparable(value) -> str:
    """A figure as text: dicts (value -> buyers) with sorted keys, so key order never
    counts as a difference; everything else as str() (figures read back from JSON)."""
    if isinstance(value, dict):
        return json.dumps({str(k): v for k, v in value.items()}, sort_keys=True, default=str)
    return str(value)


def compare_figures(project: dict, reference: dict) -> dict[str, list]:
    """Figures that differ between the project and a reference: name -> [project, reference]."""
    return {k: [project.get(k), reference.get(k)] for k in COMPARED_FIGURES
            if comparable(project.get(k)) != comparable(reference.get(k))}


# --- data -------------------------------------------------------------------------

def prepare_data(events: int, seed: int, keep: bool) -> tuple[Path, Path, dict]:
    """November as daily files in raw/, the 1 December file aside, and the
    numbers of data rows of each (kept in a marker file for --keep-data)."""
    from datagen import generate

    raw, added = BENCH / "raw", BENCH / "added_day"
    marker = BENCH / "raw.json"
    wanted = {"events": events, "seed": seed}
    if keep and marker.exists() and (added / ADDED_DAY_FILE).exists():
        known = json.loads(marker.read_text())
        if {k: known.get(k) for k in wanted} == wanted:
            for path in raw.glob("2019-Dec-*.csv"):
                path.unlink()  # left by an interrupted incremental run
            return raw, added, known
    for folder in (raw, added):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    # Two months with one population, so that 1 December continues November's
    # users; only its first day is kept.
    result = generate(raw, events=events, seed=seed, months=[(2019, 11), (2019, 12)], daily_files=True)
    rows = dict(zip((f.name for f in result.files), result.rows_per_file, strict=True))
    (raw / ADDED_DAY_FILE).rename(added / ADDED_DAY_FILE)
    for path in raw.glob("2019-Dec-*.csv"):
        path.unlink()
    known = wanted | {"november_rows": sum(n for name, n in rows.items() if name.startswith("2019-Nov")),
                      "added_rows": rows[ADDED_DAY_FILE], "generate_seconds": round(result.seconds, 1)}
    marker.write_text(json.dumps(known))
    return raw, added, known


def machine() -> dict:
    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                     if line.startswith("MemTotal:"))
    return {"cores": os.cpu_count(), "memory_gb": round(memory_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "driver_memory": os.environ.get("SPARK_DRIVER_MEMORY", "12g")}


# --- main ------------------------------------------------------------------------

def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=67_500_000, help="events in November (default 67.5 M)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep-data", action="store_true", help="reuse raw files of an earlier run of the same size")
    parser.add_argument("--skip-references", action="store_true", help="do not time PySpark and DuckDB")
    parser.add_argument("--threads", type=int, default=None,
                        help="dbt threads (env DBT_THREADS; default: the profile's)")
    parser.add_argument("--results-name", default=None,
                        help="write benchmarks/results/<name>.json/.md instead of benchmark-<events> "
                             "(an experiment; the README block reads only benchmark-<events>)")
    parser.add_argument("--update-readme", action="store_true",
                        help="only rewrite README.md's benchmark block from benchmarks/results/ (no benchmark)")
    args = parser.parse_args(argv)
    if args.update_readme:
        return benchmark_readme.main([])

    # what is measured: the commit checked out, and whether the working tree differs from it
    # (results files and the README block this script wrote in an earlier run
    # are not a change to what is measured)
    commit = git("rev-parse", "--short", "HEAD") or None
    uncommitted = bool(git("status", "--porcelain", "--", ".", ":(exclude)benchmarks/results",
                           ":(exclude)README.md"))

    BENCH.mkdir(parents=True, exist_ok=True)
    raw, added, data = prepare_data(args.events, args.seed, args.keep_data)
    warehouse = BENCH / "warehouse"
    shutil.rmtree(warehouse, ignore_errors=True)
    november_files = sorted(raw.glob("*.csv"))
    raw_bytes = sum(p.stat().st_size for p in november_files)
    events = data["november_rows"]

    env = dict(os.environ, DBT_PROFILES_DIR=str(ROOT / "profiles"), REES46_WAREHOUSE_DIR=str(warehouse),
               REES46_RAW_DIR=str(raw), REES46_SCHEMA=SCHEMA, DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    if args.threads is not None:
        env["DBT_THREADS"] = str(args.threads)
    print(f"benchmark: {events:,} events in {len(november_files)} files ({raw_bytes / 1e9:.2f} GB)", flush=True)

    full = dbt_run("full_refresh", ["build", "--full-refresh"], env)
    print(f"benchmark: full refresh {full['total_seconds']} s, exit {full['exit_code']}", flush=True)
    project = project_figures(env) if full["exit_code"] == 0 else {"rows": {}, "figures": {}}

    shutil.copy(added / ADDED_DAY_FILE, raw / ADDED_DAY_FILE)
    added_events = data["added_rows"]
    incremental = dbt_run("incremental", ["build"], env)
    (raw / ADDED_DAY_FILE).unlink()
    print(f"benchmark: incremental {incremental['total_seconds']} s, exit {incremental['exit_code']}", flush=True)

    equivalent = {n["node"]: n["seconds"] for n in full["nodes"] if n["node"] in REFERENCE_EQUIVALENT_NODES}
    project_seconds = round(sum(equivalent.values()), 1)
    result = {
        "measured_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit,
        "uncommitted_changes": uncommitted,
        "machine": machine(),
        "requested_events": args.events,
        "events": events,
        "raw_files": len(november_files),
        "raw_bytes": raw_bytes,
        "generate_seconds": data["generate_seconds"],
        "commands": {
            "benchmark": f"scripts/benchmark.sh {args.events}" + (" --keep-data" if args.keep_data else "")
            + (f" --threads {args.threads}" if args.threads is not None else ""),
            "full_refresh": full["command"],
            "incremental": incremental["command"] + f"  (after adding {ADDED_DAY_FILE}, {added_events:,} events)",
        },
        "full_refresh": full,
        "full_refresh_events_per_second": round(events / full["total_seconds"]),
        "incremental": incremental | {"added_events": added_events,
                                      "share_of_full_refresh": round(incremental["total_seconds"] / full["total_seconds"], 3)},
        "reference_outputs": {"project_nodes": equivalent, "project_seconds": project_seconds},
        "rows": project["rows"],
        "figures": project["figures"],
    }
    stem = RESULTS / (args.results_name or f"benchmark-{args.events}")
    write_results(stem, result)  # the dbt figures stand even if a reference is interrupted
    if not args.skip_references:
        for name in ("pyspark", "duckdb"):
            result["reference_outputs"][name] = time_reference(name, raw, env, project_seconds, project["figures"])
            write_results(stem, result)
    print(markdown(result))
    if not args.results_name:
        benchmark_readme.main([])  # README.md's benchmark block from all the results files
    return full["exit_code"] or incremental["exit_code"]


def time_reference(name: str, raw: Path, env: dict[str, str], project_seconds: float, figures: dict) -> dict:
    """One reference job in its own process (a JVM or DuckDB of its own,
    nothing shared with dbt's), with its figures compared to the project's."""
    out = BENCH / f"reference_{name}"
    log = BENCH / f"reference_{name}.log"
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, str(REFERENCES / f"{name}_reference.py"), "--raw", str(raw),
               "--out", str(out), "--threads", str(os.cpu_count() or 2)]
    if name == "pyspark":  # the same memory and shuffle settings as the local dbt target
        command += ["--driver-memory", env.get("SPARK_DRIVER_MEMORY", "12g"),
                    "--shuffle-partitions", env.get("SPARK_SHUFFLE_PARTITIONS", "64")]
    measured = run_measured(command, env, log)
    lines = log.read_text().strip().splitlines()
    shutil.rmtree(out, ignore_errors=True)
    if measured["exit_code"] != 0 or not lines:
        return {"error": f"exit {measured['exit_code']}, see {log}"}
    reference = json.loads(lines[-1])
    print(f"benchmark: {name} reference {reference['seconds']['total']} s", flush=True)
    return {
        "seconds": reference["seconds"],
        "peak_rss_mb": measured["peak_rss_mb"],
        "project_to_reference_ratio": round(project_seconds / reference["seconds"]["total"], 2),
        "figures_differing_from_project": compare_figures(figures, reference["figures"]),
    }


def write_results(stem: Path, result: dict) -> None:
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(result) + "\n")


def markdown(r: dict) -> str:
    full, inc, ref = r["full_refresh"], r["incremental"], r["reference_outputs"]
    lines = [
        f"# Benchmark: {r['events']:,} events ({r['measured_at']})",
        "",
        f"Machine: {r['machine']['cores']} cores, {r['machine']['memory_gb']} GB; "
        f"raw: {r['raw_files']} daily files, {r['raw_bytes'] / 1e9:.2f} GB; commit {r.get('commit')}"
        f"{' with uncommitted changes' if r.get('uncommitted_changes') else ''}.",
        "",
        "Commands: " + "; ".join(f"`{v}`" for v in r["commands"].values()),
        "",
        "| run | wall s | models s | tests s | peak RSS MB | peak scratch GB | exit |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, run in (("full refresh", full), ("one-day incremental", inc)):
        t = run["seconds_by_resource_type"]
        lines.append(f"| {name} | {run['total_seconds']} | {t.get('model', 0)} | {t.get('test', 0)} | "
                     f"{run['peak_rss_mb']} | {run['peak_scratch_disk_gb']} | {run['exit_code']} |")
    lines += [
        "",
        f"Full refresh: {r['full_refresh_events_per_second']:,} events/s. Incremental = "
        f"{inc['share_of_full_refresh']:.1%} of the full refresh ({inc['added_events']:,} events added).",
        "",
        f"Reference outputs (staging parse + de-duplication, daily funnel, RFM, user z-scores): "
        f"project {ref['project_seconds']} s",
    ]
    for name in ("pyspark", "duckdb"):
        if name in ref and "error" in ref[name]:
            lines.append(f"- {name}: {ref[name]['error']}")
        elif name in ref:
            lines.append(f"- {name}: {ref[name]['seconds']['total']} s (project / {name} = "
                         f"{ref[name]['project_to_reference_ratio']}x); figures differing from the project: "
                         f"{ref[name]['figures_differing_from_project'] or 'none'}")
    lines += ["", "| slowest nodes, full refresh | s |", "|---|---|",
              *[f"| {n['node']} | {n['seconds']} |" for n in full["nodes"][:15]],
              "", "| slowest nodes, incremental | s |", "|---|---|",
              *[f"| {n['node']} | {n['seconds']} |" for n in inc["nodes"][:10]]]
    if full["failures"] or inc["failures"]:
        lines += ["", f"Failures: {full['failures'] + inc['failures']}"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
