"""Kill-anywhere: `dbt build` of the seeds and the models behind the RFM mart
(every materialization: seeds, staging views, incremental models, a table
model) on the real rows is killed (SIGKILL to its whole process tree) at four
seeded random moments, every other time in a `--full-refresh`. A moment is "a
random delay of 0-2 s after the k-th step started", k drawn from the i-th
quarter of the build's steps for the i-th kill (four kills spread over the
whole build, from the seeds to the table swap), so every kill lands inside the
build, in a statement or between two.
After each kill every relation the first build made is still queryable; the
build after the last kill succeeds and its tables equal, row for row (`EXCEPT
ALL` both ways), those of the clean in-process build of the same rows (the
`real_rows` fixture). The killed and rebuilt builds run with TZ=Asia/Kolkata
and the clean one in UTC, so the comparison is also the time-zone test of the
SQL models.

Each build runs in a process of its own (tests/python/killable_build.py) on a
warehouse of its own, since Derby admits one process and a kill must take the
Spark driver down with dbt, as a real one would; the builds share one target
folder, so all but the first reuse its parse. No build runs the data or unit
tests (they change no table; the clean build ran them).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import NO_TESTS
from dbt_harness import spark

pytestmark = pytest.mark.dbt

KILLS = 4
SEED = 9
# Every materialization: seeds, views (staging), incremental models (the line
# store, the fact, the user-day aggregate) and a table model (RFM).
SELECTION = ["--select", "path:seeds", "+mart_user_rfm"]
BUILD_SCRIPT = Path(__file__).parent / "killable_build.py"
# The builds run in a time zone half an hour off any whole-hour one; the clean
# build they are compared with ran in UTC (pytest's process). Equal tables mean
# no timestamp, date or hour the SQL models write depends on the machine's zone.
BUILD_TIME_ZONE = "Asia/Kolkata"


class Build:
    """One build process: the relations it could not query before dbt
    started, and its output, drained as it comes (a full pipe would stall
    it). With `kill_at` = (k, delay) its process tree is SIGKILLed `delay`
    seconds after dbt starts its k-th model or seed."""

    def __init__(self, spec: dict, kill_at: tuple[int, float] | None = None) -> None:
        self.process = subprocess.Popen([sys.executable, str(BUILD_SCRIPT), json.dumps(spec)],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True, env=os.environ | {"TZ": BUILD_TIME_ZONE})
        self.output: list[str] = []
        self.starts = 0
        self.killed = False
        checked = json.loads(self._line(lambda line: line.startswith('{"unqueryable":')))
        self.unqueryable, self.utc_offset = checked["unqueryable"], checked["utc_offset"]
        self._line(lambda line: line == "building")
        self.drain = threading.Thread(target=self._drain, args=(kill_at,), daemon=True)
        self.drain.start()

    def _line(self, is_it) -> str:
        """The next line of the protocol that `is_it` accepts (Spark may print
        before it, JSON lines among them)."""
        for line in self.process.stdout:
            self.output.append(line)
            if is_it(line.strip()):
                return line.strip()
        raise AssertionError("the build process ended early:\n" + "".join(self.output[-30:]))

    def _drain(self, kill_at: tuple[int, float] | None) -> None:
        for line in self.process.stdout:
            self.output.append(line)
            if " START " in line:
                self.starts += 1
                if kill_at and self.starts == kill_at[0]:
                    threading.Timer(kill_at[1], self.kill).start()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.killed = True
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def finish(self) -> list[str]:
        """Wait for the build to end; the relations it built (if it finished)."""
        code = self.process.wait()
        self.drain.join(timeout=10)
        if self.killed:
            return []
        assert code == 0, "the build failed:\n" + "".join(self.output[-40:])
        return [json.loads(line)["built"] for line in self.output if line.startswith('{"built"')][0]


def test_a_build_killed_anywhere_loses_nothing_and_the_next_build_equals_a_clean_one(real_rows, tmp_path):
    schema = "t_kill"  # DbtScenario's schema for the name "kill"
    base = {"warehouse": str(tmp_path / "warehouse"), "name": "kill", "raw_dir": str(real_rows.raw_dir),
            "work_dir": str(tmp_path / "work")}
    first = Build({**base, "check": [], "args": ["build", *SELECTION, *NO_TESTS]})
    assert first.utc_offset == 5 * 3600 + 30 * 60  # the builds really run in Asia/Kolkata
    relations = first.finish()
    steps = sum(" START sql " in line or " START seed " in line for line in first.output)
    assert len(relations) >= 8 and steps >= KILLS * 2, (relations, steps)

    rng = random.Random(SEED)
    killed_rounds, lost = 0, {}
    for round_number in range(1, KILLS + 1):
        args = ["build", *SELECTION, *NO_TESTS]
        if round_number % 2 == 0:
            args.append("--full-refresh")
        first_step, last_step = (round_number - 1) * steps // KILLS + 1, round_number * steps // KILLS
        build = Build({**base, "check": relations, "args": args},
                      kill_at=(rng.randint(first_step, last_step), rng.uniform(0.0, 2.0)))
        if build.unqueryable:
            lost[round_number] = build.unqueryable
        build.finish()
        killed_rounds += build.killed

    export_dir = tmp_path / "export"
    last = Build({**base, "check": relations, "args": ["build", *SELECTION, *NO_TESTS],
                  "export": relations, "export_dir": str(export_dir)})
    assert last.finish() == relations
    if last.unqueryable:
        lost["after the last kill"] = last.unqueryable
    assert lost == {}, f"relations not queryable after a kill: {lost}"
    assert killed_rounds >= KILLS - 1, f"only {killed_rounds} of {KILLS} builds were still running when killed"

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
