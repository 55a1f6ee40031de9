"""The demo's timeline and report: the sample site over five dates and a report a reader understands
without the panel (demo-output/timeline/, demo-output/report.html and report.pdf)."""
from __future__ import annotations

import json
from pathlib import Path

N_DATES = 5


def timeline_and_report(site_dir: Path, size: int, seed: int, result, exemplars: Path, out: Path) -> list[str]:
    """Extend the sample site to N_DATES dates, write the timeline (counts, events, chart PNG/SVG/HTML)
    and the report; returns the lines to print (with the counts against the generator's truth)."""
    from render_demo import qgis_application

    qgis_application()
    from sitewatch.plugin.core.timeline import TimelineParameters, run_timeline, write_timeline
    from sitewatch.plugin.core.timeline_chart import timeline_svg
    from sitewatch.plugin.report.chart import svg_to_png
    from sitewatch.plugin.report.report import write_report
    from sitewatch.plugin.samplesite import generate_site_series
    from sitewatch.plugin.samplesite.examples import compared_categories

    print(f"\nExtending the sample site to {N_DATES} dates ...", flush=True)
    series = generate_site_series(site_dir, n_dates=N_DATES, size_px=size, seed=seed)
    known = {result.params.before_path: result.detections_before, result.params.after_path: result.detections_after}
    equipment = result.params.equipment  # the engine, model and score of the two-date analysis
    timeline = run_timeline(TimelineParameters(
        result.params.site_name, [str(c.raster) for c in series.captures], engine=equipment.engine,
        model_path=equipment.model_path, exemplars_path=str(exemplars), exemplars_raster=str(series.site.before),
        min_score=equipment.min_score, known_detections=lambda path, _date: known.get(path)))
    files = write_timeline(timeline, str(out / "timeline"))
    chart = svg_to_png(timeline_svg(timeline), str(out / "timeline" / "timeline.png"))
    report = write_report(result, str(out / "report.html"), timeline=timeline)
    categories = compared_categories({c for want in series.captures for c in want.counts}, equipment.engine)
    lines = ["", "Timeline (detected / true per category):"]
    for got, want in zip(timeline.captures, series.captures):
        lines.append(f"  {got.date}: " + ", ".join(f"{c} {got.counts.get(c, 0)}/{want.counts.get(c, 0)}"
                                                  for c in categories))
    lines += [f"Timeline chart: {chart}", f"Interactive timeline: {files.html}", f"Report: {report.html}",
              f"Report PDF: {report.pdf}", "Series story: " + json.dumps(list(series.story))]
    return lines
