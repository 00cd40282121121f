"""The README's benchmark block, generated from the results files.

    .venv/bin/python scripts/benchmark_readme.py [--check]
    .venv/bin/python scripts/benchmark.py --update-readme          (the same, without --check)

Reads every benchmarks/results/benchmark-<events>.json and rewrites the text
between `<!-- benchmark:start -->` and `<!-- benchmark:end -->` in README.md:

- a table, one row per results file, sorted by events;
- which commit (or commits) the files were measured on;
- every target of TARGETS, met or not met, with the measured value. A target
  of a size that has no results file (or a results file without the figure,
  e.g. a run with --skip-references) is "not measured".

scripts/benchmark.py calls update_readme() at the end of every run, so the
README shows what the results files hold. `--check` changes nothing and exits
with status 1 when the README's block differs from what the files give (the
test tests/python/test_benchmark_readme.py does the same). Only the standard
library: no Spark, no dbt.
"""

from __future__ import annotations

import argparse
import json
import operator
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS = ROOT / "benchmarks" / "results"
START = "<!-- benchmark:start -->"
END = "<!-- benchmark:end -->"
RESULTS_FILE = re.compile(r"benchmark-(\d+)\.json")


# --- what is measured, and the targets ----------------------------------------------

@dataclass(frozen=True)
class Measure:
    """A number read from one results file. `wording` describes a target on it
    ({op}: "at most" / "under", {limit}: the limit), `value` returns the number
    (None when the file does not have it) and `shown` formats it."""

    wording: str
    value: Callable[[dict], float | None]
    shown: str


def _full_refresh_seconds(r: dict) -> float | None:
    return r.get("full_refresh", {}).get("total_seconds")


def _incremental_share(r: dict) -> float | None:
    full, incremental = _full_refresh_seconds(r), r.get("incremental", {}).get("total_seconds")
    return None if not full or incremental is None else incremental / full


def _pyspark_ratio(r: dict) -> float | None:
    outputs = r.get("reference_outputs", {})
    project, pyspark = outputs.get("project_seconds"), outputs.get("pyspark", {}).get("seconds", {}).get("total")
    return None if project is None or not pyspark else project / pyspark


MEASURES = {
    "full_refresh_seconds": Measure("full refresh {op} {limit:g} s", _full_refresh_seconds, "{:.0f} s"),
    "incremental_share": Measure("one-day incremental {op} {limit:.0%} of the full refresh",
                                 _incremental_share, "{:.1%}"),
    "pyspark_ratio": Measure("project's reference outputs {op} {limit:g}x the time of plain PySpark",
                             _pyspark_ratio, "{:.2f}x"),
}
OPERATORS = {"<=": ("at most", operator.le), "<": ("under", operator.lt)}


@dataclass(frozen=True)
class Target:
    measure: str  # a key of MEASURES
    op: str  # a key of OPERATORS; the measured value must be `op` limit
    limit: float
    size: int | None  # requested events (the N of benchmark-N.json); None: every size measured


# The targets, in the order the README lists them (exact comparisons, unrounded values).
TARGETS = (
    Target("full_refresh_seconds", "<=", 600, 10_000_000),
    Target("incremental_share", "<=", 0.20, 10_000_000),
    Target("incremental_share", "<=", 0.10, 67_500_000),
    Target("full_refresh_seconds", "<", 1800, 67_500_000),
    Target("pyspark_ratio", "<=", 1.3, None),
)


# --- reading the results files --------------------------------------------------------

def requested_events(result: dict, path: Path | None = None) -> int:
    """The size a run was asked for (the N of scripts/benchmark.sh N and of
    benchmark-N.json); the events generated are a little fewer or more."""
    if result.get("requested_events"):
        return int(result["requested_events"])
    match = RESULTS_FILE.fullmatch(path.name) if path else None
    if not match:
        raise ValueError(f"cannot tell the requested size of {path}")
    return int(match.group(1))


def load_results(folder: Path | None = None) -> list[dict]:
    """Every benchmark-<events>.json of the folder, each with `requested_events`
    and `file` set, sorted by events."""
    folder = RESULTS if folder is None else folder
    results = []
    for path in sorted(folder.glob("benchmark-*.json")):
        if RESULTS_FILE.fullmatch(path.name):
            result = json.loads(path.read_text())
            results.append(result | {"requested_events": requested_events(result, path), "file": path.name})
    return sorted(results, key=lambda r: r["events"])


