"""The demo's picture: one self-contained HTML page with inline SVG charts, no JavaScript, no network.

It draws what the summary read (cli/tagtrail_cli/demo/summary.py): a bar per door, time bucket and direction
counts movements in movement_history, where one exit is one shipping event (migration 0005 hides the
`departed` older histories carry after it), so each shipped item is one outbound bar unit.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass

PALETTE = {"inbound": "#2b8cbe", "outbound": "#e6550d", "unknown": "#969696"}


@dataclass(frozen=True)
class DoorFlow:
    door: str
    bucket: dt.datetime
    direction: str
    items: int


@dataclass(frozen=True)
class ReportData:
    title: str
    generated_at: dt.datetime
    headline: list[tuple[str, str]]
    inventory: list[tuple[str, str, int]]  # location, disposition, items: items on site (current_items)
    flows: list[DoorFlow]
    anomalies: list[tuple[str, str, str]]  # item, time, anomaly
    bucket_seconds: int
    zones: tuple[tuple[str, str, int], ...] = ()  # zone, disposition, items: items on site


def render(data: ReportData) -> str:
    doors = sorted({f.door for f in data.flows})
    span = (min(f.bucket for f in data.flows), max(f.bucket for f in data.flows)) if data.flows else None
    charts = "\n".join(
        _door_chart(door, [f for f in data.flows if f.door == door], data.bucket_seconds, span) for door in doors
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(data.title)}</title>
<style>
 body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 1100px; }}
 table {{ border-collapse: collapse; margin: 0.5rem 0 1.5rem; }}
 td, th {{ border-bottom: 1px solid #ddd; padding: 0.3rem 0.8rem; text-align: left; }}
 th {{ background: #f4f4f4; }} td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
 .cards {{ display: flex; gap: 1rem; flex-wrap: wrap; }}
 .card {{ border: 1px solid #ddd; border-radius: 6px; padding: 0.7rem 1rem; min-width: 9rem; }}
 .card b {{ display: block; font-size: 1.6rem; }}
 .legend span {{ display: inline-block; width: 0.8rem; height: 0.8rem; margin: 0 0.3rem 0 1rem; }}
</style></head><body>
<h1>{html.escape(data.title)}</h1>
<p>Generated {data.generated_at:%Y-%m-%d %H:%M:%S} UTC from the movement history in ClickHouse.</p>
<div class="cards">{''.join(f'<div class="card">{html.escape(k)}<b>{html.escape(v)}</b></div>' for k, v in data.headline)}</div>
<h2>Flows per dock door over time</h2>
<p class="legend">{''.join(f'<span style="background:{c}"></span>{d}' for d, c in PALETTE.items())}
 &nbsp;(items crossing the portal per {data.bucket_seconds} s)</p>
{charts or '<p>No dock door crossings recorded.</p>'}
<h2>Inventory per location now</h2>
{_table(("location", "disposition", "items"), data.inventory)}
{f'<h2>Inventory per zone now</h2>{_table(("zone", "disposition", "items"), list(data.zones))}' if data.zones else ''}
<h2>Anomalies</h2>
{_table(("item", "time", "anomaly"), data.anomalies) if data.anomalies else '<p>None: every transition followed the allowed graph.</p>'}
</body></html>
"""


def _table(header: tuple[str, ...], rows: list[tuple]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="n">{v}</td>' if isinstance(v, int) else f"<td>{html.escape(str(v))}</td>" for v in row
        ) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _door_chart(door: str, flows: list[DoorFlow], bucket_seconds: int, span: tuple[dt.datetime, dt.datetime]) -> str:
    """Stacked bars per time bucket: inbound up, outbound down, so both directions read at a glance.
    All doors share one time axis so their charts line up."""
    width, height, pad = 1000, 220, 40
    buckets = sorted({f.bucket for f in flows})
    if not buckets:
        return ""
    start, end = span
    span = max(1, int((end - start).total_seconds() // bucket_seconds) + 1)
    peak = max(
        max((sum(f.items for f in flows if f.bucket == b and f.direction != "outbound") for b in buckets), default=1),
        max((sum(f.items for f in flows if f.bucket == b and f.direction == "outbound") for b in buckets), default=1),
        1,
    )
    mid = height / 2
    scale = (mid - pad / 2) / peak
    bar = (width - 2 * pad) / span
    parts = [f'<line x1="{pad}" y1="{mid}" x2="{width - pad}" y2="{mid}" stroke="#444"/>']
    for f in flows:
        x = pad + int((f.bucket - start).total_seconds() // bucket_seconds) * bar
        h = f.items * scale
        if f.direction == "outbound":
            y = mid
        else:
            below = sum(g.items for g in flows if g.bucket == f.bucket and g.direction == "inbound" and f.direction == "unknown")
            y = mid - h - below * scale
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{y:.1f}" width="{max(bar - 2, 1):.1f}" height="{h:.1f}" '
            f'fill="{PALETTE.get(f.direction, "#969696")}"><title>{f.bucket:%H:%M:%S} {f.direction}: {f.items}</title></rect>'
        )
    parts.append(f'<text x="{pad}" y="14" font-size="13">{html.escape(door)}: inbound ↑ / outbound ↓ (scale: {peak} items)</text>')
    parts.append(f'<text x="{pad}" y="{height - 4}" font-size="11">{start:%H:%M:%S}</text>')
    parts.append(f'<text x="{width - pad}" y="{height - 4}" font-size="11" text-anchor="end">{end:%H:%M:%S}</text>')
    return f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="flows at {html.escape(door)}">{"".join(parts)}</svg>'
