"""Incremental builds: the manifest of loaded files, the rules for new, copied,
changed and removed files, and the proof that a build which adds one day's
file gives exactly what a full build over all files gives, for every mart,
fact and training set."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from conftest import DEMO_DAYS, DEMO_EVENTS, DEMO_SEED, NO_TESTS, NO_UNIT_TESTS, STAGING_SELECTION, demo_scenario, new_scenario
from dbt_harness import SKETCH_BOUND, describe_failures, is_approximate, is_sketch
from test_dbt_bad_input import HEADER, good_line

pytestmark = pytest.mark.dbt

STAGING = [*STAGING_SELECTION, *NO_UNIT_TESTS]


def write(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join([HEADER, *lines]) + "\n")


def loaded_at(scenario, source_file: str):
    return scenario.sql(
        "select max(loaded_at) from {s}_staging.base_rees46__event_lines"
        f" where source_file = '{source_file}'"
    )[0][0]


def events_by_date(scenario, relation: str = "{s}_staging.stg_events") -> dict[str, int]:
    return dict(scenario.sql(
        f"select cast(event_date as string), count(*) from {relation} group by 1"
    ))


@pytest.fixture(scope="module")
def staging(warehouse):
    return new_scenario("incremental_files", warehouse)


def test_new_files_are_parsed_once_and_touched_dates_rebuilt_from_all_files(staging):
    write(staging.raw_dir / "a.csv", [good_line(n, day=1) for n in range(3)] + [good_line(n, day=2) for n in range(3, 5)])
    staging.dbt("build", *STAGING)
    first_load = loaded_at(staging, "a.csv")
    # a later file adds to day 2 (already loaded) and brings day 3
    write(staging.raw_dir / "b.csv", [good_line(n, day=2) for n in range(5, 7)] + [good_line(n, day=3) for n in range(7, 9)])
    staging.dbt("build", *STAGING)
    assert events_by_date(staging) == {"2019-11-01": 3, "2019-11-02": 4, "2019-11-03": 2}
    assert loaded_at(staging, "a.csv") == first_load  # not parsed again
    manifest = {row[0]: tuple(row[1:]) for row in staging.sql(
        "select source_file, data_lines, valid_lines, cast(first_event_date as string),"
        " cast(last_event_date as string) from {s}_staging.stg_raw_files"
    )}
    assert manifest == {"a.csv": (5, 5, "2019-11-01", "2019-11-02"), "b.csv": (4, 4, "2019-11-02", "2019-11-03")}


def test_a_file_that_only_repeats_loaded_rows_is_loaded_once(staging):
    shutil.copy(staging.raw_dir / "a.csv", staging.raw_dir / "c.csv")
    staging.dbt("build", *STAGING)  # includes the reconciliation test
    copied_load = loaded_at(staging, "c.csv")
    assert events_by_date(staging) == {"2019-11-01": 3, "2019-11-02": 4, "2019-11-03": 2}
    counts = dict(staging.sql(
        "select source_row_count, count(*) from {s}_staging.stg_events group by 1"
    ))
    assert counts == {2: 5, 1: 4}  # a's five events now stand for two raw rows each
    staging.dbt("build", *STAGING)  # nothing new: the copy is not taken for new again
    assert loaded_at(staging, "c.csv") == copied_load


def manifest_files(scenario) -> dict[str, tuple]:
    return {row[0]: tuple(row[1:]) for row in scenario.sql(
        "select source_file, file_size_bytes, data_lines from {s}_staging.stg_raw_files")}


def test_a_file_that_lands_after_the_parse_is_not_recorded_as_loaded(staging):
    """On the Thrift target every model lists the raw folder afresh: a file
    that lands after the line parse read the folder, and before the manifest
    is written, must not be recorded as loaded (with no line); the next build
    parses it. The two models run here one after the other, the file landing
    in between."""
    staging.dbt("run", "--select", "base_rees46__event_lines")  # nothing new to parse
    write(staging.raw_dir / "d.csv", [good_line(n, day=4) for n in range(20, 22)])
    staging.dbt("run", "--select", "stg_raw_files")
    assert "d.csv" not in manifest_files(staging)
    staging.dbt("build", *STAGING)  # includes the reconciliation test
    assert events_by_date(staging) == {"2019-11-01": 3, "2019-11-02": 4, "2019-11-03": 2, "2019-11-04": 2}
    assert manifest_files(staging)["d.csv"] == ((staging.raw_dir / "d.csv").stat().st_size, 2)


def test_an_incremental_model_whose_columns_changed_stops_the_build_with_the_way_out(staging):
    """A stored table whose columns differ from its model's (a warehouse built
    by an older version of the project) stops the build naming the column and
    `full_refresh`, instead of writing new rows with the old columns."""
    staging.sql("alter table {s}_staging.base_rees46__event_lines add columns (dropped_since string)")
    message = describe_failures(staging.dbt("build", *STAGING, expect_success=False))
    assert "out of sync" in message and "dropped_since" in message and "full_refresh" in message, message
    staging.dbt("run", "--select", "base_rees46__event_lines", "--full-refresh")


def test_a_changed_or_removed_file_stops_the_build_with_the_way_out(staging):
    write(staging.raw_dir / "b.csv", [good_line(n, day=2) for n in range(5, 7)] + [good_line(n, day=3) for n in range(7, 10)])
    result = staging.dbt("build", *STAGING, expect_success=False)
    message = describe_failures(result)
    assert "b.csv: changed since it was loaded" in message and "--full-refresh" in message
    staging.dbt("build", *STAGING, "--full-refresh")
    assert events_by_date(staging) == {"2019-11-01": 3, "2019-11-02": 4, "2019-11-03": 3, "2019-11-04": 2}
    (staging.raw_dir / "c.csv").unlink()
    message = describe_failures(staging.dbt("build", *STAGING, expect_success=False))
    assert "c.csv: loaded before, no longer in the raw folder" in message


def test_a_build_that_committed_some_dates_only_is_completed_by_the_next(warehouse):
    """`insert overwrite` commits a model's date partitions one after another,
    and registers new ones after that: a build killed in between leaves some
    dates new, others as the build before left them (older rows and stamp) or
    missing. Here the fact is left so by hand after a build that rebuilt three
    dates (the first new, the second put back as the previous build wrote it,
    the third dropped); the next build, with no new file, repairs both."""
    scenario = new_scenario("partial_commit", warehouse)
    days = (1, 2, 3)
    write(scenario.raw_dir / "a.csv", [good_line(10 * day + n, day=day) for day in days for n in range(2)])
    scenario.dbt("build", *STAGING)
    fact = scenario.table("marts", "fct_events")
    before = scenario.table("marts", "fct_events_first_build")
    scenario.sql(f"create table {before} using parquet as select * from {fact}")
    try:
        write(scenario.raw_dir / "b.csv", [good_line(100 + 10 * day + n, day=day) for day in days for n in range(3)])
        scenario.dbt("build", *STAGING)
        complete = {f"2019-11-0{day}": 5 for day in days}
        assert events_by_date(scenario, fact) == complete
        scenario.sql(f"insert overwrite table {fact} partition (event_date)"
                     f" select * from {before} where event_date = date'2019-11-02'")
        scenario.sql(f"alter table {fact} drop partition (event_date = date'2019-11-03')")
        assert events_by_date(scenario, fact) == {"2019-11-01": 5, "2019-11-02": 2}
        scenario.dbt("build", *STAGING)
        assert events_by_date(scenario, fact) == complete
    finally:
        scenario.sql(f"drop table if exists {before}")


def copy_project(destination: Path) -> Path:
    """The dbt project's files (not the data or the Python packages), so a
    test can edit a seed without touching the repository's."""
    from dbt_harness import PROJECT_ROOT

    for part in ("models", "macros", "seeds", "analyses", "tests/dbt"):
        shutil.copytree(PROJECT_ROOT / part, destination / part)
    shutil.copy(PROJECT_ROOT / "dbt_project.yml", destination / "dbt_project.yml")
    return destination


