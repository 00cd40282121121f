"""Bad raw input: every case ends staged correctly or quarantined with a
reason, `dbt build` of staging and marts still passes, and the counts reconcile.

Each case below is one raw line with its expected fate, written here by hand;
the expectations do not come from the project's SQL.
"""

from __future__ import annotations

import datetime as dt
import gzip
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import NO_UNIT_TESTS, STAGING_SELECTION, new_scenario

pytestmark = pytest.mark.dbt

# now, to the second: the plausible range ends one day after the build starts
AN_HOUR_AGO = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
HEADER = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"


def good_line(n: int, day: int = 1, event_type: str = "view", time: str | None = None) -> str:
    """A well-formed line; `n` makes product and user ids unique to it."""
    stamp = time or f"2019-11-{day:02d} 10:{n % 60:02d}:00 UTC"
    return (
        f"{stamp},{event_type},{1000 + n},2053013552326770905,electronics.smartphone,apple,"
        f"{100 + n}.50,{500000000 + n},00000000-0000-4000-8000-{n:012d}"
    )


@dataclass(frozen=True)
class Case:
    line: str
    reason: str | None = None  # None: staged
    staged_at: str | None = None  # expected event_at (UTC) when staged

    @property
    def product_id(self) -> str:
        return self.line.split(",")[2]


BAD_VALUE_CASES = [
    Case(good_line(1, time="2019-11-03T10:00:00Z"), staged_at="2019-11-03 10:00:00"),
    Case(good_line(2, time="2019-11-03 12:00:00+02:00"), staged_at="2019-11-03 10:00:00"),
    Case(good_line(3, time="03/11/2019 10:00"), reason="unparseable event_time"),
    Case(good_line(4, event_type="wishlist"), reason="unknown event_type"),
    Case(good_line(5).replace(",105.50,", ",abc,"), reason="non-numeric price"),
    Case(good_line(6).replace(",106.50,", ",-5.00,"), reason="negative price"),
    Case(good_line(7).replace(",2053013552326770905,", ",2.05301E+18,"),
         reason="category_id in scientific notation (digits lost)"),
    Case(good_line(8).replace(",500000008,", ",,"), reason="missing user_id"),
    Case(good_line(9) + ",extra", reason="expected 9 fields, found 10"),
    Case(good_line(10).replace(",110.50,", ",0.00,"), staged_at="2019-11-01 10:10:00"),
    Case(good_line(11, event_type="remove_from_cart"), staged_at="2019-11-01 10:11:00"),
    # plausible range (defaults): from 2010-01-01 to one day after the build started
    Case(good_line(13, time="2035-06-01 10:00:00 UTC"), reason="event_time more than 1 day(s) after the build started"),
    Case(good_line(14, time="2009-12-31 23:59:59 UTC"), reason="event_time before 2010-01-01 (implausible)"),
    Case(good_line(15, time=f"{AN_HOUR_AGO} UTC"), staged_at=AN_HOUR_AGO),
]
DUPLICATED = good_line(12)
CRLF_LINES = [good_line(n, day=2) for n in (20, 21, 22)]
TRUNCATED_GOOD = [good_line(n, day=2) for n in (30, 31)]
TRUNCATED_TAIL = ",".join(good_line(32, day=2).split(",")[:3])  # cut off mid-row, no line ending
NO_HEADER_LINES = [good_line(n, day=3) for n in (40, 41)]
GZIP_LINES = [good_line(n, day=4) for n in (50, 51)]
BOM_LINES = [good_line(n, day=5) for n in (60, 61)]
# Files in the raw folder that are not event files: never read.
NOT_EVENT_FILES = {"partial.csv.part": 70, "backup.csv~": 71, "archive.csv.zip": 72, "notes.txt": 73}


def write_raw_files(raw_dir: Path) -> int:
    """Write the bad-input files; return the number of data lines written."""
    bad_values = [HEADER] + [case.line for case in BAD_VALUE_CASES] + [DUPLICATED, DUPLICATED, ""]
    (raw_dir / "bad_values.csv").write_text("\n".join(bad_values) + "\n")
    (raw_dir / "crlf.csv").write_bytes(("\r\n".join([HEADER, *CRLF_LINES]) + "\r\n").encode())
    (raw_dir / "truncated.csv").write_text("\n".join([HEADER, *TRUNCATED_GOOD, TRUNCATED_TAIL]))
    (raw_dir / "no_header.csv").write_text("\n".join(NO_HEADER_LINES) + "\n")
    (raw_dir / "empty.csv").write_text("")
    with gzip.open(raw_dir / "gzipped.csv.gz", "wt") as handle:
        handle.write("\n".join([HEADER, *GZIP_LINES]) + "\n")
    # a UTF-8 byte-order mark before the header, as some exports write it
    (raw_dir / "bom.csv").write_bytes(b"\xef\xbb\xbf" + ("\n".join([HEADER, *BOM_LINES]) + "\n").encode())
    for name, n in NOT_EVENT_FILES.items():
        (raw_dir / name).write_text("\n".join([HEADER, good_line(n, day=6)]) + "\n")
    return ((len(bad_values) - 1) + len(CRLF_LINES) + len(TRUNCATED_GOOD) + 1 + len(NO_HEADER_LINES)
            + len(GZIP_LINES) + len(BOM_LINES))


