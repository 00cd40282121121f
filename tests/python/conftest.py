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


# The fast tier (`pytest --fast`, `make test-fast`): every test but those that
# build with dbt or start a server or cluster; a developer runs it before each
# commit, and scripts/check_faults.py runs it against each listed fault.
SLOW_MARKERS = ("dbt", "server", "cluster")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fast", action="store_true",
                     help=f"the fast tier: leave out the tests marked {', '.join(SLOW_MARKERS)}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--fast"):
        return
    slow = [item for item in items if any(item.get_closest_marker(name) for name in SLOW_MARKERS)]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if item not in slow]


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


# Staging up to the event fact, with the tests on those models only (the
# raw-line reconciliation among them): the scenarios about raw files build this.
STAGING_SELECTION = ("--select", "+fct_events", "stg_events_quarantine", "stg_raw_files",
                     "--indirect-selection", "cautious")

# The unit tests check SQL on rows they bring, whatever a scenario's data: the
# demo build runs them; every other scenario build leaves them out.
NO_UNIT_TESTS = ("--exclude-resource-type", "unit_test")
# Data tests change no table: the builds whose tables are compared with the
# demo or real-rows build's (whose data tests ran) leave them out as well.
NO_TESTS = ("--exclude-resource-type", "test", *NO_UNIT_TESTS)


@pytest.fixture(scope="session")
def real_rows(warehouse: Path) -> DbtScenario:
    """`dbt build` on the first 4,999 real rows of 2019-Oct.csv."""
    if not REAL_ROWS.exists():
        pytest.fail(f"real sample rows not found at {REAL_ROWS}")
    scenario = new_scenario("real5k", warehouse)
    shutil.copy(REAL_ROWS, scenario.raw_dir / REAL_ROWS.name)
    scenario.dbt("build", *NO_UNIT_TESTS)
    return scenario


# The demo period: ~150k events over the first 14 days of November (fewer
# dates: every date is a partition of every incremental model, registered in
# the metastore, which the daily-files builds pay for per date). The ML
# windows are scaled to fit: features 6 days, labels 3, the cart test set 3
# days, so the test window, the train window before it and two more rolling
# origins fill the 14 days. Fourteen, not sixteen: the generator's sale days
# (15-17) would fall in the last label windows only, a shift no train window
# sees (at 16 days, calibration fitted before the sale worsened the cart
# model's Brier score after it, and XGBoost fell below the AUC bar).
DEMO_EVENTS = 150_000
DEMO_SEED = 7
DEMO_DAYS = 14
DEMO_VARS = {"ml_feature_window_days": 6, "ml_label_window_days": 3, "ml_cart_test_days": 3}


def demo_scenario(name: str, warehouse: Path) -> DbtScenario:
    """A scenario with the demo period's vars (its raw files are the caller's)."""
    scenario = new_scenario(name, warehouse)
    scenario.vars = dict(DEMO_VARS)
    return scenario


@pytest.fixture(scope="session")
def demo(warehouse: Path) -> DbtScenario:
    """`dbt build` (everything, ML and unit tests included) on the generated demo period."""
    from datagen import generate

    scenario = demo_scenario("demo", warehouse)
    generate(scenario.raw_dir, events=DEMO_EVENTS, seed=DEMO_SEED, days=DEMO_DAYS)
    scenario.dbt("build")
    return scenario
