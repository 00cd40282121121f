"""Shared fixtures: a scratch warehouse for the whole pytest process and the
dbt scenarios built in it (each built once, on first use)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dbt_harness import PROJECT_ROOT, DbtScenario, configure_process  # noqa: E402

# The real 4,999-row sample lives in the repository (see its README).
REAL_ROWS = PROJECT_ROOT / "tests" / "fixtures" / "rees46" / "2019-Oct-head5k.csv"


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("warehouse")
    configure_process(path)
    return path


def new_scenario(name: str, warehouse: Path) -> DbtScenario:
    work_dir = warehouse.parent / f"scenario_{name}"
    raw_dir = work_dir / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    return DbtScenario(name=name, raw_dir=raw_dir, work_dir=work_dir)


@pytest.fixture(scope="session")
def real_rows(warehouse: Path) -> DbtScenario:
    """`dbt build` on the first 4,999 real rows of 2019-Oct.csv."""
    if not REAL_ROWS.exists():
        pytest.fail(f"real sample rows not found at {REAL_ROWS}")
    scenario = new_scenario("real5k", warehouse)
    shutil.copy(REAL_ROWS, scenario.raw_dir / REAL_ROWS.name)
    scenario.dbt("build")
    return scenario


DEMO_EVENTS = 150_000
DEMO_SEED = 7


@pytest.fixture(scope="session")
def demo(warehouse: Path) -> DbtScenario:
    """`dbt build` (everything, ML included) on a generated month of ~150k events."""
    from datagen import generate

    scenario = new_scenario("demo", warehouse)
    generate(scenario.raw_dir, events=DEMO_EVENTS, seed=DEMO_SEED)
    scenario.dbt("build")
    return scenario
