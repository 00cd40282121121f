"""Atomic rebuilds (the adapter's table, seed and incremental materializations),
on the tiny project: a table model or a seed is a view over an immutable build
table, so a rebuild, a failed rebuild or a reader in another session never
finds it missing; a seed is loaded only when its file or config changed; an
interrupted full refresh of an incremental model is repaired."""

from __future__ import annotations

import re
import shutil
import threading
from pathlib import Path

import pytest

from dbt_harness import DbtScenario, spark

pytestmark = pytest.mark.dbt

TINY_PROJECT = Path(__file__).parent / "fixtures" / "tiny_project"


@pytest.fixture(scope="module")
def tiny(warehouse) -> DbtScenario:
    from conftest import new_scenario

    scenario = new_scenario("atomic", warehouse)
    scenario.project_dir = TINY_PROJECT
    scenario.dbt("build")
    return scenario


def generation(scenario: DbtScenario, model: str = "generation") -> set[int]:
    return {row[0] for row in scenario.sql(f"select distinct generation from {{s}}.{model}")}


def build_tables(scenario: DbtScenario, model: str = "generation") -> list[str]:
    rows = scenario.sql(f"show tables in {{s}}__builds like '{model}__build_*'")
    return sorted(row.tableName for row in rows)


def current_build(scenario: DbtScenario, model: str = "generation") -> str:
    """The build table the model's view reads, from the view's text."""
    return build_table_of(f"{scenario.schema}.{model}")


def build_table_of(view: str) -> str:
    text = {row[0]: row[1] for row in spark().sql(f"describe table extended {view}").collect()}["View Text"]
    return re.search(r"(\w+__builds\.\w+__build_[0-9a-f]+)", text).group(1)


def test_a_table_model_is_a_view_over_its_latest_build_and_keeps_one_earlier(tiny):
    tiny.dbt("run", "--select", "generation", vars={"generation": 2})
    first = current_build(tiny)
    tiny.dbt("run", "--select", "generation", vars={"generation": 3})
    second = current_build(tiny)
    assert generation(tiny) == {3}
    assert tiny.sql("select count(*) from {s}.generation")[0][0] == 5
    # the build readers use now and the one before it; older ones are dropped
    assert [f"{tiny.schema}__builds.{name}" for name in build_tables(tiny)] == sorted([first, second])
    tiny.dbt("run", "--select", "generation", vars={"generation": 4})
    assert f"{tiny.schema}__builds.{first.split('.')[1]}" not in build_tables(tiny)
    assert len(build_tables(tiny)) == 2
    kinds = {row[0]: row[1] for row in tiny.sql("describe table extended {s}.generation")}
    assert kinds.get("Type") == "VIEW"


def test_a_failed_rebuild_leaves_the_previous_build_in_place(tiny):
    tiny.dbt("run", "--select", "generation", vars={"generation": 5})
    before = current_build(tiny)
    result = tiny.dbt("run", "--select", "generation", vars={"generation": 6, "fail": True}, expect_success=False)
    assert not result.success
    assert current_build(tiny) == before
    assert generation(tiny) == {5}
    tiny.dbt("run", "--select", "generation", vars={"generation": 7})  # the half-made build is cleared
    assert generation(tiny) == {7}
    assert len(build_tables(tiny)) == 2


def test_a_reader_in_another_session_never_misses_the_table_during_rebuilds(tiny):
    """A second Spark session (as a Thrift client has) reads in a loop while
    dbt rebuilds the table three times; every read sees one whole build."""
    reader = spark().newSession()
    errors: list[BaseException] = []

    def rebuild() -> None:
        try:
            for number in (11, 12, 13):
                tiny.dbt("run", "--select", "generation", vars={"generation": number})
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    builder = threading.Thread(target=rebuild)
    builder.start()
    seen, reads = set(), 0
    while builder.is_alive() or reads == 0:
        rows = reader.sql(f"select generation, count(*) from {tiny.schema}.generation group by 1").collect()
        assert len(rows) == 1 and rows[0][1] == 5, rows  # one build, whole
        seen.add(rows[0][0])
        reads += 1
    builder.join()
    assert errors == []
    assert reads >= 10 and len(seen) >= 2, (reads, seen)  # it read on while the builds switched
    final = reader.sql(f"select distinct generation from {tiny.schema}.generation").collect()
    assert [row[0] for row in final] == [13]


