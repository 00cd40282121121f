"""README.md's benchmark block is generated from benchmarks/results/benchmark-*.json
(scripts/benchmark_readme.py, also `scripts/benchmark.py --update-readme`): the block
in the repository must be what the results files give, and the targets must turn
from met to not met exactly at their limits. No Spark, no dbt."""

from __future__ import annotations

import copy
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

import benchmark_readme as br  # noqa: E402


def fabricated(size: int, *, full: float = 1000.0, incremental: float = 100.0, project: float = 100.0,
               pyspark: float | None = 100.0, full_exit: int = 0) -> dict:
    """A results dict with only what the block reads."""
    outputs: dict = {"project_seconds": project}
    if pyspark is not None:
        outputs["pyspark"] = {"seconds": {"total": pyspark}}
        outputs["duckdb"] = {"seconds": {"total": pyspark / 4}}
    return {
        "requested_events": size, "events": size - 7, "commit": "abc1234", "measured_at": "2026-01-02T03:04:05+00:00",
        "machine": {"cores": 2, "memory_gb": 23.5, "driver_memory": "12g"},
        "full_refresh": {"total_seconds": full, "exit_code": full_exit, "peak_rss_mb": 2048,
                         "peak_scratch_disk_gb": 1.0, "seconds_by_resource_type": {"model": 10.0, "test": 5.0}},
        "incremental": {"total_seconds": incremental, "exit_code": 0, "peak_rss_mb": 1024,
                        "peak_scratch_disk_gb": 0.5, "seconds_by_resource_type": {"model": 1.0}},
        "reference_outputs": outputs,
    }


def status(results: list[dict], starts: str) -> str:
    """The status of the one verdict whose text starts with `starts`."""
    found = [v for v in br.verdicts(results) if v.text.startswith(starts)]
    assert len(found) == 1, [v.text for v in br.verdicts(results)]
    return found[0].status


# --------------------------------------------------------------- the README itself

def test_readme_block_is_what_the_results_files_give() -> None:
    readme = (REPO / "README.md").read_text()
    results = br.load_results()
    assert results, "no benchmarks/results/benchmark-*.json"
    assert br.current_block(readme) == br.render_block(results), (
        "README.md's benchmark block is out of date: run .venv/bin/python scripts/benchmark.py --update-readme")
    assert br.update_readme(check=True) is False


def test_block_shows_every_results_file_and_target() -> None:
    results = br.load_results()
    block = br.render_block(results)
    rows = [line for line in block.splitlines() if line.startswith("| ") and not line.startswith("| events")]
    assert [row.split(" | ")[0] for row in rows] == [f"| {r['events']:,}" for r in sorted(results, key=lambda r: r["events"])]
    for r in results:
        assert r["commit"] in block
    per_size = sum(1 for t in br.TARGETS if t.size is None) * len(results)
    assert sum(line.startswith("- **") for line in block.splitlines()) == per_size + sum(
        1 for t in br.TARGETS if t.size is not None)


def test_same_commit_is_said_and_different_commits_are_listed() -> None:
    one = [fabricated(1_000_000), fabricated(10_000_000)]
    assert "All 2 results files were measured on commit abc1234" in br.render_block(one)
    two = copy.deepcopy(one)
    two[1]["commit"] = "def5678"
    block = br.render_block(two)
    assert "different commits: 1 M abc1234" in block and "10 M def5678" in block
    for text in (br.render_block(one), block):
        assert "same models" not in text
    two[0]["uncommitted_changes"] = True
    assert "uncommitted changes in the working tree: 1 M" in br.render_block(two)


# ------------------------------------------------------------- the targets' logic

def test_full_refresh_targets_flip_at_their_limits() -> None:
    # 10 M: at most 600 s (600 is met); 67.5 M: under 1800 s (1800 is not)
    assert status([fabricated(10_000_000, full=600)], "10 M events: full refresh") == "met"
    assert status([fabricated(10_000_000, full=600.1)], "10 M events: full refresh") == "not met"
    assert status([fabricated(67_500_000, full=1799.9)], "67.5 M events: full refresh") == "met"
    assert status([fabricated(67_500_000, full=1800)], "67.5 M events: full refresh") == "not met"