def test_stored_rows_built_with_a_changed_seed_or_var_are_rebuilt_whole_and_the_log_says_why(warehouse):
    """The price band (a seed) is stored in fct_events, the plausible-date
    vars in the parsed lines: an edit of either rebuilds the models whose rows
    were built with it, whole, with one log line naming what changed, and
    nothing else (no new file in between)."""
    scenario = new_scenario("definitions", warehouse)
    scenario.project_dir = copy_project(scenario.work_dir / "project")
    write(scenario.raw_dir / "a.csv", [good_line(10 * day + n, day=day) for day in (1, 2) for n in range(2)])
    scenario.dbt("build", *STAGING)
    stored_bands = "select price_band, count(*) from {s}_marts.fct_events group by 1"
    assert dict(scenario.sql(stored_bands)) == {"100-250": 4}
    parsed_at = loaded_at(scenario, "a.csv")

    seed = scenario.project_dir / "seeds" / "price_bands.csv"
    header, *bands = seed.read_text().splitlines()  # the 100-250 band split in two, the order renumbered
    bands = [band.split(",", 1)[1] for band in bands]
    split = bands.index("100-250,100,250")
    bands[split:split + 1] = ["100-150,100,150", "150-250,150,250"]
    seed.write_text("\n".join([header, *(f"{order},{band}" for order, band in enumerate(bands, 1))]) + "\n")
    scenario.dbt("build", *STAGING)  # the seed is reloaded (a parent of the fact), then the fact rebuilt
    assert dict(scenario.sql(stored_bands)) == {"100-150": 4}
    assert loaded_at(scenario, "a.csv") == parsed_at  # the parsed lines were not built with the seed
    log = (scenario.work_dir / "logs" / "dbt.log").read_text()
    assert "fct_events: rebuilt whole: its stored rows were built with another definition (seed.price_bands changed)" in log
    assert "base_rees46__event_lines: rebuilt whole" not in log

    later = {"plausible_event_date_min": "2019-11-02"}
    scenario.dbt("build", *STAGING, vars=later)
    assert events_by_date(scenario, "{s}_marts.fct_events") == {"2019-11-02": 2}
    assert dict(scenario.sql("select quarantine_reason, count(*) from {s}_staging.stg_events_quarantine group by 1")) == {
        "event_time before 2019-11-02 (implausible)": 2}
    log = (scenario.work_dir / "logs" / "dbt.log").read_text()
    assert "base_rees46__event_lines: rebuilt whole: its stored rows were built with another definition" \
           " (var.plausible_event_date_min changed)" in log
    reparsed_at = loaded_at(scenario, "a.csv")
    assert reparsed_at > parsed_at
    scenario.dbt("build", *STAGING, vars=later)  # the same definition: nothing to rebuild
    assert loaded_at(scenario, "a.csv") == reparsed_at


