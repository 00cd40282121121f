"""The benchmark's reference jobs (benchmarks/reference/): the PySpark and the DuckDB
job must give identical figures, and those figures must equal an independent
computation in pandas / plain Python straight from the raw CSV text.

Data: a generated month of ~20k events in daily files plus hand-written lines
(duplicates, session-less events, a session across midnight, invalid lines, header
lines in odd places) whose expected effect is also worked out by hand below.
The PySpark job runs as a subprocess through its CLI (its JVM must not be shared
with the dbt tests of this process); the DuckDB job runs in-process through run().
"""

from __future__ import annotations

import collections
import datetime as dt
import gzip
import json
import re
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.reference import duckdb_reference  # noqa: E402
from datagen import generate  # noqa: E402

FEATURES = ["views", "carts", "remove_from_carts", "purchases", "sessions", "active_days",
            "product_days", "avg_view_price", "revenue"]
HEADER = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"

USER_A, USER_B, USER_C, USER_MAX = 900000001, 900000002, 900000003, 9223372036854775807

# Valid lines. User A has no session ids on Nov 10 (derived sessions: 10:00-10:50,
# 11:20:01, 23:50) and one derived + one real session on Nov 11. User B's session
# "midnight-1" runs past midnight (two sessions, two purchase sessions); user C
# uses the same session id (a separate session).
GOOD_LINES = [
    "2019-11-10 10:00:00 UTC,view,1001,2001,,,10.00,900000001,",
    "2019-11-10 10:20:00 UTC,cart,1001,2001,,,10.00,900000001,",
    "2019-11-10 10:50:00 UTC,view,1002,2001,,,20.50,900000001,",          # gap of exactly 30 min
    "2019-11-10 11:20:01 UTC,purchase,1001,2001,,,10.00,900000001,",      # gap > 30 min
    "2019-11-10 11:20:01 UTC,view,1003,2001,,,5.00,900000001,",
    "2019-11-10 23:50:00 UTC,remove_from_cart,1002,2001,,,20.50,900000001,",
    "2019-11-11 00:05:00 UTC,purchase,1002,2001,,,20.50,900000001,",
    "2019-11-11 00:10:00 UTC,view,1002,2001,electronics.phone,acme,20.50,900000001,abc",
    "2019-11-12 23:55:00 UTC,purchase,1004,2002,,brandx,99.99,900000002,midnight-1",
    "2019-11-13 00:10:00 UTC,purchase,1004,2002,,brandx,99.99,900000002,midnight-1",
    "2019-11-13 00:12:00 UTC, Purchase ,1005,2002,,brandx,1.005,900000002,midnight-1",  # -> 1.01
    "2019-11-12 23:56:00 UTC,view,1004,2002,,,99.99,900000003,midnight-1",
    "2019-11-20 12:00:00 UTC,view,1006,2003,,,0,9223372036854775807,max-user",
]
# Duplicates of the above: exact, and equal once normalised (trim, case, 001001, 10.0).
DUPLICATE_LINES = [
    "2019-11-10 10:00:00 UTC,view,1001,2001,,,10.00,900000001,",
    " 2019-11-10 10:20:00 UTC , CART ,001001, 2001 ,  , ,10.0,900000001, ",
]
BAD_LINES = [
    "",
    "   ",
    "2019-11-10 10:00:00 UTC,view,1,2,,,1.00,900000009",                   # 8 fields
    "2019-11-10 10:00:00 UTC,view,1,2,,,1.00,900000009,s,extra",           # 10 fields
    "2019-11-31 10:00:00 UTC,view,1,2,,,1.00,900000009,s",                 # no such day
    "yesterday,view,1,2,,,1.00,900000009,s",
    "2019-11-10 10:00:00 UTC,click,1,2,,,1.00,900000009,s",
    "2019-11-10 10:00:00 UTC,view,-5,2,,,1.00,900000009,s",
    "2019-11-10 10:00:00 UTC,view,99999999999999999999,2,,,1.00,900000009,s",  # > int64
    "2019-11-10 10:00:00 UTC,view,1,2.05e+18,,,1.00,900000009,s",
    "2019-11-10 10:00:00 UTC,view,1,2,,,,900000009,s",
    "2019-11-10 10:00:00 UTC,view,1,2,,,abc,900000009,s",
    "2019-11-10 10:00:00 UTC,view,1,2,,,-1.00,900000009,s",
    "2019-11-10 10:00:00 UTC,view,1,2,,,12345678901.00,900000009,s",       # > decimal(12,2)
    "2019-11-10 10:00:00 UTC,view,1,2,,,9999999999.995,900000009,s",       # rounds past it
    "2019-11-10 10:00:00 UTC,view,1,2,,,1e3,900000009,s",
    "2019-11-10 10:00:00 UTC,view,1,2,,,1.00,,s",
    "2019-11-10 10:00:00 UTC,view,1,2,,,1.00,12x,s",
    "2019-11-10 10:00:00 UTC,view,1,2,,,1.00,9223372036854775808,s",       # > int64
]