def test_a_seed_is_loaded_when_its_file_or_config_changed_and_swapped_in_whole(warehouse, tmp_path):
    from conftest import new_scenario

    project = tmp_path / "tiny"
    shutil.copytree(TINY_PROJECT, project)
    scenario = new_scenario("atomic_seed", warehouse)
    scenario.project_dir = project
    seed_file, project_file = project / "seeds" / "labels.csv", project / "dbt_project.yml"

    def labels() -> list[tuple]:
        return sorted(tuple(row) for row in scenario.sql("select id, label from {s}.labels"))

    def seed(*args: str) -> str:
        return scenario.dbt("seed", *args).result.results[0].message

    seed()
    first = current_build(scenario, "labels")
    assert seed() == "UNCHANGED 3" and current_build(scenario, "labels") == first
    assert seed("--full-refresh") == "INSERT 3"
    reloaded = current_build(scenario, "labels")
    assert reloaded != first

    seed_file.write_text("id,label\n1,changed\n")
    assert seed() == "INSERT 1"
    changed = current_build(scenario, "labels")
    assert labels() == [(1, "changed")] and changed not in (first, reloaded)
    assert [f"{scenario.schema}__builds.{name}" for name in build_tables(scenario, "labels")] == sorted([reloaded, changed])

    # the same file under another config (a column type) is loaded again; a
    # load that fails (a type Spark does not know) leaves the seed as it was
    config = project_file.read_text()
    project_file.write_text(config + "    labels:\n      +column_types: {id: bigint}\n")
    assert seed() == "INSERT 1" and current_build(scenario, "labels") != changed
    retyped = current_build(scenario, "labels")
    seed_file.write_text("id,label\n2,broken\n")
    project_file.write_text(config + "    labels:\n      +column_types: {id: no_such_type}\n")
    assert not scenario.dbt("seed", expect_success=False).success
    assert current_build(scenario, "labels") == retyped and labels() == [(1, "changed")]
    kinds = {row[0]: row[1] for row in scenario.sql("describe table extended {s}.labels")}
    assert kinds.get("Type") == "VIEW"


def swap_leftovers(scenario: DbtScenario) -> list[str]:
    return [row.tableName for row in scenario.sql("show tables in {s} like 'history__dbt_swap_*'")]


def test_a_full_refresh_swaps_the_incremental_table_and_a_killed_swap_is_repaired(tiny):
    table = f"{tiny.schema}.history"
    tiny.dbt("run", "--select", "history", "--full-refresh", vars={"generation": 1})
    assert generation(tiny, "history") == {1}
    # a run killed between the two renames: the table is only under its backup name
    spark().sql(f"alter table {table} rename to {table}__dbt_swap_old_0123456789abcdef")
    spark().sql(f"create table {table}__dbt_swap_new_0123456789abcdef using parquet as select 99 as generation, 1 as n")
    # the next (incremental) run restores the table, then overwrites days 4 and 5
    tiny.dbt("run", "--select", "history", vars={"generation": 2, "from_n": 4})
    rows = sorted(tuple(row) for row in tiny.sql("select generation, n from {s}.history"))
    assert rows == [(1, 1), (1, 2), (1, 3), (2, 4), (2, 5)]
    assert swap_leftovers(tiny) == []
    tiny.dbt("run", "--select", "history", "--full-refresh", vars={"generation": 3})
    assert sorted(tuple(row) for row in tiny.sql("select generation, n from {s}.history")) == [(3, n) for n in range(1, 6)]
    assert swap_leftovers(tiny) == []