@pytest.fixture(scope="module")
def bad_input(warehouse):
    scenario = new_scenario("bad_input", warehouse)
    scenario.data_lines = write_raw_files(scenario.raw_dir)
    # staging up to the event fact, with their tests (raises if any model or
    # test fails): the reconciliation of raw lines = staged + duplicates +
    # quarantined runs on these lines. The marts read only the fact; the demo
    # and real-rows builds test them.
    scenario.dbt("build", *STAGING_SELECTION, *NO_UNIT_TESTS)
    return scenario


def staged_times(scenario, product_ids: list[str]) -> dict[str, str]:
    rows = scenario.sql(
        "select cast(product_id as string), cast(event_at as string) from {s}_staging.stg_events"
        f" where product_id in ({', '.join(product_ids)})"
    )
    return dict(rows)


def test_bad_values_are_staged_or_quarantined_with_their_reason(bad_input):
    reasons = dict(bad_input.sql(
        "select raw_line, quarantine_reason from {s}_staging.stg_events_quarantine"
    ))
    staged = staged_times(bad_input, [case.product_id for case in BAD_VALUE_CASES])
    for case in BAD_VALUE_CASES:
        if case.reason is None:
            assert staged.get(case.product_id) == case.staged_at, case.line
            assert case.line not in reasons
        else:
            assert reasons.get(case.line) == case.reason, case.line
            assert case.product_id not in staged


def test_blank_line_is_quarantined_not_dropped(bad_input):
    blank = bad_input.sql(
        "select count(*) from {s}_staging.stg_events_quarantine where quarantine_reason = 'blank line'"
    )[0][0]
    assert blank == 1


def test_exact_duplicate_is_staged_once_and_counted(bad_input):
    product_id = DUPLICATED.split(",")[2]
    rows = bad_input.sql(
        f"select source_row_count from {{s}}_staging.stg_events where product_id = {product_id}"
    )
    assert [row[0] for row in rows] == [2]


def test_crlf_no_header_and_gzip_files_are_staged_intact(bad_input):
    lines = CRLF_LINES + NO_HEADER_LINES + GZIP_LINES + TRUNCATED_GOOD
    expected = {line.split(",")[2]: line.split(",")[8] for line in lines}
    rows = dict(bad_input.sql(
        "select cast(product_id as string), user_session from {s}_staging.stg_events"
        f" where product_id in ({', '.join(expected)})"
    ))
    # the session id is the last field: a CR left over from CRLF would show here
    assert rows == expected


def test_a_byte_order_mark_before_the_header_is_recognised(bad_input):
    staged = staged_times(bad_input, [line.split(",")[2] for line in BOM_LINES])
    assert sorted(staged.values()) == ["2019-11-05 10:00:00", "2019-11-05 10:01:00"]
    from_file = bad_input.sql("select count(*) from {s}_staging.stg_events_quarantine where source_file = 'bom.csv'")
    assert from_file[0][0] == 0  # the header line was not taken for a malformed event


def test_only_csv_and_csv_gz_files_are_read(bad_input):
    files = {row[0] for row in bad_input.sql("select source_file from {s}_staging.stg_raw_files")}
    # (empty.csv has no line to load, so the manifest has no row for it)
    assert files == {"bad_values.csv", "crlf.csv", "truncated.csv", "no_header.csv", "gzipped.csv.gz", "bom.csv"}
    ignored = ", ".join(str(1000 + n) for n in NOT_EVENT_FILES.values())
    assert bad_input.sql(f"select count(*) from {{s}}_staging.stg_events where product_id in ({ignored})")[0][0] == 0


def test_truncated_last_line_is_quarantined(bad_input):
    reason = bad_input.sql(
        f"select quarantine_reason, source_file from {{s}}_staging.stg_events_quarantine"
        f" where raw_line = '{TRUNCATED_TAIL}'"
    )
    assert [tuple(row) for row in reason] == [("expected 9 fields, found 3", "truncated.csv")]


def test_every_raw_line_is_accounted_for(bad_input):
    staged_rows, quarantined = bad_input.sql(
        "select (select sum(source_row_count) from {s}_staging.stg_events),"
        " (select count(*) from {s}_staging.stg_events_quarantine)"
    )[0]
    assert staged_rows + quarantined == bad_input.data_lines