def test_incremental_share_targets_flip_at_their_limits() -> None:
    # 20% at 10 M, 10% at 67.5 M, of the full refresh of the same file
    ten = "10 M events: one-day incremental"
    assert status([fabricated(10_000_000, full=1000, incremental=200)], ten) == "met"
    assert status([fabricated(10_000_000, full=1000, incremental=200.1)], ten) == "not met"
    full = "67.5 M events: one-day incremental"
    assert status([fabricated(67_500_000, full=1000, incremental=100)], full) == "met"
    assert status([fabricated(67_500_000, full=1000, incremental=100.1)], full) == "not met"
    # the share is of the file's own full refresh: a longer full refresh makes the same incremental met
    assert status([fabricated(67_500_000, full=1001, incremental=100.1)], full) == "met"


def test_pyspark_ratio_flips_at_its_limit_for_each_size() -> None:
    results = [fabricated(1_000_000, project=130, pyspark=100), fabricated(10_000_000, project=130.1, pyspark=100)]
    assert status(results, "1 M events: project's reference outputs") == "met"
    assert status(results, "10 M events: project's reference outputs") == "not met"
    # one verdict per size present, none for sizes without a file
    texts = [v.text for v in br.verdicts(results) if "reference outputs" in v.text]
    assert [t.split(" events")[0] for t in texts] == ["1 M", "10 M"]


def test_sizes_without_a_file_or_figure_are_not_measured() -> None:
    results = [fabricated(10_000_000, full=100, incremental=10, pyspark=None)]
    assert status(results, "67.5 M events: full refresh") == "not measured"
    assert status(results, "67.5 M events: one-day incremental") == "not measured"
    assert status(results, "10 M events: full refresh") == "met"
    assert status(results, "10 M events: project's reference outputs") == "not measured"
    block = br.render_block(results)
    assert "not measured** (no results file benchmark-67500000.json)" in block
    # nothing at all: every target is reported, none as met
    empty = br.verdicts([])
    assert empty and {v.status for v in empty} == {"not measured"}


def test_a_failed_build_meets_no_target() -> None:
    results = [fabricated(10_000_000, full=100, incremental=10, full_exit=1)]
    assert status(results, "10 M events: full refresh") == "not met"
    assert "(failed)" in br.render_block(results)


# ----------------------------------------------------------------- the command

def test_update_rewrites_only_the_block(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    for size in (1_000_000, 67_500_000):
        (results_dir / f"benchmark-{size}.json").write_text(json.dumps(fabricated(size) | {"requested_events": None}))
    (results_dir / "benchmark-10000000.md").write_text("not a results file")
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nBefore.\n\n{br.START}\n| typed | by hand |\n{br.END}\n\nAfter.\n")
    assert br.main(["--readme", str(readme), "--results", str(results_dir), "--check"]) == 1
    assert br.main(["--readme", str(readme), "--results", str(results_dir)]) == 0
    text = readme.read_text()
    assert text.startswith("# Title\n\nBefore.\n\n") and text.endswith("\n\nAfter.\n")
    assert "typed | by hand" not in text
    assert br.current_block(text) == br.render_block(br.load_results(results_dir))
    # sizes from the file names; 10 M has no results file
    assert "**10 M events: full refresh at most 600 s: not measured**" in text
    assert "| 999,993 |" in text and "| 67,499,993 |" in text
    assert br.main(["--readme", str(readme), "--results", str(results_dir), "--check"]) == 0
    readme.write_text("no markers\n")
    assert br.main(["--readme", str(readme), "--results", str(results_dir)]) == 2


def test_benchmark_script_update_readme_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`scripts/benchmark.py --update-readme` rewrites the block and runs no benchmark."""
    spec = importlib.util.spec_from_file_location("benchmark_script", SCRIPTS / "benchmark.py")
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    readme = tmp_path / "README.md"
    shutil.copy(REPO / "README.md", readme)
    readme.write_text(br.replace_block(readme.read_text(), "stale"))
    monkeypatch.setattr(benchmark.benchmark_readme, "README", readme)
    monkeypatch.setattr(benchmark, "prepare_data", lambda *a: pytest.fail("--update-readme ran a benchmark"))
    assert benchmark.main(["--update-readme"]) == 0
    assert br.current_block(readme.read_text()) == br.render_block(br.load_results())


def test_threads_column_says_what_each_run_used() -> None:
    both = fabricated(10_000_000)
    both["full_refresh"]["threads"] = both["incremental"]["threads"] = 2
    mixed = fabricated(67_500_000)
    mixed["full_refresh"]["threads"], mixed["incremental"]["threads"] = 1, 2
    rows = [br.table_row(r).split(" | ") for r in (both, mixed, fabricated(1_000_000))]
    assert [row[2] for row in rows] == ["2", "1/2", "-"]  # not recorded: an older results file
