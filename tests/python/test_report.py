"""The visual report: readings computed from the data, notes instead of
broken charts, a self-contained site, and every page drawn in a real browser."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from report.pages import PAGES, Page, demand_page, funnel_page, num, pct
from report.queries import QUERIES
from report.site import write_site

BUILT = datetime(2026, 11, 22, 8, 0, tzinfo=timezone.utc)


def stages_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "stage_order": [1, 2, 3], "stage": ["view", "cart", "purchase"],
        "sessions_reaching_stage": [1000.0, 100.0, 20.0],
        "drop_off_rate_from_previous_stage": [None, 0.9, 0.8],
    })


def test_funnel_reading_is_computed_from_the_stages():
    frames = {"funnel_stages": stages_frame(), "funnel_daily": pd.DataFrame(),
              "funnel_by_category": pd.DataFrame(), "funnel_by_brand": pd.DataFrame()}
    page = funnel_page(frames)
    assert page.blocks[0].drawn
    assert page.blocks[0].reading == (
        "Of 1,000 sessions, 2.0% reached 'purchase'. The biggest drop-off is from 'view' to 'cart': "
        "90.0% of sessions stop there."
    )
    assert page.summary == "Of 1,000 sessions, 2.0% reached 'purchase'."
    # the empty daily and breakdown frames give notes, not charts
    assert [block.drawn for block in page.blocks] == [True, False, False, False]
    assert "No data: mart_funnel_daily is empty" in page.blocks[1].body


def test_pareto_reading_counts_class_a_items_and_their_revenue():
    top = pd.DataFrame({"item": ["x", "y", "z"], "revenue_rank": [1, 2, 3], "revenue": [70.0, 20.0, 10.0],
                        "cumulative_revenue_share": [0.7, 0.9, 1.0], "pareto_class": ["A", "B", "C"]})
    classes = pd.DataFrame({"pareto_class": ["A", "B", "C"], "items": [1, 1, 2], "revenue_share": [0.7, 0.2, 0.1]})
    page = demand_page({"category_pareto": top, "category_classes": classes,
                        "brand_pareto": top.iloc[:1], "brand_classes": classes})
    assert page.blocks[0].reading == ("1 of 4 categories (class A, 25.0%) bring 70.0% of revenue; "
                                      "the leader, x, alone brings 70.0%.")
    assert not page.blocks[1].drawn and "has 1 row(s), it needs at least 2" in page.blocks[1].body


def test_formatting_helpers():
    assert (pct(0.1234), pct(float("nan")), num(1234567.4), num(None)) == ("12.3%", "n/a", "1,234,567", "n/a")


def test_site_links_every_page_and_needs_no_network(tmp_path):
    pages = [Page("one", "First", "one line"), Page("two", "Second", "another <line>")]
    index = write_site(pages, pd.DataFrame(), tmp_path, BUILT)
    text = index.read_text()
    assert re.findall(r'<li><a href="([^"]+)"', text) == ["one.html", "two.html"]
    assert "another &lt;line&gt;" in text and "No events in the marts yet. Built 2026-11-22 08:00 UTC." in text
    for page in ("index.html", "one.html", "two.html"):
        html = (tmp_path / page).read_text()
        assert '<script src="assets/plotly.min.js">' in html
        assert not re.search(r'(src|href)="(https?:)?//', html)  # no CDN, no remote asset
    assert (tmp_path / "assets" / "plotly.min.js").stat().st_size > 1_000_000


# --- from the marts of real builds ----------------------------------------------

def report_frames(scenario) -> dict[str, pd.DataFrame]:
    """The report's queries run through dbt on `scenario`'s schema."""
    import os

    from dbt_harness import PROJECT_ROOT
    from report.source import run_queries

    os.environ["REES46_SCHEMA"] = scenario.schema
    os.environ["REES46_RAW_DIR"] = str(scenario.raw_dir)
    return run_queries(QUERIES, PROJECT_ROOT, [
        "--profiles-dir", str(PROJECT_ROOT / "profiles"), "--target-path", str(scenario.work_dir / "target_report"),
        "--log-path", str(scenario.work_dir / "logs"),
    ])


@pytest.fixture(scope="module")
def demo_frames(demo):
    return report_frames(demo)


@pytest.mark.dbt
def test_readings_match_the_marts(demo, demo_frames):
    pages = {page.slug: page for page in (build(demo_frames) for build in PAGES)}
    buyers = demo.sql("select count(*) from {s}_marts.mart_user_rfm")[0][0]
    assert pages["rfm"].summary.startswith(f"{buyers:,} buyers in ")
    users = dict(demo.sql("select segment, count(*) from {s}_marts.mart_user_segments group by segment"))
    total = sum(users.values())
    risky = users.get("High Interest / High Risk", 0)
    assert f"Of {total:,} users, {risky:,} ({risky / total:.1%}) carted without buying" in pages["segments"].summary
    peaks = [row[0] for row in demo.sql(
        "select event_hour from {s}_marts.mart_hourly_activity where is_peak_hour order by event_hour")]
    assert pages["temporal"].summary == "Peak hours (UTC): " + ", ".join(f"{h}:00" for h in peaks) + "."
    best = demo.sql("select task, model, auc_roc from {s}_ml.ml_model_metrics where evaluation = 'forecast' "
                    "and status in ('trained', 'reused') order by auc_roc desc limit 1")[0]
    assert f"{best[0]}: {best[1]} AUC {best[2]:.3f}" in pages["models"].summary
    readings = " ".join(block.reading for block in pages["models"].blocks)
    for task, model, auc, brier, raw in demo.sql(
            "select task, model, auc_roc, brier, brier_uncalibrated from {s}_ml.ml_model_metrics "
            "where evaluation = 'forecast' and model != 'baseline' and auc_roc = (select max(auc_roc) from "
            "{s}_ml.ml_model_metrics as m where m.task = ml_model_metrics.task and m.evaluation = 'forecast')"):
        assert f"{model} ranks a random buyer above a random non-buyer {auc:.1%} of the time" in readings
        assert f"Calibration moved {model}'s Brier score from {raw:.4f} to {brier:.4f}" in readings
    folds = demo.sql("select max(folds) from {s}_ml.ml_rolling_origin_summary")[0][0]
    assert f"retrained and tested at {folds} successive origins" in readings
    assert all(block.drawn for page in pages.values() for block in page.blocks), "every demo chart is drawn"


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("chromium is not installed: `make setup` installs it (Debian package `chromium`)")
    return path


def browse(url: str, screenshot: Path | None = None) -> str:
    """The page's DOM after its scripts ran, from headless Chromium with no network."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
             "--proxy-server=127.0.0.1:9", "--virtual-time-budget=10000", "--window-size=1280,2200"]
    if screenshot is not None:  # taken by the same run that dumps the DOM
        flags.append(f"--screenshot={screenshot}")
    result = subprocess.run([chromium(), *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def page_errors(dom: str) -> str | None:
    """Uncaught script errors the page recorded on its <html> element."""
    match = re.search(r'<html[^>]*data-errors="([^"]*)"', dom)
    return match.group(1) if match else None


def check_site(index: Path, pages: list[Page], shots: Path, expect_charts: bool) -> None:
    shots.mkdir(parents=True, exist_ok=True)
    dom = browse(index.as_uri(), shots / "index.png")
    links = re.findall(r'<li><a href="([^"]+)"', dom)
    assert links == [f"{page.slug}.html" for page in pages]
    assert not page_errors(dom)
    for link in links:
        page = index.parent / link
        dom = browse(page.as_uri(), shots / f"{page.stem}.png")
        assert not page_errors(dom), f"{link}: {page_errors(dom)}"
        charts = dom.count('class="plotly-graph-div')
        drawn = len(re.findall(r'class="main-svg"', dom))
        marks = len(re.findall(r'class="(point|bars|trace bars|scatterlayer|hm|funnellayer)', dom))
        if expect_charts:
            assert charts > 0 and drawn >= charts and marks > 0, f"{link}: {charts} charts, {drawn} drawn"
        else:
            assert charts == 0 and 'class="note"' in dom, link
        assert (shots / f"{page.stem}.png").stat().st_size > 10_000


@pytest.mark.dbt
def test_site_draws_every_chart_in_a_browser(demo_frames, tmp_path, request):
    shots = Path(request.config.rootpath) / "test-output" / "report-screenshots"
    pages = [build(demo_frames) for build in PAGES]
    index = write_site(pages, demo_frames["time_range"], tmp_path / "site", BUILT)
    check_site(index, pages, shots / "demo", expect_charts=True)


@pytest.mark.dbt
def test_empty_marts_give_notes_not_broken_charts(demo_frames, tmp_path, request):
    empty = {name: frame.iloc[0:0] for name, frame in demo_frames.items()}
    pages = [build(empty) for build in PAGES]
    assert not any(block.drawn for page in pages for block in page.blocks)
    index = write_site(pages, empty["time_range"], tmp_path / "site", BUILT)
    check_site(index, pages, Path(request.config.rootpath) / "test-output" / "report-screenshots" / "empty",
               expect_charts=False)


@pytest.mark.dbt
def test_report_command_on_the_real_rows_writes_a_complete_site(real_rows, tmp_path, capsys):
    import os

    from report.__main__ import main

    os.environ["REES46_SCHEMA"] = real_rows.schema
    from dbt_harness import PROJECT_ROOT

    status = main(["--out", str(tmp_path / "site"), "--profiles-dir", str(PROJECT_ROOT / "profiles"),
                   "--target-path", str(real_rows.work_dir / "target_report")])
    assert status == 0
    printed = capsys.readouterr().out
    assert f"open file://{tmp_path / 'site' / 'index.html'}" in printed
    pages = sorted(p.name for p in (tmp_path / "site").glob("*.html"))
    assert pages == sorted(["index.html", *[f"{slug}.html" for slug in
                                            ("funnel", "temporal", "demand", "price", "rfm", "segments", "models")]])
    models = (tmp_path / "site" / "models.html").read_text()
    assert "No model was trained on this data" in models  # one hour of real rows: too few days


# The model page's other frames, empty, with the columns their queries select.
NO_MODEL_DETAILS = {
    "feature_importance": pd.DataFrame(), "retarget": pd.DataFrame(),
    "evaluation_curves": pd.DataFrame(columns=["task", "model", "curve", "point", "x", "y"]),
    "calibration": pd.DataFrame(columns=["task", "model", "calibrated", "bin", "mean_predicted", "observed_rate",
                                         "rows"]),
    "rolling_origin": pd.DataFrame(columns=["task", "model", "folds", "forecast_auc_roc", "auc_roc_mean",
                                            "auc_roc_std", "auc_roc_min", "auc_roc_max"]),
}


def test_models_reused_from_an_earlier_build_are_reported_like_trained_ones():
    from report.pages import models_page

    metrics = pd.DataFrame({
        "task": ["purchase_propensity"] * 2, "model": ["baseline", "xgboost"], "evaluation": ["forecast"] * 2,
        "auc_roc": [0.5, 0.8], "pr_auc": [0.1, 0.4], "brier": [0.2, 0.1], "n_train": [10, 10], "n_test": [5, 5],
        "test_start": [None] * 2, "test_end": [None] * 2, "status": ["reused"] * 2,
    })
    page = models_page({"model_metrics": metrics, **NO_MODEL_DETAILS})
    assert page.blocks[0].drawn
    assert page.summary == ("On the later window (a forecast, not the training period): purchase_propensity: "
                            "xgboost AUC 0.800 against the baseline's 0.500.")
    skipped = metrics.assign(status="skipped: no train rows", auc_roc=None)
    page = models_page({"model_metrics": skipped, **NO_MODEL_DETAILS})
    assert not page.blocks[0].drawn and "skipped: no train rows" in page.blocks[0].body
