"""Plotly figures for the report, and the note shown instead of a chart when
the data cannot support one (an empty mart, too few rows)."""

from __future__ import annotations

import html
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
CLASS_COLOURS = {"A": "#1f77b4", "B": "#ff7f0e", "C": "#9e9e9e"}


@dataclass
class Block:
    """One section of a page: a heading, a chart (or a note saying why there
    is none) and a plain-language reading of it."""

    heading: str
    body: str
    reading: str
    drawn: bool


def too_small(frame: pd.DataFrame, minimum: int, source: str) -> str | None:
    """Why `frame` cannot make a chart, or None when it can."""
    if frame.empty:
        return f"No data: {source} is empty for this build (too few events, or a step was skipped)."
    if len(frame) < minimum:
        return f"Too little data for this chart: {source} has {len(frame)} row(s), it needs at least {minimum}."
    return None


def note_block(heading: str, reason: str) -> Block:
    return Block(heading, f'<p class="note">{html.escape(reason)}</p>', "", drawn=False)


def chart_block(heading: str, figure: go.Figure, reading: str, height: int = 420) -> Block:
    figure.update_layout(
        height=height, margin=dict(l=60, r=30, t=40, b=60), template="plotly_white",
        font=dict(family="system-ui, sans-serif", size=13),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1),
    )
    body = figure.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})
    return Block(heading, f'<div class="chart">{body}</div>', reading, drawn=True)


def table_block(heading: str, frame: pd.DataFrame, reading: str) -> Block:
    body = frame.to_html(index=False, classes="data", border=0, escape=True, na_rep="")
    return Block(heading, body, reading, drawn=True)


def funnel(stages: list[str], values: list[float]) -> go.Figure:
    return go.Figure(go.Funnel(y=stages, x=values, textinfo="value+percent initial+percent previous"))


def grouped_bars(frame: pd.DataFrame, category: str, series: dict[str, str], percent: bool = True) -> go.Figure:
    figure = go.Figure()
    for (column, label), colour in zip(series.items(), PALETTE):
        figure.add_bar(x=frame[category], y=frame[column], name=label, marker_color=colour)
    figure.update_layout(barmode="group", yaxis_tickformat=".1%" if percent else ",")
    return figure


def heatmap(frame: pd.DataFrame, value: str, title: str) -> go.Figure:
    grid = frame.pivot_table(index="event_weekday_name", columns="event_hour", values=value, aggfunc="sum")
    order = frame.drop_duplicates("event_weekday_name").sort_values("event_weekday")["event_weekday_name"]
    grid = grid.reindex(list(order))
    return go.Figure(go.Heatmap(z=grid.values, x=[int(h) for h in grid.columns], y=list(grid.index),
                                colorscale="Blues", colorbar=dict(title=title)))


def hourly(frame: pd.DataFrame) -> go.Figure:
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    colours = ["#d62728" if peak else "#1f77b4" for peak in frame["is_peak_hour"]]
    figure.add_bar(x=frame["event_hour"], y=frame["events"], name="events (red: peak hours)", marker_color=colours)
    figure.add_scatter(x=frame["event_hour"], y=frame["view_to_purchase_rate"], name="view-to-purchase rate",
                       mode="lines+markers", line_color="#2ca02c", secondary_y=True)
    figure.update_yaxes(tickformat=",", secondary_y=False)
    figure.update_yaxes(tickformat=".1%", secondary_y=True)
    figure.update_xaxes(title="hour of day (UTC)", dtick=2)
    return figure


def pareto(frame: pd.DataFrame) -> go.Figure:
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_bar(x=frame["item"], y=frame["revenue"], name="revenue",
                   marker_color=[CLASS_COLOURS.get(c, "#9e9e9e") for c in frame["pareto_class"]])
    figure.add_scatter(x=frame["item"], y=frame["cumulative_revenue_share"], name="cumulative share",
                       mode="lines", line_color="#333333", secondary_y=True)
    figure.update_yaxes(tickformat=",", secondary_y=False)
    figure.update_yaxes(tickformat=".0%", range=[0, 1.02], secondary_y=True)
    figure.update_xaxes(showticklabels=len(frame) <= 25)
    return figure


def lines(frame: pd.DataFrame, x: str, y: str, group: str, percent: bool = True) -> go.Figure:
    figure = go.Figure()
    for (name, part), colour in zip(frame.groupby(group, sort=True), PALETTE * 10):
        figure.add_scatter(x=part[x], y=part[y], name=str(name), mode="lines+markers", line_color=colour)
    figure.update_yaxes(tickformat=".1%" if percent else ",")
    return figure


def bars(frame: pd.DataFrame, x: str, y: str, horizontal: bool = False, percent: bool = False,
         colour: str = PALETTE[0]) -> go.Figure:
    if horizontal:
        figure = go.Figure(go.Bar(y=frame[x], x=frame[y], orientation="h", marker_color=colour))
        figure.update_xaxes(tickformat=".1%" if percent else ",")
        figure.update_yaxes(autorange="reversed")
    else:
        figure = go.Figure(go.Bar(x=frame[x], y=frame[y], marker_color=colour))
        figure.update_yaxes(tickformat=".1%" if percent else ",")
    return figure


def small_multiples(frame: pd.DataFrame, facet: str, x: str, y: str) -> go.Figure:
    facets = list(dict.fromkeys(frame[facet]))
    figure = make_subplots(rows=1, cols=len(facets), subplot_titles=facets)
    for column, name in enumerate(facets, start=1):
        part = frame[frame[facet] == name]
        figure.add_bar(x=part[x], y=part[y], name=name, marker_color=PALETTE[column - 1], row=1, col=column)
    figure.update_layout(showlegend=False)
    return figure


def model_curves(frame: pd.DataFrame, x: str, y: str, x_title: str, y_title: str,
                 diagonal: bool = False, baseline: float | None = None) -> go.Figure:
    """One line per model on unit axes: ROC (diagonal = chance), precision-
    recall (`baseline` = the positive rate, a random model's precision) or a
    reliability plot (diagonal = perfectly calibrated)."""
    figure = go.Figure()
    if diagonal:
        figure.add_scatter(x=[0, 1], y=[0, 1], name="chance / perfect calibration", mode="lines",
                           line=dict(color="#9e9e9e", dash="dash"))
    if baseline is not None:
        figure.add_scatter(x=[0, 1], y=[baseline, baseline], name="random model", mode="lines",
                           line=dict(color="#9e9e9e", dash="dash"))
    for (name, part), colour in zip(frame.groupby("model", sort=True), PALETTE[1:] * 10):
        figure.add_scatter(x=part[x], y=part[y], name=str(name), mode="lines+markers", line_color=colour,
                           marker_size=4)
    figure.update_xaxes(title=x_title, range=[0, 1.01])
    figure.update_yaxes(title=y_title, range=[0, 1.01])
    return figure
