"""A report an analyst can hand on: one HTML page with the PDF beside it.

    files = write_report(result, "out/khmeimim_report.html", timeline=timeline_result)

Contents: title, site, capture dates and sources; before / after maps side by side from a
QGIS print layout (change overlay, equipment annotated with callouts); the counts table and
the events; the timeline chart when the site has more than two captures; the method, its
parameters, the software version and how much was reviewed. The PDF is the print layout;
the HTML shows the same maps (the layout's first page as an image) and the same tables.
"""
from __future__ import annotations

import configparser
import html
import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from ..core.captures import capture_info
from ..core.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
COUNT_FIELDS = ("before", "after", "arrived", "departed", "stayed", "moved")


@dataclass
class ReviewShare:
    """How much of the analysis an analyst reviewed (from the review history)."""

    reviewed: int  # detections accepted, rejected, relabelled or added
    total: int  # detections of the analysis

    def line(self) -> str:
        if self.total == 0:
            return "Review: the analysis found no object to review."
        return (f"Review: {self.reviewed} of {self.total} detections reviewed by an analyst "
                f"({100.0 * self.reviewed / self.total:.0f} %); the counts use the reviewed state.")


@dataclass
class ReportFiles:
    html: str
    pdf: str
    images: list[str]  # the layout's pages as PNG, then the timeline chart when there is one


def plugin_version() -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "metadata.txt", encoding="utf-8")
    return parser.get("general", "version", fallback="unknown")


def software_line() -> str:
    from osgeo import gdal
    from qgis.core import Qgis

    return f"Software: SiteWatch {plugin_version()}, QGIS {Qgis.version()}, GDAL {gdal.__version__}"


def _source_line(label: str, path: str, date: str) -> str:
    info = capture_info(path)
    sensor = f", {info.sensor}" if info.sensor else ""
    source = f", date from {info.date.source}" if info.date else ", no capture date in the file"
    gsd = f", {info.gsd_m:.2f} m/px" if info.gsd_m else ""
    return f"{label} {date or '(no date)'}: {Path(path).name}{sensor}{gsd}{source}"


def count_rows(match) -> list[list[str]]:
    """Counts per class label (header first): before, after, change and the events."""
    grouped: dict[str, dict[str, int]] = {}
    for c in match.counts:
        row = grouped.setdefault(match.labels.get(c.class_name, c.class_name), dict.fromkeys(COUNT_FIELDS, 0))
        for name in COUNT_FIELDS:
            row[name] += getattr(c, name)
    rows = [["class", "before", "after", "change", "arrived", "departed", "stayed", "moved"]]
    for label, r in sorted(grouped.items()):
        rows.append([label, str(r["before"]), str(r["after"]), f"{r['after'] - r['before']:+d}",
                     *(str(r[k]) for k in COUNT_FIELDS[2:])])
    return rows


def method_lines(result) -> list[str]:
    p = result.params
    lines = ["Method: the captures are aligned on one grid and co-registered (sub-pixel shift), their "
             "radiometry normalised, and a change score computed per pixel; connected changed areas become "
             "change regions. Equipment is detected on each capture and matched across the dates (same "
             "object class, nearest first, within the maximum distance): matched objects stayed or moved, "
             "the others arrived or departed."]
    change = result.change
    if change is not None:
        lines.append(f"Change: {change.changed_area_m2:,.0f} m² in {change.n_regions} regions (method {change.method}).")
        if change.shift is not None:
            lines.append(f"Co-registration shift of the after capture: {change.shift.dx_px:+.2f}, "
                         f"{change.shift.dy_px:+.2f} px.")
    if result.left_out_m2 > 0:
        lines.append(f"Left out on both dates: {result.left_out_m2:,.0f} m².")
    params = {k: v for k, v in asdict(p).items() if k not in ("aoi_wkt", "aoi_crs_wkt", "left_out_wkt")}
    lines.append("Parameters: " + json.dumps({"change": params["change"], "equipment": params["equipment"]}))
    return lines


def _extent(result):
    from qgis.core import QgsRasterLayer, QgsRectangle

    p = result.params
    if p.aoi_wkt:
        from ..core.timeline import _aoi_in

        env = _aoi_in(p.aoi_wkt, p.aoi_crs_wkt, capture_info(p.after_path).crs_wkt).GetEnvelope()
        extent = QgsRectangle(env[0], env[2], env[1], env[3])
    else:
        extent = QgsRasterLayer(p.after_path, "extent").extent()
    extent.scale(1.04)
    return extent


