"""`dbt build` on the real rows in tests/fixtures/rees46/2019-Oct-head5k.csv.

Expected figures come from the fixture's README (measured on the file
independently of this project) or from the raw file itself, read with the
standard library here.
"""

from __future__ import annotations

import csv

import pytest

from conftest import REAL_ROWS

pytestmark = pytest.mark.dbt


def raw_rows() -> list[tuple[str, ...]]:
    with REAL_ROWS.open(newline="") as handle:
        reader = csv.reader(handle)
        next(reader)  # header
        return [tuple(row) for row in reader]


def test_staged_event_counts_match_the_published_profile(real_rows):
    counts = dict(real_rows.sql(
        "select event_type, count(*) from {s}_staging.stg_events group by event_type"
    ))
    assert sum(counts.values()) == 4996
    assert counts == {"view": 4892, "cart": 50, "purchase": 54}


def test_exact_duplicates_are_collapsed_and_counted(real_rows):
    rows = raw_rows()
    expected_duplicates = len(rows) - len(set(rows))
    assert expected_duplicates == 3  # as the fixture's README says
    staged, source_rows = real_rows.sql(
        "select count(*), sum(source_row_count) from {s}_staging.stg_events"
    )[0]
    assert source_rows - staged == expected_duplicates
    assert real_rows.sql("select count(*) from {s}_staging.stg_events_quarantine")[0][0] == 0


def test_last_row_session_id_is_kept_as_found(real_rows):
    # The last row of a slice is where a cut-short copy would show: its session
    # id must be staged exactly as written (the truncated-line case itself is
    # covered in test_dbt_bad_input.py).
    last = raw_rows()[-1]
    found = real_rows.sql(
        "select count(*) from {s}_staging.stg_events"
        f" where user_session = '{last[8]}' and cast(event_at as string) = '{last[0][:19]}'"
    )[0][0]
    assert found == 1


def test_users_sessions_and_zero_prices_match_the_raw_file(real_rows):
    rows = set(raw_rows())
    users = {row[7] for row in rows}
    session_ids = {row[8] for row in rows if row[8]}
    user_sessions = {(row[7], row[8]) for row in rows}
    zero_prices = sum(1 for row in rows if float(row[6]) == 0)
    assert len(users) == 1747
    got_users, got_session_ids, got_zero = real_rows.sql(
        "select count(distinct user_id), count(distinct user_session), count_if(price = 0)"
        " from {s}_staging.stg_events"
    )[0]
    assert (got_users, got_session_ids, got_zero) == (len(users), len(session_ids), zero_prices)
    assert real_rows.sql("select count(*) from {s}_marts.fct_sessions")[0][0] == len(user_sessions)


def test_timestamps_are_utc_and_typed(real_rows):
    first = raw_rows()[0]
    row = real_rows.sql(
        "select cast(event_at as string), event_hour, event_date, category_id, price"
        f" from {{s}}_marts.fct_events where product_id = {first[2]} and user_id = {first[7]}"
        " order by event_at limit 1"
    )[0]
    assert row[0] == first[0].removesuffix(" UTC")
    assert row[1] == int(first[0][11:13])
    assert str(row[2]) == first[0][:10]
    assert row[3] == int(first[3])
    assert str(row[4]) == first[6]
