"""One builder per report page. Each reads the frames of report.queries and
returns a Page whose readings are computed from the data: the numbers in the
text are the numbers in the charts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from report import charts
from report.charts import Block, chart_block, note_block, too_small

Frames = dict[str, pd.DataFrame]
# The three funnel rates every breakdown shows, with their legend labels.
FUNNEL_RATES = {"view_to_cart_rate": "view to cart", "cart_to_purchase_rate": "cart to purchase",
                "view_to_purchase_rate": "view to purchase"}


@dataclass
class Page:
    slug: str
    title: str
    summary: str  # one line on the index
    blocks: list[Block] = field(default_factory=list)


def pct(value: float) -> str:
    return f"{value:.1%}" if pd.notna(value) else "n/a"


def num(value: float) -> str:
    return f"{value:,.0f}" if pd.notna(value) else "n/a"


def funnel_page(frames: Frames) -> Page:
    stages, daily = frames["funnel_stages"], frames["funnel_daily"]
    page = Page("funnel", "Conversion funnel", "")
    reason = too_small(stages, 2, "mart_funnel_session_stages")
    if reason:
        page.blocks.append(note_block("Sessions through the funnel", reason))
        page.summary = "Not enough sessions for a funnel."
    else:
        first = stages.iloc[0]["sessions_reaching_stage"]
        last = stages.iloc[-1]
        worst = stages.iloc[1:].sort_values("drop_off_rate_from_previous_stage", ascending=False).iloc[0]
        previous = stages.iloc[int(worst.name) - 1]["stage"] if int(worst.name) > 0 else stages.iloc[0]["stage"]
        reading = (
            f"Of {num(first)} sessions, {pct(last['sessions_reaching_stage'] / first)} reached "
            f"'{last['stage']}'. The biggest drop-off is from '{previous}' to '{worst['stage']}': "
            f"{pct(worst['drop_off_rate_from_previous_stage'])} of sessions stop there."
        )
        page.blocks.append(chart_block(
            "Sessions through the funnel",
            charts.funnel(list(stages["stage"]), list(stages["sessions_reaching_stage"])), reading))
        page.summary = reading.split(". ")[0] + "."
    reason = too_small(daily, 2, "mart_funnel_daily")
    if reason:
        page.blocks.append(note_block("Conversion by day", reason))
    else:
        best = daily.sort_values("view_to_purchase_rate", ascending=False).iloc[0]
        page.blocks.append(chart_block(
            "Conversion by day",
            charts.lines(daily.assign(series="view-to-purchase rate"), "event_date", "view_to_purchase_rate", "series"),
            f"Daily view-to-purchase conversion ranged from {pct(daily['view_to_purchase_rate'].min())} to "
            f"{pct(daily['view_to_purchase_rate'].max())}; the best day was {best['event_date']}.", height=320))
    for key, label, plural, column in (("funnel_by_category", "category", "categories", "category_l1"),
                                       ("funnel_by_brand", "brand", "brands", "brand")):
        frame = frames[key]
        heading = f"Funnel rates by {label} (top {len(frame)})"
        reason = too_small(frame, 2, f"mart_funnel_by_{label}")
        if reason:
            page.blocks.append(note_block(heading, reason))
            continue
        best = frame.sort_values("view_to_purchase_rate", ascending=False).iloc[0]
        page.blocks.append(chart_block(heading, charts.grouped_bars(frame, column, FUNNEL_RATES),
            f"Among the top {plural}, {best[column]} converts best: {pct(best['view_to_purchase_rate'])} of views "
            f"end in a purchase ({pct(best['view_to_cart_rate'])} view to cart, "
            f"{pct(best['cart_to_purchase_rate'])} cart to purchase)."))
    return page


def temporal_page(frames: Frames) -> Page:
    heat, hourly = frames["heatmap"], frames["hourly"]
    page = Page("temporal", "Activity by hour and weekday", "")
    reason = too_small(hourly, 3, "mart_hourly_activity")
    if reason:
        page.blocks.append(note_block("Activity and conversion by hour", reason))
        page.summary = "Not enough activity to show hourly patterns."
    else:
        peaks = sorted(int(h) for h in hourly.loc[hourly["is_peak_hour"].astype(bool), "event_hour"])
        best = hourly.sort_values("view_to_purchase_rate", ascending=False).iloc[0]
        reading = (f"Peak hours (UTC): {', '.join(f'{h}:00' for h in peaks) or 'none'}; they carry "
                   f"{pct(hourly.loc[hourly['is_peak_hour'].astype(bool), 'share_of_events'].sum())} of events. "
                   f"Conversion is highest at {int(best['event_hour'])}:00 ({pct(best['view_to_purchase_rate'])}).")
        page.blocks.append(chart_block("Activity and conversion by hour", charts.hourly(hourly), reading))
        page.summary = reading.split(";")[0] + "."
    reason = too_small(heat, 7, "mart_activity_heatmap")
    if reason:
        page.blocks.append(note_block("Weekday by hour", reason))
    else:
        busiest = heat.sort_values("avg_events_per_day", ascending=False).iloc[0]
        page.blocks.append(chart_block(
            "Weekday by hour: average events per day", charts.heatmap(heat, "avg_events_per_day", "events/day"),
            f"The busiest slot is {busiest['event_weekday_name']} at {int(busiest['event_hour'])}:00 UTC, "
            f"with {num(busiest['avg_events_per_day'])} events on an average such day.", height=380))
    return page


def demand_page(frames: Frames) -> Page:
    page = Page("demand", "Category and brand demand (Pareto)", "")
    summaries = []
    for label, plural, top, classes in (("category", "categories", "category_pareto", "category_classes"),
                                        ("brand", "brands", "brand_pareto", "brand_classes")):
        frame, groups = frames[top], frames[classes]
        heading = f"Revenue by {label}, with cumulative share and ABC class"
        reason = too_small(frame, 2, f"the {label} demand mart (items with revenue)")
        if reason:
            page.blocks.append(note_block(heading, reason))
            continue
        counts = {row["pareto_class"]: row for _, row in groups.iterrows()}
        total = groups["items"].sum()
        a = counts.get("A")
        reading = (f"{num(a['items']) if a is not None else 0} of {num(total)} {plural} (class A, "
                   f"{pct((a['items'] if a is not None else 0) / total)}) bring "
                   f"{pct(a['revenue_share'] if a is not None else 0)} of revenue; the leader, {frame.iloc[0]['item']}, "
                   f"alone brings {pct(frame.iloc[0]['cumulative_revenue_share'])}.")
        summaries.append(reading.split(";")[0])
        page.blocks.append(chart_block(heading + f" (top {len(frame)})", charts.pareto(frame), reading))
    page.summary = (summaries[0] + ".") if summaries else "No revenue yet to rank categories and brands."
    return page


def price_page(frames: Frames) -> Page:
    bands, by_category = frames["price_bands"], frames["price_by_category"]
    page = Page("price", "Price sensitivity", "")
    reason = too_small(bands, 2, "mart_funnel_by_price_band")
    if reason:
        page.blocks.append(note_block("Conversion by price band", reason))
        page.summary = "Not enough price bands to compare."
    else:
        best = bands.sort_values("view_to_purchase_rate", ascending=False).iloc[0]
        worst = bands.sort_values("view_to_purchase_rate").iloc[0]
        reading = (f"Views of {best['price_band']} items convert best ({pct(best['view_to_purchase_rate'])}), "
                   f"{worst['price_band']} items worst ({pct(worst['view_to_purchase_rate'])}).")
        page.blocks.append(chart_block("Conversion by price band",
                                       charts.grouped_bars(bands, "price_band", FUNNEL_RATES), reading))
        page.summary = reading
    top_categories = (by_category.groupby("category_l1")["views"].sum().sort_values(ascending=False).head(6).index)
    frame = by_category[by_category["category_l1"].isin(top_categories)]
    reason = too_small(frame, 2, "mart_price_sensitivity")
    if reason:
        page.blocks.append(note_block("Conversion by price band, per category", reason))
    else:
        spread = frame.groupby("category_l1")["view_to_purchase_rate"].agg(lambda s: s.max() - s.min())
        page.blocks.append(chart_block(
            "Conversion by price band in the six most viewed categories",
            charts.lines(frame, "price_band", "view_to_purchase_rate", "category_l1"),
            f"Price matters most in {spread.idxmax()}: its conversion varies by {pct(spread.max())} "
            f"(percentage points) between price bands."))
    return page


def rfm_page(frames: Frames) -> Page:
    segments, scores, spread = frames["rfm_segments"], frames["rfm_scores"], frames["rfm_distributions"]
    page = Page("rfm", "RFM customer value", "")
    reason = too_small(segments, 1, "mart_user_rfm")
    if reason:
        page.blocks.append(note_block("RFM segments", reason))
        page.summary = "No buyers yet: RFM needs purchases."
        return page
    segments = segments.assign(revenue_share=segments["revenue"] / segments["revenue"].sum(),
                               user_share=segments["users"] / segments["users"].sum())
    top = segments.sort_values("revenue", ascending=False).iloc[0]
    reading = (f"{num(segments['users'].sum())} buyers in {len(segments)} segments. {top['rfm_segment']} "
               f"({pct(top['user_share'])} of buyers) bring {pct(top['revenue_share'])} of revenue.")
    page.summary = reading
    page.blocks.append(chart_block("Segment sizes and revenue share", charts.grouped_bars(
        segments, "rfm_segment", {"user_share": "share of buyers", "revenue_share": "share of revenue"}), reading))
    page.blocks.append(chart_block("Recency, frequency and monetary scores (1-5)",
                                   charts.small_multiples(scores.sort_values("score"), "measure", "score", "users"),
                                   ("Users per score. Recency and monetary are quintiles (a tie group shares one score); "
                                    "frequency scores are fixed session counts (seed rfm_frequency_scores)."),
                                   height=320))
    one_purchase = spread[(spread["measure"].str.startswith("frequency")) & (spread["value"] == 1)]["users"].sum()
    page.blocks.append(chart_block("Distributions", charts.small_multiples(
        spread.sort_values("value"), "measure", "value", "users"),
        f"{pct(one_purchase / segments['users'].sum())} of buyers bought in a single session "
        "(frequency capped at 20 in the chart).", height=320))
    page.blocks.append(charts.table_block("What to do with each segment", segments[[
        "rfm_segment", "users", "revenue", "marketing_action"]].round(2), ""))
    return page


def behaviour_page(frames: Frames) -> Page:
    segments = frames["behaviour_segments"]
    page = Page("segments", "Behavioural segments (z-scores)", "")
    if segments["users"].sum() == 0:
        page.blocks.append(note_block("Segment sizes", "No data: mart_user_segments is empty for this build."))
        page.summary = "No users to segment yet."
        return page
    total = segments["users"].sum()
    risky = segments[segments["segment"] == "High Interest / High Risk"]["users"].sum()
    churn = segments[segments["segment"] == "Churn Warning"]["users"].sum()
    reading = (f"Of {num(total)} users, {num(risky)} ({pct(risky / total)}) carted without buying "
               f"(High Interest / High Risk) and {num(churn)} ({pct(churn / total)}) viewed a lot without carting "
               "(Churn Warning).")
    page.summary = reading
    page.blocks.append(chart_block("Segment sizes", charts.bars(segments, "segment", "users", horizontal=True), reading))
    page.blocks.append(charts.table_block("The action for each segment (seed behaviour_segments)", segments[[
        "segment", "users", "avg_views", "avg_carts", "purchases", "marketing_action"]].round(2), ""))
    return page


def models_page(frames: Frames) -> Page:
    metrics, importance, retarget = frames["model_metrics"], frames["feature_importance"], frames["retarget"]
    page = Page("models", "Purchase-prediction models", "")
    # models trained in this build or reused from an earlier one; skipped tasks have no metrics
    trained = metrics[metrics["status"].isin(["trained", "reused"])]
    recommenders = trained[trained["task"] == RECOMMENDATION_TASK]
    trained = trained[trained["task"] != RECOMMENDATION_TASK]
    if trained.empty:
        why = "; ".join(sorted(set(metrics["status"].dropna()))) or "ml_model_metrics is empty"
        page.blocks.append(note_block("Model performance", f"No model was trained on this data: {why}."))
        page.summary = "No model trained on this data (too few days for the windows)."
        return page
    forecast = trained[trained["evaluation"] == "forecast"]
    shown = forecast if not forecast.empty else trained
    readings = []
    for task, part in shown.groupby("task"):
        best = part.sort_values("auc_roc", ascending=False).iloc[0]
        base = part[part["model"] == "baseline"]["auc_roc"]
        readings.append(f"{task}: {best['model']} AUC {best['auc_roc']:.3f}"
                        + (f" against the baseline's {base.iloc[0]:.3f}" if not base.empty else ""))
    reading = ("On the later window (a forecast, not the training period): " + "; ".join(readings) + ".")
    page.summary = reading
    page.blocks.append(chart_block("AUC-ROC and PR-AUC on the later window (forecast)", charts.grouped_bars(
        shown.assign(label=shown["task"] + " / " + shown["model"]), "label",
        {"auc_roc": "AUC-ROC", "pr_auc": "PR-AUC"}, percent=False), reading))
    both = trained.pivot_table(index=["task", "model"], columns="evaluation", values="auc_roc").reset_index()
    if {"forecast", "same_window"} <= set(both.columns):
        both = both.assign(label=both["task"] + " / " + both["model"],
                           gap=both["same_window"] - both["forecast"])
        widest = both.sort_values("gap", ascending=False).iloc[0]
        page.blocks.append(chart_block("Forecast against same-window AUC-ROC", charts.grouped_bars(
            both, "label", {"same_window": "same window (as in the studies)", "forecast": "later window"},
            percent=False),
            f"Scores on the training period's own window flatter the models: {widest['label']} drops from "
            f"{widest['same_window']:.3f} to {widest['forecast']:.3f} on the later window."))
    page.blocks += curve_blocks(frames, forecast)
    page.blocks += rolling_origin_blocks(frames)
    reason = too_small(importance, 2, "ml_feature_importance")
    if reason:
        page.blocks.append(note_block("Feature importance", reason))
    else:
        xgb = importance[importance["model"] == "xgboost"]
        frame = xgb if not xgb.empty else importance
        frame = frame.assign(label=frame["task"] + ": " + frame["feature"])
        top = frame.sort_values("importance", ascending=False).iloc[0]
        page.blocks.append(chart_block("Top features (XGBoost gain)", charts.bars(
            frame, "label", "importance", horizontal=True), f"The strongest signal is {top['feature']} "
            f"for {top['task']}.", height=520))
    page.blocks.append(recommendation_block(recommenders))
    if retarget.empty:
        page.blocks.append(note_block("Who to retarget", "No open carts were scored in this build."))
    else:
        page.blocks.append(charts.table_block("Who to retarget: open carts most likely to convert", retarget.round(3),
            f"The top open cart has a predicted purchase probability of {retarget.iloc[0]['purchase_probability']:.1%}."))
    return page


RECOMMENDATION_TASK = "product_recommendation"


def recommendation_block(recommenders: pd.DataFrame) -> Block:
    """The ALS recommender against its two baselines on the later window."""
    heading = "Product recommendations against simple baselines (later window)"
    reason = too_small(recommenders, 2, "ml_model_metrics (product_recommendation)")
    if reason:
        return note_block(heading, reason)
    k = int(recommenders["k"].iloc[0])
    by_model = recommenders.set_index("model")
    others = "; ".join(f"{model} {row['ndcg_at_k']:.3f}" for model, row in by_model.iterrows() if model != "als")
    best = recommenders.sort_values("ndcg_at_k", ascending=False).iloc[0]
    reading = (f"Top-{k} lists scored against what {int(best['n_test']):,} users carted or bought in the later "
               f"window: NDCG@{k} is {by_model.loc['als', 'ndcg_at_k']:.3f} for ALS against {others}; "
               f"{best['model']} ranks best.") if "als" in by_model.index else f"NDCG@{k}: {others}."
    return chart_block(heading, charts.grouped_bars(recommenders, "model", {
        "precision_at_k": f"precision@{k}", "recall_at_k": f"recall@{k}", "ndcg_at_k": f"NDCG@{k}"},
        percent=False), reading)


def curve_blocks(frames: Frames, forecast: pd.DataFrame) -> list[Block]:
    """ROC, precision-recall and reliability plots per task, on the forecast's test rows."""
    curves, calibration, blocks = frames["evaluation_curves"], frames["calibration"], []
    for task, metrics in forecast.groupby("task"):
        best = metrics[metrics["model"] != "baseline"].sort_values("auc_roc", ascending=False)
        if best.empty:
            continue
        top = best.iloc[0]
        task_curves = curves[curves["task"] == task]
        roc, pr = (task_curves[task_curves["curve"] == name] for name in ("roc", "precision_recall"))
        reason = too_small(roc, 3, f"ml_evaluation_curves ({task})")
        if reason:
            blocks.append(note_block(f"ROC and precision-recall curves: {task}", reason))
        else:
            blocks.append(chart_block(f"ROC curve: {task} (later window)", charts.model_curves(
                roc, "x", "y", "false positive rate", "true positive rate", diagonal=True),
                f"{top['model']} ranks a random buyer above a random non-buyer {top['auc_roc']:.1%} of the time "
                "(AUC-ROC); the dashed line is chance."))
            rate = top["positive_rate_test"]
            blocks.append(chart_block(f"Precision-recall curve: {task} (later window)", charts.model_curves(
                pr, "x", "y", "recall", "precision", baseline=rate),
                f"Only {rate:.1%} of the test rows bought, so a random pick is right {rate:.1%} of the time; "
                f"{top['model']} averages a precision of {top['pr_auc']:.1%} over all recall levels (PR-AUC)."))
        reliable = calibration[(calibration["task"] == task) & calibration["calibrated"].astype(bool)]
        reason = too_small(reliable, 2, f"ml_calibration ({task})")
        if reason:
            blocks.append(note_block(f"Calibration: {task}", reason))
            continue
        blocks.append(chart_block(f"Calibration: {task} (later window, calibrated probabilities)",
            charts.model_curves(reliable, "mean_predicted", "observed_rate", "mean predicted probability",
                                "observed purchase rate", diagonal=True),
            f"Points on the diagonal mean a predicted 30% comes true 30% of the time. Calibration moved "
            f"{top['model']}'s Brier score from {top['brier_uncalibrated']:.4f} to {top['brier']:.4f} "
            "(lower is better)."))
    return blocks