def write_report(result, html_path: str, timeline=None, review: Optional[ReviewShare] = None,
                 title: str = "") -> ReportFiles:
    """Write html_path and the PDF beside it (same name, .pdf), images in <name>_files/."""
    from qgis.core import QgsProject

    from .chart import svg_to_png
    from .layout import LayoutContent, build_layout, export, map_layers

    if result.match is None and result.change is None:
        raise InputError("The analysis has neither change nor equipment results: nothing to report.")
    if review is None and result.gpkg_path:  # the review history writes its progress into the counts
        from ..core.timeline import reviewed_share

        share = reviewed_share(result.gpkg_path)
        review = ReviewShare(*share) if share else None
    p = result.params
    html_file = Path(html_path)
    assets = html_file.with_name(html_file.stem + "_files")
    assets.mkdir(parents=True, exist_ok=True)
    pdf_path = html_file.with_suffix(".pdf")
    title = title or f"{p.site_name}: {p.before_date or 'before'} to {p.after_date or 'after'}"
    written = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sources = [_source_line("Before", p.before_path, p.before_date), _source_line("After", p.after_path, p.after_date)]
    chart_png = None
    long_timeline = timeline is not None and len(timeline.captures) > 2
    if long_timeline:
        from ..core.timeline_chart import timeline_svg

        chart_png = svg_to_png(timeline_svg(timeline), str(assets / "timeline.png"))
    rows = count_rows(result.match) if result.match is not None else [["class", "before", "after"]]
    events = result.match.summary_lines() if result.match is not None else []
    review_line = review.line() if review is not None else \
        "Review: not reviewed; the counts are the detection engine's."
    blocks = [*method_lines(result), software_line(), review_line]
    content = LayoutContent(
        title=title, subtitle=f"Site: {p.site_name}. " + " | ".join(sources) + f". Written {written}.",
        before_caption=f"Before: {p.before_date} ({Path(p.before_path).name}), change regions and equipment",
        after_caption=f"After: {p.after_date} ({Path(p.after_path).name}), change score, regions and equipment",
        count_rows=rows, text_blocks=blocks, chart_png=chart_png,
        event_lines=tuple(["Events (before -> after):"] + events) if events else ())
    project = QgsProject()
    before_layers, after_layers = map_layers(project, result.gpkg_path, p.before_path, p.after_path, result.score_path)
    layout = build_layout(project, content, before_layers, after_layers, _extent(result))
    part = str(pdf_path) + ".part.pdf"
    pages = export(layout, part, str(assets / "page.png"))
    os.replace(part, pdf_path)
    images = pages + ([chart_png] if chart_png else [])
    html_file.write_text(_html(title, p, sources, written, rows, events, blocks, pages, timeline if long_timeline
                               else None, html_file.parent), encoding="utf-8")
    return ReportFiles(str(html_file), str(pdf_path), images)


def report_for_analysis(result, html_path: str, workspace_path: Optional[str] = None) -> ReportFiles:
    """The report of a finished analysis; with the site's workspace, its timeline over the
    analysed dates of the site's history when there are more than two."""
    timeline = None
    if workspace_path:
        from ..core.timeline import timeline_from_analyses
        from ..store.workspace import SiteWorkspace

        timeline, _pairs = timeline_from_analyses(result.params.site_name, SiteWorkspace(workspace_path).analyses())
    from ..core.timeline import reviewed_share

    if reviewed_share(result.gpkg_path):  # decisions carried over to this run: report the reviewed counts
        from .saved import saved_result

        result = saved_result(result.output_dir)
    return write_report(result, html_path, timeline=timeline)


def _html(title: str, p, sources: list[str], written: str, rows: list[list[str]], events: list[str],
          blocks: list[str], pages: list[str], timeline, folder: Path) -> str:
    esc = html.escape
    table = "<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in rows[0]) + "</tr>" + "".join(
        "<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in rows[1:]) + "</table>"
    chart = ""
    if timeline is not None:
        from ..core.timeline_chart import timeline_svg

        chart = (f"<h2>Timeline over {len(timeline.captures)} captures</h2>{timeline_svg(timeline)}"
                 "<p>Shaded dates: counts from detections reviewed by an analyst.</p>")
    maps = os.path.relpath(pages[0], folder) if pages else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>body{{font-family:sans-serif;margin:1.5em;max-width:70em;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px}}th{{background:#f4f4f4}}
img{{max-width:100%;border:1px solid #ccc}}</style></head><body>
<h1>{esc(title)}</h1>
<p>Site: <b>{esc(p.site_name)}</b>. Written {esc(written)}. The PDF beside this page holds the same report.</p>
<ul>{''.join(f'<li>{esc(s)}</li>' for s in sources)}</ul>
<h2>Before and after</h2>
<p>Left: the before capture; right: the after capture with the change score (red). Outlined: change regions.
Boxes: equipment, labelled with class and event (arrived, departed, stayed, moved).</p>
<img src="{esc(maps)}" alt="before and after maps">
<h2>Counts per class</h2>{table}
<h2>Events</h2><ul>{''.join(f'<li>{esc(e)}</li>' for e in events) or '<li>none</li>'}</ul>
{chart}
<h2>Method, parameters, software and review</h2>
{''.join(f'<p>{esc(b)}</p>' for b in blocks)}
</body></html>
"""
