"""Tests of the REES46 clickstream generator (``datagen``).

Every statistic is recomputed independently from the CSV text with pandas; nothing is
compared with numbers copied from a previous run of the generator.  The calibration
targets come from the published profile of the real data set
(tests/fixtures/rees46/README.md), with tolerances of a few points.
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # also works with a bare `pytest` (package not installed)
    sys.path.insert(0, str(REPO))

from datagen.cli import main  # noqa: E402
HEADER = ("event_time,event_type,product_id,category_id,category_code,brand,price,"
          "user_id,user_session")
CALIBRATION_EVENTS = 200_000

PATTERNS = {
    "event_time": r"2019-11-(0[1-9]|[12]\d|30) ([01]\d|2[0-3]):[0-5]\d:[0-5]\d UTC",
    "event_type": r"view|cart|purchase",
    "product_id": r"[1-9]\d{0,7}",
    "category_id": r"[1-9]\d{18}",
    "category_code": r"|[a-z_]+(\.[a-z_]+){0,2}",
    "brand": r"|[a-z0-9][a-z0-9\-]*",
    "price": r"\d+\.\d{2}",
    "user_id": r"[1-9]\d{8}",
    "user_session": r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
}


def _generate(out: Path, *args: str) -> None:
    assert main(["--out", str(out), *args]) == 0


def _read(path: Path) -> pd.DataFrame:
    """Read a generated file as strings (empty fields stay "") plus parsed helpers."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df["ts"] = pd.to_datetime(df["event_time"].str.slice(0, 19))
    df["price_f"] = df["price"].astype(float)
    return df


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def calib_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~200k events for November, generated through ``python -m datagen`` (subprocess)."""
    out = tmp_path_factory.mktemp("calib")
    proc = subprocess.run(
        [sys.executable, "-m", "datagen", "--out", str(out),
         "--events", str(CALIBRATION_EVENTS), "--seed", "7"],
        cwd=REPO, capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    (out / "stdout.txt").write_text(proc.stdout)
    return out


@pytest.fixture(scope="module")
def calib_bytes(calib_dir: Path) -> bytes:
    return (calib_dir / "2019-Nov.csv").read_bytes()


@pytest.fixture(scope="module")
def df(calib_dir: Path) -> pd.DataFrame:
    return _read(calib_dir / "2019-Nov.csv")


@pytest.fixture(scope="module")
def distinct(df: pd.DataFrame) -> pd.DataFrame:
    """Rows without the deliberate exact duplicates."""
    return df.drop_duplicates(subset=HEADER.split(","))


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small")
    _generate(out, "--events", "20000", "--seed", "3")
    return out


# --------------------------------------------------------------------------- format
def test_cli_prints_one_line_summary(calib_dir: Path) -> None:
    lines = (calib_dir / "stdout.txt").read_text().strip().splitlines()
    assert len(lines) == 1
    assert "2019-Nov.csv" in lines[0] and "rows" in lines[0]
    assert re.search(r"\d[\d,]* rows", lines[0]) and re.search(r"\d+\.\d s", lines[0])
    assert sorted(p.name for p in calib_dir.glob("*.csv*")) == ["2019-Nov.csv"]


def test_header_line_endings_and_field_count(calib_bytes: bytes) -> None:
    assert calib_bytes.startswith((HEADER + "\n").encode())
    assert b"\r" not in calib_bytes
    assert b'"' not in calib_bytes  # no quoting needed: no field contains a comma
    assert calib_bytes.endswith(b"\n")
    lines = calib_bytes.decode("ascii").split("\n")[:-1]
    assert all(line.count(",") == 8 for line in lines)


@pytest.mark.parametrize("column", list(PATTERNS))
def test_field_formats(df: pd.DataFrame, column: str) -> None:
    ok = df[column].str.fullmatch(PATTERNS[column])
    assert ok.all(), df.loc[~ok, column].head().tolist()


def test_ids_have_realistic_widths(df: pd.DataFrame) -> None:
    assert df["category_id"].str.len().eq(19).all()
    assert (df["category_id"].astype("int64") > 2 * 10**18).all()  # 2053013...-like
    assert df["user_id"].str.startswith("5").mean() > 0.99
    assert df["user_session"].nunique() > 0.1 * len(df)


def test_rows_sorted_by_time_within_month(df: pd.DataFrame) -> None:
    assert df["ts"].is_monotonic_increasing
    assert df["ts"].dt.month.eq(11).all()
    assert df["ts"].dt.day.nunique() == 30


def test_category_and_product_attributes_are_consistent(df: pd.DataFrame) -> None:
    # A category id either always has its code or never (as in the real data).
    assert df.groupby("category_id")["category_code"].nunique().eq(1).all()
    per_product = df.groupby("product_id")[["category_id", "brand"]].nunique()
    assert per_product.eq(1).all().all()
    coded = df.loc[df["category_code"] != "", "category_code"]
    assert coded.str.count(r"\.").between(1, 2).all()


def test_prices_two_decimals_stable_per_product_some_zero(df: pd.DataFrame) -> None:
    assert (df["price_f"] == 0).any(), "a few 0.00 prices like the real file"
    assert (df["price_f"] == 0).mean() < 0.01
    normal = df[~df["ts"].dt.day.isin([15, 16, 17]) & (df["price_f"] > 0)]
    spread = normal.groupby("product_id")["price_f"].agg(lambda s: s.max() / s.min())
    assert (spread < 1.2).mean() > 0.9, "prices roughly stable over the month"


# --------------------------------------------------------------------------- determinism
def test_same_seed_same_bytes_different_seed_differs(small_dir: Path, tmp_path: Path) -> None:
    _generate(tmp_path / "again", "--events", "20000", "--seed", "3")
    _generate(tmp_path / "other", "--events", "20000", "--seed", "4")
    ref = (small_dir / "2019-Nov.csv").read_bytes()
    assert (tmp_path / "again" / "2019-Nov.csv").read_bytes() == ref
    assert (tmp_path / "other" / "2019-Nov.csv").read_bytes() != ref


def test_gzip_output_matches_plain(small_dir: Path, tmp_path: Path) -> None:
    _generate(tmp_path, "--events", "20000", "--seed", "3", "--gzip")
    assert [p.name for p in tmp_path.iterdir()] == ["2019-Nov.csv.gz"]
    with gzip.open(tmp_path / "2019-Nov.csv.gz", "rb") as fh:
        assert fh.read() == (small_dir / "2019-Nov.csv").read_bytes()


def test_daily_files_hold_the_month_split_by_day(small_dir: Path, tmp_path: Path) -> None:
    _generate(tmp_path, "--events", "20000", "--seed", "3", "--daily-files")
    files = sorted(tmp_path.glob("*.csv"))
    assert [p.name for p in files] == [f"2019-Nov-{day:02d}.csv" for day in range(1, 31)]
    month = (small_dir / "2019-Nov.csv").read_bytes().split(b"\n")
    header, rows = month[0], [row for row in month[1:] if row]
    daily = []
    for path in files:
        lines = [line for line in path.read_bytes().split(b"\n") if line]
        assert lines[0] == header
        day = path.stem[-2:].encode()
        assert all(line[8:10] == day for line in lines[1:]), path.name  # only its own day
        daily += lines[1:]
    assert daily == rows  # the same rows in the same order


def test_a_shorter_period_holds_only_its_first_days_and_the_whole_target(tmp_path: Path) -> None:
    from datagen import generate

    result = generate(tmp_path, events=20_000, seed=3, days=4, daily_files=True)
    assert [p.name for p in sorted(tmp_path.glob("*.csv"))] == [f"2019-Nov-{day:02d}.csv" for day in range(1, 5)]
    assert abs(result.rows - 20_000) < 0.05 * 20_000  # the target covers the four days
    with pytest.raises(ValueError, match="days must be positive"):
        generate(tmp_path / "none", events=100, days=0)


@pytest.mark.parametrize("existing", ["2019-Nov.csv", "old.csv.gz"])
def test_if_empty_does_not_overwrite(tmp_path: Path, existing: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / existing
    marker.write_bytes(b"keep me\n")
    _generate(tmp_path, "--events", "5000", "--if-empty")
    assert marker.read_bytes() == b"keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [existing]
    assert "nothing to do" in capsys.readouterr().out


def test_if_empty_generates_into_empty_dir(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a csv")
    _generate(tmp_path, "--events", "5000", "--if-empty")
    assert (tmp_path / "2019-Nov.csv").stat().st_size > 0


# --------------------------------------------------------------------------- calibration
def test_event_count_within_two_percent(df: pd.DataFrame) -> None:
    assert abs(len(df) / CALIBRATION_EVENTS - 1) < 0.02


def test_event_mix(df: pd.DataFrame) -> None:
    share = df["event_type"].value_counts(normalize=True) * 100
    assert set(share.index) == {"view", "cart", "purchase"}
    assert share["view"] == pytest.approx(93.5, abs=1.5)
    assert share["cart"] == pytest.approx(4.9, abs=0.8)
    assert share["purchase"] == pytest.approx(1.6, abs=0.4)


def test_purchase_to_cart_ratio(df: pd.DataFrame) -> None:
    counts = df["event_type"].value_counts()
    assert counts["purchase"] / counts["cart"] == pytest.approx(0.32, abs=0.04)


def test_carted_pairs_later_purchased(distinct: pd.DataFrame) -> None:
    carts = distinct[distinct["event_type"] == "cart"]
    buys = distinct[distinct["event_type"] == "purchase"]
    first_cart = carts.groupby(["user_id", "product_id"])["ts"].min().rename("cart_ts")
    last_buy = buys.groupby(["user_id", "product_id"])["ts"].max().rename("buy_ts")
    pairs = first_cart.to_frame().join(last_buy, how="left")
    share = (pairs["buy_ts"] >= pairs["cart_ts"]).mean()
    assert 0.25 <= share <= 0.40
    # Most purchases follow a cart in the same session, some a cart of an earlier session
    # (days before), a few have no cart at all.
    sess_pairs = set(zip(carts["user_session"], carts["product_id"]))
    same = np.array([(s, p) in sess_pairs
                     for s, p in zip(buys["user_session"], buys["product_id"])])
    bought = buys.join(first_cart, on=["user_id", "product_id"])
    earlier = (bought["cart_ts"] < bought["ts"]).to_numpy() & ~same
    never = bought["cart_ts"].isna().to_numpy()
    assert 0.5 < same.mean() < 0.95
    assert earlier.mean() > 0.05
    assert never.mean() > 0.02


def test_daily_cycle(df: pd.DataFrame) -> None:
    per_hour = df["ts"].dt.hour.value_counts().reindex(range(24), fill_value=0)
    day = per_hour.loc[10:15].mean()
    night = per_hour.loc[0:5].mean()
    assert day > 2.0 * night
    assert per_hour.idxmax() in range(9, 18)


def test_weekly_cycle(df: pd.DataFrame) -> None:
    daily = df.groupby(df["ts"].dt.normalize()).size()
    daily = daily[~daily.index.day.isin([15, 16, 17])]
    weekend = daily[daily.index.dayofweek >= 5].mean()
    weekday = daily[daily.index.dayofweek < 5].mean()
    assert weekend < 0.94 * weekday   # fewer visits on Saturdays and Sundays


def test_mid_month_sale_spike(df: pd.DataFrame) -> None:
    daily = df.groupby(df["ts"].dt.day).size()
    normal = daily.drop([15, 16, 17]).median()
    assert daily.loc[[15, 16, 17]].min() >= 1.4 * normal
    assert daily.loc[[15, 16, 17]].mean() >= 1.5 * normal


def test_empty_category_code_and_brand_shares(df: pd.DataFrame) -> None:
    assert (df["category_code"] == "").mean() == pytest.approx(1 / 3, abs=0.05)
    assert (df["brand"] == "").mean() == pytest.approx(0.12, abs=0.04)


def test_duplicates_are_rare_and_adjacent(calib_bytes: bytes) -> None:
    lines = calib_bytes.decode("ascii").split("\n")[1:-1]
    share = 1 - len(set(lines)) / len(lines)
    assert 0.0002 <= share <= 0.001   # default --duplicate-rate 0.0005
    seen: set[str] = set()
    for prev, line in zip([""] + lines[:-1], lines):
        if line in seen:
            assert line == prev, "a duplicate sits right after its original"
        seen.add(line)


def test_duplicate_rate_zero_has_no_duplicates(tmp_path: Path) -> None:
    _generate(tmp_path, "--events", "20000", "--duplicate-rate", "0")
    lines = (tmp_path / "2019-Nov.csv").read_text().split("\n")[1:-1]
    assert len(set(lines)) == len(lines)


def test_prices_and_spend_right_skewed(distinct: pd.DataFrame) -> None:
    price = distinct["price_f"]
    assert price.mean() > 1.2 * price.median()
    spend = distinct[distinct["event_type"] == "purchase"].groupby("user_id")["price_f"].sum()
    assert len(spend) > 100
    assert spend.mean() > 1.3 * spend.median()
    assert spend.quantile(0.99) > 5 * spend.median()


def test_scale_users_products_brands_categories(df: pd.DataFrame) -> None:
    users = df["user_id"].nunique()
    assert 14 <= len(df) / users <= 23            # ~18 events per user per month
    assert 300 <= df["product_id"].nunique() <= len(df) / 100
    assert df["brand"].replace("", np.nan).nunique() >= 40
    assert df["category_id"].nunique() >= 100
    assert df["category_code"].replace("", np.nan).nunique() >= 40


def test_head_tail_revenue_by_top_level(distinct: pd.DataFrame) -> None:
    buys = distinct[(distinct["event_type"] == "purchase") & (distinct["category_code"] != "")]
    top = buys["category_code"].str.split(".").str[0]
    revenue = buys.groupby(top)["price_f"].sum().sort_values(ascending=False)
    assert set(revenue.index[:3]) == {"electronics", "appliances", "computers"}
    assert revenue.iloc[:3].sum() > 0.6 * revenue.sum()
    assert {"construction", "sport"} <= set(revenue.index[:6])


def test_brand_and_category_popularity_are_head_heavy(df: pd.DataFrame) -> None:
    brands = df.loc[df["brand"] != "", "brand"].value_counts(normalize=True)
    assert brands.iloc[:5].sum() > 0.3
    assert "samsung" in brands.index[:3]
    codes = df.loc[df["category_code"] != "", "category_code"].value_counts(normalize=True)
    assert codes.index[0] == "electronics.smartphone"


# --------------------------------------------------------------------------- behaviour
@pytest.fixture(scope="module")
def users(distinct: pd.DataFrame) -> pd.DataFrame:
    counts = pd.crosstab(distinct["user_id"], distinct["event_type"])
    counts["days"] = distinct.groupby("user_id")["ts"].apply(lambda s: s.dt.day.nunique())
    counts["avg_view_price"] = (distinct[distinct["event_type"] == "view"]
                                .groupby("user_id")["price_f"].mean())
    return counts


def test_users_return_and_buy_again_on_other_days(distinct: pd.DataFrame,
                                                  users: pd.DataFrame) -> None:
    assert (users["days"] >= 2).mean() > 0.25
    buys = distinct[distinct["event_type"] == "purchase"]
    buy_days = buys.groupby("user_id")["ts"].apply(lambda s: s.dt.day.nunique())
    assert (buy_days >= 2).mean() > 0.1


def test_cart_heavy_users_buy_more(users: pd.DataFrame) -> None:
    bought = users["purchase"] > 0
    heavy = bought[users["cart"] >= 3].mean()
    single = bought[users["cart"] == 1].mean()
    none = bought[users["cart"] == 0].mean()
    assert heavy > single > none


def test_segments_high_risk_and_churn_warning_exist(users: pd.DataFrame) -> None:
    high_risk = (users["cart"] >= 3) & (users["purchase"] == 0)
    churn_warning = (users["view"] >= 30) & (users["cart"] == 0)
    assert high_risk.sum() >= 20
    assert churn_warning.sum() >= 50
    assert (users["purchase"] == 0).mean() > 0.7   # most users only browse


def test_high_viewed_price_users_buy_less(users: pd.DataFrame) -> None:
    viewers = users.dropna(subset=["avg_view_price"])
    quintile = pd.qcut(viewers["avg_view_price"], 5, labels=False)
    rate = (viewers["purchase"] > 0).groupby(quintile).mean()
    assert rate.loc[4] < rate.loc[1:3].max()


def test_price_relation_to_purchase_is_non_monotonic(distinct: pd.DataFrame) -> None:
    priced = distinct[distinct["price_f"] > 0]
    bucket = pd.qcut(priced["price_f"], 6, labels=False, duplicates="drop")
    conv = priced.groupby(bucket)["event_type"].apply(
        lambda s: (s == "purchase").sum() / (s == "view").sum())
    best = int(conv.idxmax())
    assert 0 < best < conv.index.max()
    assert conv.max() > 1.5 * conv.iloc[0] and conv.max() > 1.5 * conv.iloc[-1]


def test_brand_affects_purchase_probability(distinct: pd.DataFrame) -> None:
    def conversion(rows: pd.DataFrame) -> float:
        return (rows["event_type"] == "purchase").sum() / (rows["event_type"] == "view").sum()

    # Same category, many products per group: the leading brands convert clearly better.
    phones = distinct[distinct["category_code"] == "electronics.smartphone"]
    leaders = phones["brand"].isin(["samsung", "apple", "xiaomi"])
    assert leaders.mean() > 0.3
    assert conversion(phones[leaders]) > 1.15 * conversion(phones[~leaders])
    # And across all brands with enough traffic the spread is wide.
    branded = distinct[distinct["brand"] != ""]
    views = branded[branded["event_type"] == "view"].groupby("brand").size()
    buys = branded[branded["event_type"] == "purchase"].groupby("brand").size()
    big = views[views >= 2000].index
    conv = (buys.reindex(big, fill_value=0) / views[big]).sort_values()
    assert len(conv) >= 4
    assert conv.iloc[-1] > 1.5 * conv.iloc[0]


def test_label_week_purchases_predictable_but_not_trivially(distinct: pd.DataFrame) -> None:
    early = distinct[distinct["ts"].dt.day <= 23]
    late = distinct[distinct["ts"].dt.day > 23]
    feats = pd.crosstab(early["user_id"], early["event_type"])
    buyers = set(late.loc[late["event_type"] == "purchase", "user_id"])
    label = feats.index.isin(list(buyers))
    carted = feats["cart"] > 0
    p_carted, p_not = label[carted].mean(), label[~carted].mean()
    assert p_carted > 2.5 * p_not
    assert p_carted < 0.6   # propensity persists, but a cart is no guarantee


# --------------------------------------------------------------------------- options
def test_two_months_continue_the_population(tmp_path: Path) -> None:
    _generate(tmp_path, "--events", "30000", "--months", "2019-10,2019-11")
    assert sorted(p.name for p in tmp_path.glob("*.csv")) == ["2019-Nov.csv", "2019-Oct.csv"]
    oct_, nov = _read(tmp_path / "2019-Oct.csv"), _read(tmp_path / "2019-Nov.csv")
    assert oct_["ts"].dt.month.eq(10).all() and oct_["ts"].dt.day.nunique() == 31
    assert nov["ts"].dt.month.eq(11).all() and nov["ts"].is_monotonic_increasing
    for part in (oct_, nov):
        assert abs(len(part) / 30000 - 1) < 0.03
    u_oct, u_nov = set(oct_["user_id"]), set(nov["user_id"])
    assert len(u_oct & u_nov) > 0.3 * len(u_nov)        # the same people come back
    new = u_nov - u_oct
    assert new and max(map(int, new)) > max(map(int, u_oct))  # new registrations
    assert set(oct_["product_id"]) & set(nov["product_id"])


def test_single_october_month(tmp_path: Path) -> None:
    _generate(tmp_path, "--events", "10000", "--month", "2019-10")
    oct_ = _read(tmp_path / "2019-Oct.csv")
    assert oct_["ts"].dt.day.nunique() == 31
    assert oct_["event_time"].str.startswith("2019-10-").all()


def test_remove_from_cart_only_when_asked(small_dir: Path, tmp_path: Path) -> None:
    assert b",remove_from_cart," not in (small_dir / "2019-Nov.csv").read_bytes()
    _generate(tmp_path, "--users", "2000", "--remove-from-cart")
    types = _read(tmp_path / "2019-Nov.csv")["event_type"].value_counts()
    assert types.get("remove_from_cart", 0) > 0
    assert types["view"] > types["cart"] > 0


def test_users_option_sets_population_scale(tmp_path: Path) -> None:
    _generate(tmp_path, "--users", "3000")
    got = _read(tmp_path / "2019-Nov.csv")["user_id"].nunique()
    assert 1000 <= got <= 3000


def test_bad_arguments_are_rejected(tmp_path: Path) -> None:
    for bad in (["--events", "10", "--users", "10"], ["--month", "2019-13"],
                ["--months", "2019-10,2019-12"], ["--events", "0"]):
        with pytest.raises(SystemExit):
            main(["--out", str(tmp_path), *bad])