def test_missing_raw_data_fails_with_a_clear_message(warehouse):
    scenario = new_scenario("no_data", warehouse)  # empty raw folder
    result = scenario.dbt("build", "--select", "+stg_events", expect_success=False)
    assert not result.success
    from dbt_harness import describe_failures

    assert "No raw event lines found" in describe_failures(result)
    # a folder that does not exist, and one that holds only files that are not event files
    only_others = scenario.raw_dir / "only_others"
    only_others.mkdir()
    for name in NOT_EVENT_FILES:
        (only_others / name).write_text("\n".join([HEADER, good_line(1)]) + "\n")
    for path in (scenario.raw_dir / "does_not_exist", only_others):
        result = scenario.dbt("build", "--select", "+stg_events", vars={"raw_events_path": str(path)},
                              expect_success=False)
        assert f"No raw event lines found in '{path}'" in describe_failures(result)


def test_invalid_vars_give_one_error_line_before_any_table_is_touched(warehouse):
    scenario = new_scenario("bad_vars", warehouse)
    (scenario.raw_dir / "events.csv").write_text("\n".join([HEADER, good_line(1)]) + "\n")
    from dbt_harness import describe_failures

    bad = {"ml_feature_window_days": 0, "ml_label_window_days": -7, "peak_hour_count": "six",
           "hi_risk_min_z_carts": "high", "rfm_analysis_date": "2019-02-30",
           "plausible_event_days_ahead": -1, "plausible_event_date_min": "2010-13-01"}
    result = scenario.dbt("build", vars=bad, expect_success=False)
    message = describe_failures(result)
    assert not result.success and message.count("Invalid configuration") == 1
    for expected in ("ml_feature_window_days must be a whole number above 0, got '0'",
                     "ml_label_window_days must be a whole number above 0, got '-7'",
                     "peak_hour_count must be a whole number above 0, got 'six'",
                     "hi_risk_min_z_carts must be a number, got 'high'",
                     "rfm_analysis_date must be a date YYYY-MM-DD or null, got '2019-02-30'",
                     "plausible_event_days_ahead must be a whole number, 0 or more, got '-1'",
                     "plausible_event_date_min must be a date YYYY-MM-DD, got '2010-13-01'"):
        assert expected in message, expected
    quoted = scenario.dbt("build", vars={"raw_events_path": str(scenario.raw_dir) + "/it's"}, expect_success=False)
    assert "the raw path must not contain quotes" in describe_failures(quoted)
    # nothing was created: not even the raw schema the next hook would register
    schemas = {row[0] for row in scenario.sql("show schemas")}
    assert not any(name.startswith(scenario.schema) for name in schemas)


def test_a_raw_path_with_spaces_is_read(warehouse):
    scenario = new_scenario("spaced_path", warehouse)
    spaced = scenario.raw_dir / "raw files with spaces"
    spaced.mkdir()
    (spaced / "events.csv").write_text("\n".join([HEADER, good_line(1), good_line(2)]) + "\n")
    scenario.dbt("run", "--select", "base_rees46__event_lines", vars={"raw_events_path": str(spaced)})
    assert scenario.sql("select count(*) from {s}_staging.base_rees46__event_lines")[0][0] == 2


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_a_damaged_gzip_is_reported_by_name_and_nothing_is_half_written(warehouse, damage):
    from dbt_harness import describe_failures

    scenario = new_scenario(f"{damage}_gzip", warehouse)
    (scenario.raw_dir / "good.csv").write_text("\n".join([HEADER, good_line(1), good_line(2)]) + "\n")
    scenario.dbt("run", "--select", "+stg_events", "+stg_raw_files")
    # a whole file of events, gzipped, then damaged: cut in half, or its deflate stream overwritten
    lines = [HEADER] + [good_line(n, day=2) for n in range(100, 3100)]
    packed = gzip.compress(("\n".join(lines) + "\n").encode())
    damaged = packed[: len(packed) // 2] if damage == "truncated" else packed[:10] + b"\xff" * (len(packed) - 18) + packed[-8:]
    (scenario.raw_dir / "late.csv.gz").write_bytes(damaged)

    result = scenario.dbt("run", "--select", "+stg_events", "+stg_raw_files", expect_success=False)
    message = describe_failures(result)
    assert not result.success
    failing = [line for line in message.splitlines() if "late.csv.gz" in line]
    assert len(failing) == 1 and "Cannot read truncated or corrupt gzip file " in failing[0], message
    assert failing[0].endswith("Replace or remove it and run again; the statement that failed wrote nothing.")
    # nothing of the damaged file was written: the lines and the manifest hold only good.csv
    assert scenario.sql("select distinct source_file from {s}_staging.base_rees46__event_lines") == [("good.csv",)]
    assert [row[0] for row in scenario.sql("select source_file from {s}_staging.stg_raw_files")] == ["good.csv"]
    # once the file is replaced by an intact copy, the next run loads it
    (scenario.raw_dir / "late.csv.gz").write_bytes(packed)
    scenario.dbt("run", "--select", "+stg_events", "+stg_raw_files")
    assert scenario.sql("select count(*) from {s}_staging.stg_events")[0][0] == 2 + 3000