def rolling_origin_blocks(frames: Frames) -> list[Block]:
    """The forecast repeated at earlier origins: how stable each model's AUC is."""
    summary = frames["rolling_origin"]
    reason = too_small(summary, 1, "ml_rolling_origin_summary")
    if reason:
        return [note_block("Stability over time (rolling origin)", reason)]
    models = summary[summary["model"] != "baseline"]
    shown = models if not models.empty else summary
    widest = shown.sort_values("auc_roc_std", ascending=False, na_position="last").iloc[0]
    reading = (f"Each model was retrained and tested at {int(summary['folds'].max())} successive origins; "
               f"the least stable, {widest['task']} / {widest['model']}, ranges from "
               f"{widest['auc_roc_min']:.3f} to {widest['auc_roc_max']:.3f} AUC-ROC "
               f"(single forecast {widest['forecast_auc_roc']:.3f}).")
    table = summary.rename(columns={"forecast_auc_roc": "forecast AUC", "auc_roc_mean": "mean AUC",
                                    "auc_roc_std": "AUC spread (sd)"}).round(4)
    return [charts.table_block("Stability over time (rolling origin)", table, reading)]


PAGES: list[Callable[[Frames], Page]] = [
    funnel_page, temporal_page, demand_page, price_page, rfm_page, behaviour_page, models_page,
]
