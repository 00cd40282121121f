"""The benchmark's reference jobs (benchmarks/reference/): the PySpark and the DuckDB
job must give identical figures, and those figures must equal an independent
computation in pandas / plain Python straight from the raw CSV text.

Data: a generated month of ~20k events in daily files plus hand-written lines
(duplicates, session-less events, a session across midnight, invalid lines, header
lines in odd places, buyers with 1 to 7 purchase sessions) whose expected effect is
also worked out by hand below; the jobs read the project's seeds. A second, tiny
data set of ten buyers (ties across quintile boundaries in recency and monetary,
every F band) runs with edited seeds in a temporary folder and an explicit analysis
date, so the RFM scores must come from the files and the option, not from code.
The PySpark job runs as a subprocess through its CLI (its JVM must not be shared
with the dbt tests of this process); the DuckDB job runs in-process through run().
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import gzip
import importlib.util
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
PROJECT_SEEDS = REPO / "seeds"
SCORE_FIGURES = ["rfm_r_score_counts", "rfm_f_score_counts", "rfm_m_score_counts", "rfm_segment_counts",
                 "rfm_score_counts", "rfm_r_score_sum", "rfm_f_score_sum", "rfm_m_score_sum"]

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


# Buyers with 1 to 7 purchase sessions (user 900000100 + k has k), each spending
# 42.00 in all (a seven-way tie in monetary). Buyer 4 has a session running past
# midnight (two sessions), buyer 5 buys twice in one session (one session).
F_BAND_USER = 900000100
F_BAND_PRICES = {1: "42.00", 2: "21.00", 3: "14.00", 4: "10.50", 5: "7.00", 6: "7.00", 7: "6.00"}
# what the project's seed (1, 2, 3, 4-5, 6+ purchase sessions -> 1..5) gives each
PROJECT_F_BY_SESSIONS = {1: 1, 2: 2, 3: 3, 4: 4, 5: 4, 6: 5, 7: 5}


def f_band_lines() -> list[str]:
    lines = []
    for k, price in F_BAND_PRICES.items():
        user = F_BAND_USER + k
        days = range(14, 14 + (k - 2 if k == 4 else k))  # buyer 4: the night session counts twice
        for i, day in enumerate(days):
            lines.append(f"2019-11-{day:02d} 12:00:00 UTC,purchase,{3000 + i},4001,,,{price},{user},f{k}-{i}")
        if k == 4:
            lines += [f"2019-11-21 23:59:00 UTC,purchase,3100,4001,,,{price},{user},f4-night",
                      f"2019-11-22 00:01:00 UTC,purchase,3101,4001,,,{price},{user},f4-night"]
        if k == 5:
            lines.append(f"2019-11-14 12:05:00 UTC,purchase,3200,4001,,,{price},{user},f5-0")
    return lines


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
    (raw / "extra-c.csv").write_text("\n".join([HEADER, *f_band_lines()]) + "\n")
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


def read_seeds(seeds: Path) -> tuple[list[tuple[int, int]], dict[tuple[int, int], str]]:
    """The two RFM seeds with the csv module: (f_score, min_frequency) rows, and
    (r_score, f_score) -> rfm_segment."""
    with (seeds / "rfm_frequency_scores.csv").open(newline="") as f:
        thresholds = [(int(row["f_score"]), int(row["min_frequency"])) for row in csv.DictReader(f)]
    with (seeds / "rfm_segment_map.csv").open(newline="") as f:
        segments = {(int(row["r_score"]), int(row["f_score"])): row["rfm_segment"] for row in csv.DictReader(f)}
    return thresholds, segments


def first_position_scores(values: pd.Series, ascending: bool) -> pd.Series:
    """Quintile scores as the docs word them: sort the n buyers (recency descending,
    money ascending), the buyer at position p (0-based) would score
    1 + floor(5 p / n), and buyers with equal values all take the score of their
    value's first position. Written without rank()."""
    order = sorted(values.items(), key=lambda item: item[1], reverse=not ascending)
    score_of_value: dict = {}
    for position, (_, value) in enumerate(order):
        score_of_value.setdefault(value, 1 + (5 * position) // len(order))
    return values.map(score_of_value)


def ties_cross_a_boundary(values: pd.Series, ascending: bool) -> bool:
    """True when some tie group spans positions that would score differently
    (so treating ties as the project does matters for the scores)."""
    order = sorted(values, reverse=not ascending)
    scores: dict = collections.defaultdict(set)
    for position, value in enumerate(order):
        scores[value].add(1 + (5 * position) // len(order))
    return any(len(s) > 1 for s in scores.values())


def score_rfm(rfm: pd.DataFrame, seeds: Path) -> pd.DataFrame:
    """r, f, m scores, segment, code and total of the buyers in `rfm` (recency_days,
    frequency, monetary as Decimal)."""
    thresholds, segments = read_seeds(seeds)
    rfm = rfm.copy()
    rfm["r_score"] = first_position_scores(rfm["recency_days"], ascending=False)
    rfm["m_score"] = first_position_scores(rfm["monetary"], ascending=True)  # Decimals compare exactly
    # F, as seeds.yml words it: the highest score whose min_frequency the frequency reaches
    rfm["f_score"] = [max((score for score, minimum in thresholds if minimum <= frequency), default=None)
                      for frequency in rfm["frequency"]]
    rfm["rfm_segment"] = [segments.get((r, f)) for r, f in zip(rfm["r_score"], rfm["f_score"])]
    rfm["rfm_score"] = rfm["r_score"].astype(str) + rfm["f_score"].astype(str) + rfm["m_score"].astype(str)
    rfm["rfm_total_score"] = rfm["r_score"] + rfm["f_score"] + rfm["m_score"]
    return rfm


def score_figures(rfm: pd.DataFrame) -> dict:
    """The score figures the jobs report, from the pandas scores."""
    def counts(column: str) -> dict[str, int]:
        keys = ["null" if value is None else str(value) for value in rfm[column]]
        return dict(sorted(collections.Counter(keys).items()))
    return {
        "rfm_r_score_counts": counts("r_score"),
        "rfm_f_score_counts": counts("f_score"),
        "rfm_m_score_counts": counts("m_score"),
        "rfm_segment_counts": counts("rfm_segment"),
        "rfm_score_counts": counts("rfm_score"),
        "rfm_r_score_sum": int(rfm["r_score"].sum()),
        "rfm_f_score_sum": int(rfm["f_score"].sum()),
        "rfm_m_score_sum": int(rfm["m_score"].sum()),
    }


@pytest.fixture(scope="module")
def expected(raw_dir: Path) -> dict:
    return compute_expected(raw_lines(raw_dir), PROJECT_SEEDS)


def compute_expected(lines: list[str], seeds: Path, analysis_date: dt.date | None = None) -> dict:
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
    analysis_date = analysis_date or events["event_date"].max() + dt.timedelta(days=1)
    rfm["recency_days"] = [(analysis_date - t.date()).days for t in rfm["last_purchase_at"]]
    rfm = score_rfm(rfm, seeds)

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
        "rfm_figures": score_figures(rfm),
        "analysis_date": analysis_date,
        "users": users,
    }


# ------------------------------------------------------------------- the jobs

def run_pyspark(raw: Path, out: Path, *extra: str) -> dict:
    script = REPO / "benchmarks" / "reference" / "pyspark_reference.py"
    done = subprocess.run(
        [sys.executable, str(script), "--raw", str(raw), "--out", str(out), "--threads", "2",
         "--driver-memory", "1g", "--shuffle-partitions", "2", *extra],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def pyspark_run(raw_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    # no --seeds: the default must be the project's seeds/, as in the benchmark
    out = tmp_path_factory.mktemp("reference_spark")
    return run_pyspark(raw_dir, out), out


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


def assert_scores_match(figures: dict, out: Path, want: pd.DataFrame) -> None:
    """Every buyer's scores, segment, code and total, and the score figures, as pandas has them."""
    got = read(out, "rfm").set_index("user_id").sort_index()
    want = want.sort_index()
    assert list(got.index) == list(want.index)
    for column in ("recency_days", "frequency", "r_score", "f_score", "m_score", "rfm_total_score"):
        assert got[column].astype(int).tolist() == want[column].astype(int).tolist(), column
    for column in ("rfm_segment", "rfm_score"):
        assert got[column].tolist() == want[column].tolist(), column
    want_figures = score_figures(want)
    assert {k: figures[k] for k in SCORE_FIGURES} == want_figures
    # a figure that could not tell two results apart would be no check: each
    # count dict covers every buyer
    for name in SCORE_FIGURES:
        if name.endswith("_counts"):
            assert sum(figures[name].values()) == figures["rfm_users"] == len(want), name


def test_rfm_scores_and_segments(job: tuple[dict, Path], expected: dict) -> None:
    """The project's R, M quintiles, F thresholds and segments, on the month (project seeds)."""
    figures, out = job[0]["figures"], job[1]
    want = expected["rfm"]
    # what the data must exercise: every F band, and recency ties across a quintile boundary
    assert set(want["f_score"]) == {1, 2, 3, 4, 5}
    assert ties_cross_a_boundary(want["recency_days"], ascending=False)
    assert (want["monetary"] == Decimal("42.00")).sum() >= len(F_BAND_PRICES)
    assert_scores_match(figures, out, want)


def test_frequency_bands_by_hand(job: tuple[dict, Path]) -> None:
    """The hand-written buyers: k purchase sessions score F as the project's seed says
    (1, 2, 3, 4-5, 6+), with the night session counted on both days."""
    got = read(job[1], "rfm").set_index("user_id")
    segments = read_seeds(PROJECT_SEEDS)[1]
    for k, f_score in PROJECT_F_BY_SESSIONS.items():
        buyer = got.loc[F_BAND_USER + k]
        assert (buyer["frequency"], buyer["f_score"], buyer["monetary"]) == (k, f_score, Decimal("42.00")), k
        assert buyer["rfm_segment"] == segments[(buyer["r_score"], buyer["f_score"])], k
    # the seven-way tie in monetary shares one M score
    assert got.loc[[F_BAND_USER + k for k in F_BAND_PRICES], "m_score"].nunique() == 1


# ------------------------------------------- edited seeds and an analysis date, ten buyers

SMALL_USER = 910000000
SMALL_ANALYSIS_DATE = dt.date(2019, 12, 10)
# Edited thresholds, columns swapped and rows out of order (read by name, ordered by
# min_frequency): 1-2 -> 1, 3 -> 2, 4 -> 3, 5-6 -> 4, 7+ -> 5.
SMALL_FREQUENCY_SEED = "min_frequency,f_score\n5,4\n1,1\n7,5\n3,2\n4,3\n"
SMALL_F_BY_SESSIONS = {1: 1, 2: 1, 3: 2, 4: 3, 5: 4, 6: 4, 7: 5}


def small_lines() -> list[str]:
    """Ten buyers and one viewer. Buyer k (1-7) buys for 10.00 in k sessions on
    1..k November; buyer 8 in one session across midnight (two sessions), buyer 9
    twice without a session id 31 minutes apart (two sessions) on 2 November,
    buyer 10 twice in one session on 5 November. Monetary 10, 20, 20, 30, 30, 30,
    40, ... and last purchases 1, 2, 2, 3, 4, 5, 5, ... November put tie groups
    across quintile boundaries in both M and R."""
    lines = [f"2019-11-{i + 1:02d} 12:00:00 UTC,purchase,{5000 + i},6001,,,10.00,{SMALL_USER + k},s{k}-{i}"
             for k in range(1, 8) for i in range(k)]
    lines += [
        f"2019-11-20 23:59:00 UTC,purchase,5100,6001,,,10.00,{SMALL_USER + 8},s8-night",
        f"2019-11-21 00:01:00 UTC,purchase,5101,6001,,,10.00,{SMALL_USER + 8},s8-night",
        f"2019-11-02 10:00:00 UTC,purchase,5200,6001,,,15.00,{SMALL_USER + 9},",
        f"2019-11-02 10:31:00 UTC,purchase,5201,6001,,,15.00,{SMALL_USER + 9},",
        f"2019-11-05 09:00:00 UTC,purchase,5300,6001,,,15.00,{SMALL_USER + 10},s10-a",
        f"2019-11-05 09:10:00 UTC,purchase,5301,6001,,,15.00,{SMALL_USER + 10},s10-a",
        f"2019-11-25 08:00:00 UTC,view,5400,6001,,,99.00,{SMALL_USER + 99},viewer",
    ]
    return lines


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The ten buyers' raw file, and a seeds folder with edited thresholds and a
    segment map naming every cell (a quoted name with a comma and an apostrophe)."""
    raw = tmp_path_factory.mktemp("small_raw")
    (raw / "small.csv").write_text("\n".join([HEADER, *small_lines()]) + "\n")
    seeds = tmp_path_factory.mktemp("small_seeds")
    (seeds / "rfm_frequency_scores.csv").write_text(SMALL_FREQUENCY_SEED)
    cells = [f'{f},{r},"Cell {r},{f}: can\'t"' for r in range(1, 6) for f in range(1, 6)]
    (seeds / "rfm_segment_map.csv").write_text("\n".join(["f_score,r_score,rfm_segment", *cells]) + "\n")
    return raw, seeds


@pytest.fixture(scope="module")
def small_expected(small_data: tuple[Path, Path]) -> dict:
    raw, seeds = small_data
    return compute_expected(raw_lines(raw), seeds, SMALL_ANALYSIS_DATE)


@pytest.fixture(scope="module")
def small_pyspark_run(small_data: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    raw, seeds = small_data
    out = tmp_path_factory.mktemp("small_spark")
    return run_pyspark(raw, out, "--seeds", str(seeds), "--analysis-date", SMALL_ANALYSIS_DATE.isoformat()), out


@pytest.fixture(scope="module")
def small_duckdb_run(small_data: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    raw, seeds = small_data
    out = tmp_path_factory.mktemp("small_duckdb")
    return duckdb_reference.run(raw, out, 2, memory_limit="1GB", seeds_dir=seeds,
                                analysis_date=SMALL_ANALYSIS_DATE.isoformat()), out


@pytest.fixture(scope="module", params=["pyspark", "duckdb"])
def small_job(request: pytest.FixtureRequest) -> tuple[dict, Path]:
    return request.getfixturevalue(f"small_{request.param}_run")


def test_small_scores_follow_the_seed_files(small_job: tuple[dict, Path], small_expected: dict,
                                            small_data: tuple[Path, Path]) -> None:
    figures, out = small_job[0]["figures"], small_job[1]
    want = small_expected["rfm"]
    # what the data must exercise: ties across a boundary in R and in M, every edited
    # F band, and F scores the project's seed would score differently
    assert ties_cross_a_boundary(want["recency_days"], ascending=False)
    assert ties_cross_a_boundary(want["monetary"], ascending=True)
    assert set(want["f_score"]) == {1, 2, 3, 4, 5}
    assert (score_rfm(want, PROJECT_SEEDS)["f_score"] != want["f_score"]).any()
    assert_scores_match(figures, out, want)
    got = read(out, "rfm").set_index("user_id")
    # by hand: frequencies of the ten buyers and F under the edited thresholds
    frequencies = {**{SMALL_USER + k: k for k in range(1, 8)},
                   SMALL_USER + 8: 2, SMALL_USER + 9: 2, SMALL_USER + 10: 1}
    assert got["frequency"].to_dict() == frequencies
    assert got["f_score"].to_dict() == {u: SMALL_F_BY_SESSIONS[k] for u, k in frequencies.items()}
    assert got.loc[SMALL_USER + 1, "rfm_segment"] == f"Cell {got.loc[SMALL_USER + 1, 'r_score']},1: can't"
    # recency to the given analysis date, not to the day after the last event (26 Nov)
    assert got.loc[SMALL_USER + 8, "recency_days"] == (SMALL_ANALYSIS_DATE - dt.date(2019, 11, 21)).days
    assert figures["rfm_users"] == 10 and SMALL_USER + 99 not in got.index


def test_small_references_agree(small_pyspark_run: tuple[dict, Path], small_duckdb_run: tuple[dict, Path]) -> None:
    assert small_pyspark_run[0]["figures"] == small_duckdb_run[0]["figures"]


def test_missing_seed_file_stops_the_job(raw_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "rfm_frequency_scores.csv").write_text("f_score,min_frequency\n1,1\n")
    with pytest.raises(SystemExit, match="rfm_segment_map.csv"):
        duckdb_reference.run(raw_dir, tmp_path / "out", 2, memory_limit="1GB", seeds_dir=tmp_path / "seeds")


# ----------------------------------------------- the benchmark compares the scores

def load_benchmark_script():
    spec = importlib.util.spec_from_file_location("benchmark_script", REPO / "scripts" / "benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_compares_the_score_figures(pyspark_run: tuple[dict, Path], duckdb_run: tuple[dict, Path]) -> None:
    benchmark = load_benchmark_script()
    spark_figures, duck_figures = pyspark_run[0]["figures"], duckdb_run[0]["figures"]
    assert set(SCORE_FIGURES) <= set(benchmark.COMPARED_FIGURES)
    # every compared figure is one the references report, and one the project's query reads
    # (by name in its SQL, or as a counted column of mart_user_rfm)
    assert set(benchmark.COMPARED_FIGURES) <= set(spark_figures)
    script = benchmark.project_figures_script()
    compile(script, "project_figures", "exec")
    unread = [name for name in benchmark.COMPARED_FIGURES
              if not re.search(rf"\b{name}\b", script) and name not in benchmark.RFM_COUNTED_COLUMNS]
    assert unread == []
    assert set(benchmark.RFM_COUNTED_COLUMNS.values()) == {"r_score", "f_score", "m_score", "rfm_segment",
                                                           "rfm_score"}
    assert benchmark.compare_figures(spark_figures, duck_figures) == {}
    # key order is no difference; one buyer moved between F scores is
    reordered = dict(duck_figures, rfm_f_score_counts=dict(reversed(duck_figures["rfm_f_score_counts"].items())))
    assert benchmark.compare_figures(spark_figures, reordered) == {}
    moved = {k: dict(v) if isinstance(v, dict) else v for k, v in duck_figures.items()}
    moved["rfm_f_score_counts"]["1"] -= 1
    moved["rfm_f_score_counts"]["5"] += 1
    assert list(benchmark.compare_figures(spark_figures, moved)) == ["rfm_f_score_counts"]
    renamed = dict(duck_figures, rfm_segment_counts={f"{k}!": v for k, v in duck_figures["rfm_segment_counts"].items()})
    assert list(benchmark.compare_figures(spark_figures, renamed)) == ["rfm_segment_counts"]


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
