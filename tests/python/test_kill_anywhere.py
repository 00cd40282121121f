"""Kill-anywhere: `dbt build` of the staging and mart models on the real rows is
killed (SIGKILL to its whole process tree) at ten seeded random moments, every
other time in a `--full-refresh`. After each kill every relation the first
build made is still queryable; the build after the last kill succeeds and its
tables equal, row for row (`EXCEPT ALL` both ways), those of the clean in-process
build of the same rows (the `real_rows` fixture).

Each build runs in a process of its own (tests/python/killable_build.py) on a
warehouse of its own, since Derby admits one process and a kill must take the
Spark driver down with dbt, as a real one would. The killed builds leave out
the data tests (they change no table); the last build runs them.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dbt_harness import DbtScenario, spark

pytestmark = pytest.mark.dbt

KILLS = 10
SEED = 9
SELECTION = ["--select", "path:seeds", "path:models/staging", "path:models/marts", "--indirect-selection", "cautious"]
BUILD_SCRIPT = Path(__file__).parent / "killable_build.py"


class Build:
    """One build process: the relations it could not query before dbt
    started, the moment dbt started, and its output (drained as it comes, so
    a full pipe never stalls it)."""

    def __init__(self, spec: dict) -> None:
        self.process = subprocess.Popen([sys.executable, str(BUILD_SCRIPT), json.dumps(spec)],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True)
        self.output: list[str] = []
        self.unqueryable = json.loads(self._line())["unqueryable"]
        assert self._line() == "building", self.output
        self.started = time.monotonic()
        threading.Thread(target=lambda: self.output.extend(self.process.stdout), daemon=True).start()

    def _line(self) -> str:
        """The next line of the protocol (Spark may print before it)."""
        for line in self.process.stdout:
            self.output.append(line)
            if line.startswith("{") or line.strip() == "building":
                return line.strip()
        raise AssertionError("the build process ended early:\n" + "".join(self.output[-30:]))

    def finish(self) -> None:
        code = self.process.wait()
        time.sleep(0.2)  # let the drain thread take the last lines
        assert code == 0, "the build failed:\n" + "".join(self.output[-40:])


def kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL the build's process group: dbt, its Spark driver and any child."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def relations_of(scenario: DbtScenario, schema: str) -> list[str]:
    """The staging and mart relations of a built scenario, named in `schema`."""
    names = []
    for layer in ("staging", "marts"):
        for row in scenario.sql(f"show tables in {{s}}_{layer}"):
            if not row.isTemporary:
                names.append(f"{schema}_{layer}.{row.tableName}")
    return sorted(names)


def test_a_build_killed_anywhere_loses_nothing_and_the_next_build_equals_a_clean_one(real_rows, tmp_path):
    schema = "t_kill"  # DbtScenario's schema for the name "kill"
    relations = relations_of(real_rows, schema)
    assert len(relations) > 20, relations
    base = {"warehouse": str(tmp_path / "warehouse"), "name": "kill", "raw_dir": str(real_rows.raw_dir),
            "work_dir": str(tmp_path / "work")}

    first = Build({**base, "check": [], "args": ["build", *SELECTION]})
    first.finish()
    build_seconds = time.monotonic() - first.started

    rng = random.Random(SEED)
    killed_rounds, lost = 0, {}
    for round_number in range(1, KILLS + 1):
        args = ["build", *SELECTION, "--exclude-resource-type", "test"]
        if round_number % 2 == 0:
            args.append("--full-refresh")
        build = Build({**base, "check": relations, "args": args})
        if build.unqueryable:
            lost[round_number] = build.unqueryable
        time.sleep(max(0.0, rng.uniform(0.05, 0.95) * build_seconds - (time.monotonic() - build.started)))
        if build.process.poll() is None:
            killed_rounds += 1
        kill_tree(build.process)

    export_dir = tmp_path / "export"
    last = Build({**base, "check": relations, "args": ["build", *SELECTION],
                  "export": relations, "export_dir": str(export_dir)})
    last.finish()
    if last.unqueryable:
        lost["after the last kill"] = last.unqueryable
    assert lost == {}, f"relations not queryable after a kill: {lost}"
    assert killed_rounds >= KILLS - 2, f"only {killed_rounds} of {KILLS} builds were still running when killed"

    differences, empty = [], []
    for relation in relations:
        clean = spark().table(relation.replace(schema, real_rows.schema, 1))
        clean = clean.drop(*[c for c in clean.columns if c == "loaded_at"])
        rebuilt = spark().read.parquet(str(export_dir / relation)).select(*clean.columns)
        extra, absent = rebuilt.exceptAll(clean).count(), clean.exceptAll(rebuilt).count()
        if extra or absent:
            differences.append(f"{relation}: {extra} rows not in the clean build, {absent} missing")
        if clean.count() == 0:
            empty.append(relation)
    assert differences == []
    assert len(empty) < len(relations) / 4, f"too little to compare: {empty}"
