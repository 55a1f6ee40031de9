"""The timeline chart as SVG (counts per class over the capture dates) and as one offline HTML
page (inline SVG, a few lines of inline JavaScript: hover values, click a class to hide it).

No plotting library: the PNG is this SVG rendered by Qt (report/chart.py), so the report,
the Toolbox and the browser show the same chart.
"""
from __future__ import annotations

import html
import json
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .timeline import TimelineResult

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#7f7f7f", "#bcbd22")
WIDTH, HEIGHT = 820, 420
LEFT, RIGHT, TOP, BOTTOM = 60, 250, 40, 60


def _x_positions(dates: list[str]) -> list[float]:
    """Positions proportional to time (equal steps when every capture has the same date)."""
    days = [date.fromisoformat(d).toordinal() for d in dates]
    span = max(days) - min(days)
    inner = WIDTH - LEFT - RIGHT
    if len(days) == 1:
        return [LEFT + inner / 2]
    if span == 0:
        return [LEFT + inner * k / (len(days) - 1) for k in range(len(days))]
    return [LEFT + inner * (d - min(days)) / span for d in days]


def _nice_max(value: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if value <= step * 5:
            return max(step * 5, step)
    return value


def timeline_svg(result: "TimelineResult", title: str = "") -> str:
    """Counts per class over the dates: one line per class, reviewed dates shaded and marked."""
    caps = result.captures
    classes = result.classes
    dates = [c.date for c in caps]
    xs = _x_positions(dates) if caps else []
    top = _nice_max(max([n for c in caps for n in c.counts.values()] + [1]))
    plot_h = HEIGHT - TOP - BOTTOM

    def y(n: float) -> float:
        return TOP + plot_h * (1 - n / top)

    esc = html.escape
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
           f'<text x="{LEFT}" y="22" font-size="15" font-weight="bold">'
           f'{esc(title or "Equipment counts per capture date: " + result.params.site_name)}</text>']
    for k in range(6):  # horizontal grid and the count axis
        v = top * k / 5
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 8}" y="{y(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
    for c, x in zip(caps, xs):
        if c.reviewed:
            out.append(f'<rect class="reviewed" x="{x - 9:.1f}" y="{TOP}" width="18" height="{plot_h}" '
                       f'fill="#f2e6b3"><title>{esc(c.date)}: counts from the reviewed detections</title></rect>')
            out.append(f'<text x="{x:.1f}" y="{TOP - 4}" text-anchor="middle" font-size="10" fill="#8a6d00">'
                       'reviewed</text>')
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM + 5}" stroke="#333"/>')
        out.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">{esc(c.date)}</text>')
    out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM}" stroke="#333"/>')
    out.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" stroke="#333"/>')
    out.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2:.0f}" y="{HEIGHT - 14}" text-anchor="middle">capture date</text>')
    out.append(f'<text x="16" y="{TOP + plot_h / 2:.0f}" text-anchor="middle" '
               f'transform="rotate(-90 16 {TOP + plot_h / 2:.0f})">objects counted</text>')
    for i, name in enumerate(classes):
        colour = PALETTE[i % len(PALETTE)]
        pts = [(x, y(c.counts.get(name, 0)), c) for c, x in zip(caps, xs)]
        out.append(f'<g class="series" data-class="{esc(name)}">')
        out.append('<polyline fill="none" stroke-width="2.5" stroke="{}" points="{}"/>'.format(
            colour, " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in pts)))
        for px, py, c in pts:
            n = c.counts.get(name, 0)
            out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4.5" fill="{colour}" stroke="white">'
                       f'<title>{esc(name)}, {esc(c.date)}: {n}{" (reviewed)" if c.reviewed else ""}</title></circle>')
        ly = TOP + 8 + 20 * i
        out.append(f'<rect class="legend" x="{WIDTH - RIGHT + 16}" y="{ly - 9}" width="14" height="14" fill="{colour}"/>')
        out.append(f'<text class="legend" x="{WIDTH - RIGHT + 36}" y="{ly + 2}">{esc(name)}</text>')
        out.append("</g>")
    if not classes:
        out.append(f'<text x="{LEFT + 20}" y="{TOP + 30}">No equipment found on any capture.</text>')
    out.append("</svg>")
    return "\n".join(out)


_SCRIPT = """
document.querySelectorAll('g.series').forEach(function (g) {
  g.querySelectorAll('.legend').forEach(function (el) {
    el.style.cursor = 'pointer';
    el.addEventListener('click', function () {
      var off = g.getAttribute('data-off') === '1';
      g.setAttribute('data-off', off ? '0' : '1');
      g.querySelectorAll('polyline, circle').forEach(function (s) { s.style.opacity = off ? 1 : 0.08; });
    });
  });
  g.querySelectorAll('circle').forEach(function (c) {
    c.addEventListener('mouseenter', function () {
      document.getElementById('readout').textContent = c.querySelector('title').textContent;
    });
  });
});
"""


def timeline_html(result: "TimelineResult") -> str:
    """One self-contained page: the chart, the counts table, the events and the skipped captures."""
    esc = html.escape
    classes = result.classes
    rows = "".join(
        f"<tr><td>{esc(c.date)}{' &#10003;' if c.reviewed else ''}</td>"
        + "".join(f"<td>{c.counts.get(k, 0)}</td>" for k in classes) + "</tr>" for c in result.captures)
    events: dict[tuple, int] = {}
    for date_from, date_to, label, event, _ in result.event_rows():
        if event in ("arrived", "departed"):
            events[(date_from, date_to, label, event)] = events.get((date_from, date_to, label, event), 0) + 1
    event_rows = "".join(f"<tr><td>{esc(a)} &rarr; {esc(b)}</td><td>{esc(c)}</td><td>{esc(e)}</td><td>{n}</td></tr>"
                         for (a, b, c, e), n in sorted(events.items()))
    skipped = "".join(f"<li>{esc(s.path)}: {esc(s.reason)}</li>" for s in result.skipped)
    data = json.dumps({"dates": [c.date for c in result.captures], "classes": classes,
                       "counts": [[c.counts.get(k, 0) for k in classes] for c in result.captures]})
    name = esc(result.params.site_name)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{name}: equipment timeline</title>
<style>body{{font-family:sans-serif;margin:1.5em;color:#222}}table{{border-collapse:collapse;margin:.5em 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}th{{background:#f4f4f4}}
#readout{{min-height:1.3em;color:#555}}</style></head><body>
<h1>{name}: equipment over {len(result.captures)} captures</h1>
<p>Counts per class on each capture date (hover a point for its value, click a class in the legend to hide it;
shaded dates were reviewed by an analyst, their counts come from the reviewed detections).</p>
{timeline_svg(result)}
<p id="readout"></p>
<h2>Counts</h2><table><tr><th>date</th>{''.join(f'<th>{esc(k)}</th>' for k in classes)}</tr>{rows}</table>
<h2>Arrivals and departures between consecutive captures</h2>
<table><tr><th>dates</th><th>class</th><th>event</th><th>objects</th></tr>{event_rows}</table>
{f'<h2>Captures left out</h2><ul>{skipped}</ul>' if skipped else ''}
<script type="application/json" id="timeline-data">{data}</script>
<script>{_SCRIPT}</script>
</body></html>
"""