# --- a day added to a month equals a full build over the whole month -----------

# build metadata that differs between any two builds, by design
BUILD_COLUMNS = {"loaded_at"}
COMPARED_MODELS = [
    ("marts", "fct_events"), ("marts", "fct_sessions"), ("marts", "fct_user_daily_activity"),
    ("marts", "fct_product_dimension_daily"), ("marts", "fct_hourly_activity"),
    ("marts", "fct_product_daily_activity"), ("marts", "fct_cart_outcomes"), ("marts", "fct_user_product_daily"),
    ("marts", "mart_funnel_daily"), ("marts", "mart_funnel_by_dimension"), ("marts", "mart_funnel_by_price_band"),
    ("marts", "mart_funnel_session_stages"), ("marts", "mart_cart_conversion"),
    ("marts", "mart_activity_heatmap"), ("marts", "mart_hourly_activity"), ("marts", "mart_category_demand"),
    ("marts", "mart_category_l1_demand"), ("marts", "mart_brand_performance"),
    ("marts", "mart_price_sensitivity"), ("marts", "mart_user_rfm"), ("marts", "mart_user_segments"),
    ("ml", "ml_cart_features"), ("ml", "ml_purchase_training_set"), ("ml", "ml_cart_training_set"),
]
@pytest.fixture(scope="module")
def day_added(warehouse):
    """The demo period as daily files: all days but the last built (the ML
    models trained on them), then the last day added and built incrementally,
    ML included, with no retraining due (the same rows as the `demo`
    fixture's single file).
    Neither build runs the data tests: the demo build runs them on the same
    rows, and its tables are what these must equal; the reconciliations of
    the latest load are run on these tables by their own test below."""
    from datagen import generate

    scenario = demo_scenario("day_added", warehouse)
    held_back = scenario.work_dir / "held_back"
    generate(held_back, events=DEMO_EVENTS, seed=DEMO_SEED, days=DEMO_DAYS, daily_files=True)
    files = sorted(held_back.glob("*.csv"))
    for path in files[:-1]:
        path.rename(scenario.raw_dir / path.name)
    scenario.dbt("build", *NO_TESTS)  # all days but the last
    scenario.runs_before = training_runs(scenario)
    files[-1].rename(scenario.raw_dir / files[-1].name)
    scenario.last_day_file = files[-1].name
    scenario.first_day, scenario.last_day = "2019-11-01", f"2019-11-{DEMO_DAYS:02d}"
    scenario.dbt("build", *NO_TESTS)  # the last day, as the daily job runs it
    return scenario


