"""Write the report as static HTML: an index and one page per report.

plotly.js is written once to assets/ and referenced by every page with a
relative path, so the site opens from the file system with no network.
"""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path

import pandas as pd
from plotly.offline import get_plotlyjs

from report.pages import Page

STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 0 24px 48px; color: #222; }
header { border-bottom: 1px solid #ddd; margin-bottom: 16px; }
nav a { margin-right: 14px; } .meta { color: #666; font-size: 14px; }
.reading { font-size: 16px; line-height: 1.5; } .note { background: #fff4e0; padding: 12px; border-radius: 6px; }
table.data { border-collapse: collapse; font-size: 14px; } table.data td, table.data th { padding: 4px 10px;
border-bottom: 1px solid #eee; text-align: left; } li { margin-bottom: 10px; }
"""

# Uncaught errors are recorded on the page itself, where a person (or the
# browser test) can see them without a console.
ERROR_RECORDER = (
    "<script>window.addEventListener('error', function (e) { var r = document.documentElement;"
    " r.setAttribute('data-errors', (r.getAttribute('data-errors') || '') + e.message + '; '); });</script>"
)


def context_line(time_range: pd.DataFrame, built_at: datetime) -> str:
    built = built_at.strftime("%Y-%m-%d %H:%M UTC")
    if time_range.empty or pd.isna(time_range.iloc[0]["first_date"]):
        return f"No events in the marts yet. Built {built}."
    row = time_range.iloc[0]
    return (f"Data from {row['first_date']} to {row['last_date']} ({int(row['days'])} days, "
            f"{int(row['views']):,} views, {int(row['carts']):,} carts, {int(row['purchases']):,} purchases). "
            f"Built {built}.")


def document(title: str, nav: str, body: str, meta: str, assets: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
{ERROR_RECORDER}
<link rel="stylesheet" href="{assets}/style.css"><script src="{assets}/plotly.min.js"></script></head>
<body><header><h1>{html.escape(title)}</h1><nav>{nav}</nav><p class="meta">{html.escape(meta)}</p></header>
{body}
</body></html>
"""


def write_site(pages: list[Page], time_range: pd.DataFrame, out: Path, built_at: datetime) -> Path:
    """Write every page and the index; return the index's path."""
    assets = out / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    plotly_js = assets / "plotly.min.js"
    script = get_plotlyjs()
    if not plotly_js.exists() or plotly_js.stat().st_size != len(script.encode()):
        plotly_js.write_text(script, encoding="utf-8")
    (assets / "style.css").write_text(STYLE, encoding="utf-8")
    meta = context_line(time_range, built_at)
    nav = '<a href="index.html">All reports</a>' + "".join(
        f'<a href="{page.slug}.html">{html.escape(page.title)}</a>' for page in pages)
    for page in pages:
        body = "".join(
            f"<section><h2>{html.escape(block.heading)}</h2>{block.body}"
            + (f'<p class="reading">{html.escape(block.reading)}</p>' if block.reading else "") + "</section>"
            for block in page.blocks
        )
        (out / f"{page.slug}.html").write_text(
            document(page.title, nav, body, meta, "assets"), encoding="utf-8")
    items = "".join(
        f'<li><a href="{page.slug}.html">{html.escape(page.title)}</a>: {html.escape(page.summary)}</li>'
        for page in pages
    )
    index = out / "index.html"
    index.write_text(document("E-commerce behaviour report", nav, f"<ul>{items}</ul>", meta, "assets"),
                     encoding="utf-8")
    return index