def size_label(events: int) -> str:
    return f"{events / 1e6:g} M"


# --- the targets, met or not -------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    text: str  # "10 M events: full refresh at most 600 s"
    status: str  # "met", "not met" or "not measured"
    measured: str  # the value, or why there is none


def failed_builds(r: dict) -> list[str]:
    return [f"{name.replace('_', ' ')} exit {r[name]['exit_code']}" for name in ("full_refresh", "incremental")
            if r.get(name, {}).get("exit_code", 0) != 0]


def judge(target: Target, size: int, result: dict | None) -> Verdict:
    measure = MEASURES[target.measure]
    op_words, compare = OPERATORS[target.op]
    text = f"{size_label(size)} events: " + measure.wording.format(op=op_words, limit=target.limit)
    if result is None:
        return Verdict(text, "not measured", f"no results file benchmark-{size}.json")
    value = measure.value(result)
    if value is None:
        reason = "the PySpark reference was not run or failed" if target.measure == "pyspark_ratio" else \
            "the results file does not have it"
        return Verdict(text, "not measured", reason)
    shown = measure.shown.format(value)
    failed = failed_builds(result)
    if failed:  # a failed build is no measurement of the target
        return Verdict(text, "not met", f"{shown}, but the build failed: {', '.join(failed)}")
    return Verdict(text, "met" if compare(value, target.limit) else "not met", shown)


def verdicts(results: list[dict], targets: tuple[Target, ...] = TARGETS) -> list[Verdict]:
    by_size = {r["requested_events"]: r for r in results}
    out = []
    for target in targets:
        sizes = [target.size] if target.size is not None else sorted(by_size)
        if not sizes:
            out.append(Verdict(MEASURES[target.measure].wording.format(
                op=OPERATORS[target.op][0], limit=target.limit), "not measured", "no results files"))
        out += [judge(target, size, by_size.get(size)) for size in sizes]
    return out


# --- the block ---------------------------------------------------------------------------

def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _reference(r: dict, name: str) -> str:
    outputs = r.get("reference_outputs", {})
    reference = outputs.get(name)
    if reference is None:
        return "-"
    if "error" in reference:
        return "failed"
    total = reference["seconds"]["total"]
    return f"{total:.0f} ({outputs['project_seconds'] / total:.2f}x)"


def table_row(r: dict) -> str:
    full, incremental = r.get("full_refresh", {}), r.get("incremental", {})
    kinds = full.get("seconds_by_resource_type", {})
    tests = kinds.get("test", 0) + kinds.get("unit_test", 0)
    share = _incremental_share(r)
    full_text = _seconds(full.get("total_seconds")) + ("" if full.get("exit_code", 0) == 0 else " (failed)")
    incremental_text = _seconds(incremental.get("total_seconds")) + (
        "" if share is None else f" ({share:.1%})") + ("" if incremental.get("exit_code", 0) == 0 else " (failed)")
    rss = max(full.get("peak_rss_mb", 0), incremental.get("peak_rss_mb", 0)) / 1024
    scratch = max(full.get("peak_scratch_disk_gb", 0), incremental.get("peak_scratch_disk_gb", 0))
    commit = (r.get("commit") or "?") + (" + changes" if r.get("uncommitted_changes") else "")
    threads = sorted({run["threads"] for run in (full, incremental) if run.get("threads")})
    cells = [
        f"{r['events']:,}", commit, "/".join(map(str, threads)) or "-", full_text,
        f"{kinds.get('model', 0):.0f} / {tests:.0f}", incremental_text,
        f"{rss:.1f}", f"{scratch:.1f}", _seconds(r.get("reference_outputs", {}).get("project_seconds")),
        _reference(r, "pyspark"), _reference(r, "duckdb"),
    ]
    return "| " + " | ".join(cells) + " |"