def training_runs(scenario) -> dict[str, set[str]]:
    """task -> the ids of its training runs in ml_training_runs."""
    runs: dict[str, set[str]] = {}
    for task, run_id in scenario.sql("select distinct task, run_id from {s}_ml.ml_training_runs"):
        runs.setdefault(task, set()).add(run_id)
    return runs


def test_adding_a_day_loads_only_that_file(day_added):
    loads = day_added.sql(
        "select source_file, max(loaded_at) from {s}_staging.base_rees46__event_lines group by 1"
    )
    latest = max(stamp for _, stamp in loads)
    assert [name for name, stamp in loads if stamp == latest] == [day_added.last_day_file]
    rebuilt = day_added.sql(
        "select distinct cast(event_date as string) from {s}_marts.fct_events"
        " where loaded_at = (select max(loaded_at) from {s}_marts.fct_events)"
    )
    assert [row[0] for row in rebuilt] == [day_added.last_day]


# The approximate distinct counts (dbt_harness.is_approximate) of the two
# builds are compared within the sketches' bound, every other column exactly:
# a day's sketch depends on the order its values arrived in, which differs
# with the file layout.


@pytest.mark.parametrize(("layer", "model"), COMPARED_MODELS)
def test_incremental_build_equals_a_full_build(day_added, demo, layer, model):
    described = day_added.sql(f"describe {{s}}_{layer}.{model}")
    # partition columns are listed twice; `# Partition Information` rows end the list
    columns = dict.fromkeys((row[0], row[1]) for row in described
                            if row[0] and not row[0].startswith("#") and row[0] not in BUILD_COLUMNS)
    approximate = {name for name, kind in columns if is_approximate(name, kind)}
    # Floating-point sums may differ in the last bit with the order Spark adds
    # rows in (another file layout), so doubles are compared to 9 decimals;
    # sketches by their counts.
    def compared(name: str, kind: str) -> str:
        if kind in ("double", "float"):
            return f"round(`{name}`, 9)"
        return f"hll_sketch_estimate(`{name}`)" if is_sketch(name, kind) else f"`{name}`"

    exact = ", ".join(compared(name, kind) for name, kind in columns if name not in approximate)
    incremental, full = day_added.table(layer, model), demo.table(layer, model)
    rows = day_added.sql(f"select count(*) from {incremental}")[0][0]
    assert rows > 0, f"{model} is empty"
    for left, right in [(incremental, full), (full, incremental)]:
        extra = day_added.sql(f"select count(*) from (select {exact} from {left} except all select {exact} from {right})")
        assert extra[0][0] == 0, f"{model}: {extra[0][0]} rows of {left} not in {right}"
    if approximate:
        # the exact columns identify a row; its approximate ones agree within the bound
        def side(alias: str, name: str, kind: str) -> str:
            return compared(name, kind).replace(f"`{name}`", f"{alias}.`{name}`")

        on = " and ".join(f"{side('a', name, kind)} <=> {side('b', name, kind)}"
                          for name, kind in columns if name not in approximate)
        pairs = ", ".join(f"{side('a', name, kind)} as a_{name}, {side('b', name, kind)} as b_{name}"
                          for name, kind in columns if name in approximate)
        matched = day_added.frame(f"select {pairs} from {incremental} as a inner join {full} as b on {on}")
        assert len(matched) == rows
        for name in approximate:
            a, b = matched[f"a_{name}"].astype(float), matched[f"b_{name}"].astype(float)
            worst = ((a - b).abs() / b.where(b > 0)).max()
            assert not (worst > SKETCH_BOUND), f"{model}.{name}: counts differ by {worst:.2%}"


def failed_tests(result) -> set[str]:
    return {r.node.name for r in result.result.results if str(r.status).lower() == "fail"}