# ------------------------------------------------------------------ the data set

@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = tmp_path_factory.mktemp("reference_raw")
    generate(raw, events=20_000, seed=5, daily_files=True, remove_from_cart=True)
    first_generated = (raw / "2019-Nov-05.csv").read_text().splitlines()[1]
    # gzip, no header; a copy of a generated line from another file
    with gzip.open(raw / "extra-a.csv.gz", "wt", encoding="utf-8") as out:
        out.write("\n".join(GOOD_LINES[:7] + BAD_LINES[:10] + [first_generated]) + "\n")
    # plain, headers at the top and in the middle, CRLF endings, no final newline
    rest = [HEADER] + GOOD_LINES[7:] + DUPLICATE_LINES + [" " + HEADER.upper() + " "] + BAD_LINES[10:]
    (raw / "extra-b.csv").write_bytes("\r\n".join(rest).encode("utf-8"))
    (raw / "notes.txt").write_text("not a csv file: ignored\n")
    return raw


# ------------------------------------------- independent computation (plain Python + pandas)

TIME_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} UTC")
INTEGER_TEXT = re.compile(r"[0-9]+")
DECIMAL_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")
INT64_MAX = 2**63 - 1


def parse_line(line: str) -> tuple | None:
    """The nine normalised fields of a valid line, None for an invalid one."""
    fields = [f.strip(" ") for f in line.split(",")]
    if line.strip(" ") == "" or len(fields) != 9:
        return None
    time_text, event_type, product, category, code, brand, price_text, user, session = fields
    if not TIME_TEXT.fullmatch(time_text):
        return None
    try:
        event_at = dt.datetime.strptime(time_text, "%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return None
    event_type = event_type.lower()
    if event_type not in ("view", "cart", "purchase", "remove_from_cart"):
        return None
    for text in (product, category, user):
        if not INTEGER_TEXT.fullmatch(text) or int(text) > INT64_MAX:
            return None
    if not DECIMAL_TEXT.fullmatch(price_text):
        return None
    price = Decimal(price_text).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if price < 0 or price >= Decimal(10) ** 10:
        return None
    return (event_at, event_type, int(product), int(category), code or None, brand or None,
            price, int(user), session or None)


def raw_lines(raw: Path) -> list[str]:
    lines = []
    for path in sorted([*raw.glob("*.csv"), *raw.glob("*.csv.gz")]):
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8", newline=None) as f:  # \r\n -> \n
            text = f.read()
        lines += text[:-1].split("\n") if text.endswith("\n") else text.split("\n")
    return [line for line in lines if not line.strip(" ").lower().startswith("event_time,event_type,")]


@pytest.fixture(scope="module")
def expected(raw_dir: Path) -> dict:
    lines = raw_lines(raw_dir)
    parsed = [parse_line(line) for line in lines]
    counts = collections.Counter(p for p in parsed if p is not None)
    events = pd.DataFrame(list(counts), columns=[
        "event_at", "event_type", "product_id", "category_id", "category_code", "brand",
        "price", "user_id", "user_session"])
    events["event_date"] = events["event_at"].dt.date

    # sessions: (user, day, session id), or gaps > 30 min within a user's day
    events["session"] = (events["user_id"].astype(str) + "|" + events["event_date"].astype(str)
                         + "|id|" + events["user_session"].fillna(""))
    no_id = events[events["user_session"].isna()].sort_values(["user_id", "event_date", "event_at"])
    gap = no_id.groupby(["user_id", "event_date"])["event_at"].diff()
    starts = (gap.isna() | (gap > pd.Timedelta(minutes=30))).astype(int)
    number = starts.groupby([no_id["user_id"], no_id["event_date"]]).cumsum()
    events.loc[no_id.index, "session"] = (no_id["user_id"].astype(str) + "|"
                                          + no_id["event_date"].astype(str) + "|gap|" + number.astype(str))

    is_type = {t: events["event_type"] == t for t in ("view", "cart", "purchase", "remove_from_cart")}
    daily = events.groupby("event_date").agg(
        unique_users=("user_id", "nunique"), sessions=("session", "nunique"))
    daily["views"] = is_type["view"].groupby(events["event_date"]).sum()

    buys = events[is_type["purchase"]]
    rfm = buys.groupby("user_id").agg(last_purchase_at=("event_at", "max"),
                                      frequency=("session", "nunique"),
                                      monetary=("price", lambda p: sum(p, Decimal(0))))
    analysis_date = events["event_date"].max() + dt.timedelta(days=1)
    rfm["recency_days"] = [(analysis_date - t.date()).days for t in rfm["last_purchase_at"]]
    n = len(rfm)
    ranks = {"r": rfm["recency_days"].rank(method="min", ascending=False),
             "f": rfm["frequency"].rank(method="min"),
             "m": rfm["monetary"].astype(float).rank(method="min")}  # floats of 2-decimal sums keep order
    scores = {k: 1 + (5 * (r.astype(int) - 1)) // n for k, r in ranks.items()}
    rfm["rfm_score"] = scores["r"].astype(str) + scores["f"].astype(str) + scores["m"].astype(str)

    grouped = events.groupby("user_id")
    users = pd.DataFrame({
        "views": is_type["view"].groupby(events["user_id"]).sum(),
        "carts": is_type["cart"].groupby(events["user_id"]).sum(),
        "remove_from_carts": is_type["remove_from_cart"].groupby(events["user_id"]).sum(),
        "purchases": is_type["purchase"].groupby(events["user_id"]).sum(),
        "sessions": grouped["session"].nunique(),
        "active_days": grouped["event_date"].nunique(),
        "product_days": events[~is_type["purchase"]].drop_duplicates(["user_id", "event_date", "product_id"])
                                                   .groupby("user_id").size(),
    })
    users["product_days"] = users["product_days"].fillna(0).astype(int)
    view_price = events[is_type["view"]].groupby("user_id")["price"].apply(lambda p: sum(p, Decimal(0)))
    users["avg_view_price"] = [float(view_price[u]) / v if v else 0.0
                               for u, v in zip(users.index, users["views"])]
    revenue = buys.groupby("user_id")["price"].apply(lambda p: sum(p, Decimal(0)))
    users["revenue"] = [revenue.get(u, Decimal("0.00")) for u in users.index]
    for f in FEATURES:
        logged = np.log(1 + users[f].astype(float))
        sd = logged.std(ddof=1)
        users[f"z_{f}"] = (logged - logged.mean()) / sd if sd > 0 else 0.0

    return {
        "lines": len(lines),
        "staged_events": len(counts),
        "source_rows": sum(counts.values()),
        "quarantined_lines": sum(p is None for p in parsed),
        "revenue": sum(buys["price"], Decimal(0)),
        "daily": daily,
        "rfm": rfm,
        "users": users,
    }


# ------------------------------------------------------------------- the jobs

@pytest.fixture(scope="module")
def pyspark_run(raw_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("reference_spark")
    script = REPO / "benchmarks" / "reference" / "pyspark_reference.py"
    done = subprocess.run(
        [sys.executable, str(script), "--raw", str(raw_dir), "--out", str(out), "--threads", "2",
         "--driver-memory", "1g", "--shuffle-partitions", "2"],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), out


@pytest.fixture(scope="module")
def duckdb_run(raw_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("reference_duckdb")
    return duckdb_reference.run(raw_dir, out, 2, memory_limit="1GB"), out


@pytest.fixture(scope="module", params=["pyspark", "duckdb"])
def job(request: pytest.FixtureRequest) -> tuple[dict, Path]:
    return request.getfixturevalue(f"{request.param}_run")


def read(out: Path, table: str) -> pd.DataFrame:
    return pd.read_parquet(out / table)


# ------------------------------------------------------------------- the tests

def test_result_shape(job: tuple[dict, Path]) -> None:
    result, _ = job
    assert result["engine"] in ("pyspark", "duckdb")
    assert result["threads"] == 2
    assert set(result["seconds"]) == {"staging", "daily_funnel", "rfm", "user_zscores", "total"}
    assert all(s > 0 for s in result["seconds"].values())
    assert result["seconds"]["total"] >= max(v for k, v in result["seconds"].items() if k != "total")


def test_both_references_agree(pyspark_run: tuple[dict, Path], duckdb_run: tuple[dict, Path]) -> None:
    assert pyspark_run[0]["figures"] == duckdb_run[0]["figures"]


def test_staging_counts(job: tuple[dict, Path], expected: dict) -> None:
    figures, out = job[0]["figures"], job[1]
    # the hand-written lines: every bad line is quarantined, two duplicates collapse,
    # one generated line is repeated, and the generator adds a few duplicates itself
    assert figures["quarantined_lines"] == len(BAD_LINES) == expected["quarantined_lines"]
    assert figures["source_rows"] == expected["source_rows"] == expected["lines"] - len(BAD_LINES)
    assert figures["staged_events"] == expected["staged_events"]
    assert figures["source_rows"] - figures["staged_events"] >= len(DUPLICATE_LINES) + 1
    staged = read(out, "staging")
    assert len(staged) == figures["staged_events"]
    assert staged["event_date"].astype(str).nunique() == figures["days"] == 30
    price = staged.loc[(staged["user_id"] == USER_B) & (staged["product_id"] == 1005), "price"]
    assert list(price) == [Decimal("1.01")]


def test_daily_funnel(job: tuple[dict, Path], expected: dict) -> None:
    figures, out = job[0]["figures"], job[1]
    funnel = read(out, "daily_funnel")
    funnel["event_date"] = pd.to_datetime(funnel["event_date"]).dt.date
    got = funnel.set_index("event_date").sort_index()
    want = expected["daily"].sort_index()
    assert list(got.index) == list(want.index)
    for column in ("views", "unique_users", "sessions"):
        assert got[column].astype(int).tolist() == want[column].astype(int).tolist(), column
    assert figures["views"] == int(want["views"].sum())
    assert figures["sessions"] == int(want["sessions"].sum())
    assert figures["revenue"] == f"{expected['revenue']:.2f}"
    rates = got["view_to_cart_rate"].to_numpy()
    assert np.allclose(rates, got["carts"] / got["views"], rtol=0, atol=1e-12)
    # Nov 12: users B and C share the id "midnight-1" but are two sessions
    nov12 = dt.date(2019, 11, 12)
    assert nov12 in got.index and got.loc[nov12, "sessions"] == want.loc[nov12, "sessions"]


def test_rfm(job: tuple[dict, Path], expected: dict) -> None:
    figures, out = job[0]["figures"], job[1]
    want = expected["rfm"]
    assert figures["rfm_users"] == len(want)
    assert figures["rfm_frequency_sum"] == int(want["frequency"].sum())
    assert figures["rfm_monetary_sum"] == f"{sum(want['monetary'], Decimal(0)):.2f}"
    assert figures["rfm_recency_sum"] == int(want["recency_days"].sum())
    assert figures["rfm_score_counts"] == want["rfm_score"].value_counts().sort_index().to_dict()
    got = read(out, "rfm").set_index("user_id")
    # worked out by hand: A bought in two derived sessions, B in "midnight-1" on two days
    assert got.loc[USER_A, "frequency"] == want.loc[USER_A, "frequency"] == 2
    assert got.loc[USER_A, "monetary"] == Decimal("30.50")
    assert got.loc[USER_B, "frequency"] == want.loc[USER_B, "frequency"] == 2
    assert got.loc[USER_B, "monetary"] == Decimal("200.99")
    assert USER_C not in got.index
    assert (got["rfm_score"] == want["rfm_score"].reindex(got.index)).all()


def test_user_zscores(job: tuple[dict, Path], expected: dict) -> None:
    figures, out = job[0]["figures"], job[1]
    want = expected["users"]
    got = read(out, "user_zscores").set_index("user_id").sort_index()
    assert figures["zscore_users"] == len(want) == len(got)
    assert list(got.index) == list(want.index)
    # worked out by hand for the session-less user A and the users of "midnight-1"
    a = got.loc[USER_A]
    assert (a["views"], a["carts"], a["remove_from_carts"], a["purchases"]) == (4, 1, 1, 2)
    assert (a["sessions"], a["active_days"], a["product_days"]) == (5, 2, 4)
    assert a["avg_view_price"] == pytest.approx(14.0, abs=1e-12)
    assert (got.loc[USER_B, "sessions"], got.loc[USER_C, "sessions"]) == (2, 1)
    assert got.loc[USER_B, "avg_view_price"] == 0.0
    for f in ("views", "carts", "remove_from_carts", "purchases", "sessions", "active_days", "product_days"):
        assert got[f].astype(int).tolist() == want[f].astype(int).tolist(), f
    assert np.allclose(got["avg_view_price"], want["avg_view_price"], rtol=0, atol=1e-9)
    assert [Decimal(str(v)) for v in got["revenue"]] == list(want["revenue"])
    for f in FEATURES:
        z_got, z_want = got[f"z_{f}"].to_numpy(), want[f"z_{f}"].astype(float).to_numpy()
        assert np.abs(z_got - z_want).max() < 1e-9, f
        assert figures["zscore_abs_sums"][f] == pytest.approx(np.abs(z_want).sum(), abs=1e-5), f
        assert abs(figures["zscore_sums"][f]) < 1e-6, f  # zero by construction
    for user in (USER_A, USER_B, USER_MAX):
        assert got.loc[user, "z_sessions"] == pytest.approx(want.loc[user, "z_sessions"], abs=1e-9)