def provenance(results: list[dict]) -> list[str]:
    """Which commits and machines the files come from (never more than the files say)."""
    commits = {r.get("commit") for r in results}
    where = ", ".join(f"{size_label(r['requested_events'])} {r.get('commit') or 'unknown'} "
                      f"(measured {str(r.get('measured_at', '?'))[:10]})" for r in results)
    if len(commits) == 1:
        line = (f"All {len(results)} results files were measured on commit {commits.pop() or 'unknown'} "
                f"({where}).") if len(results) > 1 else f"One results file: {where}."
    else:
        line = (f"The results files come from different commits: {where}. The models and tests may "
                "differ between commits, so the rows are not strictly comparable.")
    unknown = [size_label(r["requested_events"]) for r in results if "uncommitted_changes" not in r]
    dirty = [size_label(r["requested_events"]) for r in results if r.get("uncommitted_changes")]
    if dirty:
        line += f" Measured with uncommitted changes in the working tree: {', '.join(dirty)}."
    if unknown:
        line += (f" The files of {', '.join(unknown)} do not record whether the working tree "
                 "had uncommitted changes.")
    machines = {json.dumps(r.get("machine", {}), sort_keys=True) for r in results}
    described = [
        f"{m.get('cores', '?')} cores, {m.get('memory_gb', '?')} GB memory, Spark driver {m.get('driver_memory', '?')}"
        for m in (json.loads(text) for text in sorted(machines))]
    machine = ("Machine: " + described[0] + ".") if len(described) == 1 else \
        "Machines differ between files: " + "; ".join(described) + "."
    return [line, "", machine]


def render_block(results: list[dict], targets: tuple[Target, ...] = TARGETS) -> str:
    """The generated text between the markers (no timestamps: the same files give the same text)."""
    lines = ["<!-- generated by scripts/benchmark_readme.py from benchmarks/results/benchmark-*.json; "
             "do not edit by hand -->", ""]
    if results:
        lines += [
            "| events | commit | dbt threads | full refresh s | models / tests s | one-day incremental s (share) | "
            "peak RSS GB | peak scratch GB | project's reference outputs s | PySpark s (ratio) | DuckDB s (ratio) |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            *[table_row(r) for r in results],
            "",
            "models / tests: per-node seconds of the full refresh (tests: data and unit tests); peak RSS "
            "and scratch: the larger of the two runs; ratio: the project's reference-output seconds / "
            "the reference job's seconds. With more than one dbt thread nodes run side by side: their "
            "seconds add up to more than the wall time, and the project's reference-output seconds (a sum of "
            "its nodes' seconds) count the time they shared the cores with other nodes.",
            "",
            *provenance(results),
        ]
    else:
        lines.append("No results files in benchmarks/results/ yet.")
    lines += ["", "Against the targets (computed from the files; `TARGETS` in `scripts/benchmark_readme.py`):", ""]
    lines += [f"- **{v.text}: {v.status}** ({v.measured})" for v in verdicts(results, targets)]
    return "\n".join(lines)


def replace_block(text: str, block: str) -> str:
    """`text` with everything between the markers replaced by `block`."""
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise ValueError(f"README must hold exactly one {START} followed by one {END}")
    head, rest = text.split(START)
    _, tail = rest.split(END)
    return f"{head}{START}\n{block}\n{END}{tail}"


def current_block(text: str) -> str:
    """The text between the markers, as render_block() returns it."""
    if text.count(START) != 1 or text.count(END) != 1:
        raise ValueError(f"README must hold exactly one {START} and one {END}")
    return text.split(START)[1].split(END)[0].strip("\n")


def update_readme(readme: Path | None = None, results_dir: Path | None = None, *, check: bool = False) -> bool:
    """Rewrite the README's block from the results files; True when it changed
    (with check=True, True when it would change, and nothing is written)."""
    readme = README if readme is None else readme
    text = readme.read_text()
    new = replace_block(text, render_block(load_results(results_dir)))
    if new != text and not check:
        readme.write_text(new)
    return new != text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when the block is out of date")
    parser.add_argument("--readme", type=Path, default=README)
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of benchmark-<events>.json")
    args = parser.parse_args(argv)
    try:
        changed = update_readme(args.readme, args.results, check=args.check)
    except ValueError as error:
        print(f"{args.readme}: {error}", file=sys.stderr)
        return 2
    if args.check:
        print(f"{args.readme}: benchmark block {'out of date' if changed else 'up to date'}")
        return 1 if changed else 0
    print(f"{args.readme}: benchmark block {'rewritten' if changed else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