def test_reconciliations_check_the_latest_load_day_by_day_and_every_day_on_request(day_added):
    """The day-by-day reconciliations of a date-partitioned aggregate with the
    fact compare the dates the latest load rebuilt: a stray row in that day
    fails them; one in an older day is outside the default check and caught
    with `full_data_checks`."""
    table = day_added.table("marts", "fct_user_daily_activity")
    backup = day_added.table("marts", "user_daily_backup")
    reconciliations = ["--select", "fct_user_daily_activity,test_name:totals_match"]
    day_added.sql(f"create table {backup} using parquet as select * from {table}")
    try:
        for day, in_latest_load in [(day_added.last_day, True), (day_added.first_day, False)]:
            # one user-day counted twice (same loaded_at as its day's rows)
            day_added.sql(f"insert into {table} select * from {backup} where event_date = date'{day}' limit 1")
            default = day_added.dbt("test", *reconciliations, expect_success=not in_latest_load)
            assert bool(failed_tests(default)) == in_latest_load, (day, failed_tests(default))
            full = day_added.dbt("test", *reconciliations, vars={"full_data_checks": True}, expect_success=False)
            assert any("sum_events" in name for name in failed_tests(full)), (day, failed_tests(full))
            day_added.sql(f"insert overwrite table {table} select * from {backup} where event_date = date'{day}'")
        day_added.dbt("test", *reconciliations, vars={"full_data_checks": True})  # restored
    finally:
        day_added.sql(f"drop table if exists {backup}")


# --- training on a schedule, scoring every day --------------------------------

def test_a_new_day_scores_with_the_saved_models_and_trains_nothing(day_added):
    runs = training_runs(day_added)
    assert set(runs) == {"purchase_propensity", "cart_conversion", "product_recommendation"}
    assert runs == day_added.runs_before  # no run added by the last day's build
    status = dict(day_added.sql("select task, collect_set(status) from {s}_ml.ml_model_metrics group by task"))
    assert {task: sorted(values) for task, values in status.items()} == {
        task: ["reused"] for task in runs}
    # every score and recommendation of the last day's build comes from the earlier days' models
    (run_id,) = runs["purchase_propensity"]
    versions = {row[0] for row in day_added.sql(
        "select distinct model_version from {s}_ml.ml_purchase_predictions union all"
        " select distinct model_version from {s}_ml.ml_cart_predictions")}
    assert versions and all(version.endswith(run_id) for version in versions), (versions, run_id)
    scored = day_added.sql("select count(*), min(scored_at) from {s}_ml.ml_purchase_predictions")[0]
    latest_day = day_added.sql("select max(event_date) from {s}_marts.fct_user_daily_activity")[0][0]
    windows = dict(day_added.sql(
        "select split, end_date from {s}_ml.ml_training_windows where task = 'purchase_propensity'"))
    assert scored[0] > 0 and str(windows["score"]) == str(latest_day + dt.timedelta(days=1))


def saved_versions(folder: Path) -> set[str]:
    """The model versions saved under a model folder (ml.persist's layout)."""
    return {path.stem for path in folder.glob("*/*/*.json")}


def test_each_schema_scores_with_the_models_it_trained_and_saves_them_apart(day_added, demo, warehouse):
    """Two schemas on one warehouse (the demo month in one file, and in daily
    files with the last day added), different training data: each scores with
    its own runs' models, saved in its own folder."""
    folders = {}
    for scenario in (demo, day_added):
        own_runs = {run for runs in training_runs(scenario).values() for run in runs}
        versions = {row[0] for row in scenario.sql(
            "select distinct model_version from {s}_ml.ml_purchase_predictions union all"
            " select distinct model_version from {s}_ml.ml_cart_predictions")}
        assert versions and all(any(version.endswith(run) for run in own_runs) for version in versions), (
            versions, own_runs)
        folders[scenario.name] = saved_versions(warehouse / "ml_models" / f"{scenario.schema}_ml")
        assert versions <= folders[scenario.name]
    assert folders["demo"] and folders["day_added"] and not folders["demo"] & folders["day_added"]


def test_a_changed_training_set_definition_retrains(day_added):
    before = training_runs(day_added)
    # a window var the training sets are cut by: every task's definition changes
    # (the windows and training sets are rebuilt with it, as `dbt build` does)
    changed = {"ml_cart_test_days": day_added.vars["ml_cart_test_days"] + 1}
    selected = ["--select", "ml_training_windows", "ml_purchase_training_set", "ml_cart_training_set",
                "ml_training_runs"]
    day_added.dbt("run", *selected, vars=changed)
    after = training_runs(day_added)
    added = {task: after[task] - before.get(task, set()) for task in after}
    assert all(len(new) == 1 for new in added.values()), added
    reasons = dict(day_added.sql(
        "select task, text from {s}_ml.ml_training_runs where record = 'run' and measure = 'reason'"
        f" and run_id in ({', '.join(repr(next(iter(new))) for new in added.values())})"))
    assert set(reasons.values()) == {"its features, parameters or training-set definition changed"}, reasons
    day_added.dbt("run", *selected, vars=changed)  # the same definition again
    assert training_runs(day_added) == after
