"""One site of a batch run, as a Dask worker runs it (QGIS-free: core and store only).

Every consecutive pair of the site's dated captures is analysed (change and equipment) into
the site's workspace (plugin/store/workspace.py: analyses/<id>/ and the workspace.gpkg
history), then the timeline over all captures is written to <workspace>/timeline/ from the
pairs' detections. The site's log is <workspace>/batch.log (appended: retries show there).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..core.errors import InputError
from .sites import SiteJob

LOG = logging.getLogger("sitewatch.batch")


@dataclass
class SiteOutcome:
    name: str
    workspace: str
    pairs: int = 0
    analyses: list[str] = field(default_factory=list)  # analysis folders
    timeline_html: str = ""
    skipped: list[str] = field(default_factory=list)  # captures left out, with why
    summary: list[str] = field(default_factory=list)
    seconds: float = 0.0


class _ThisThread(logging.Filter):
    """Passes the records of one thread: sites running side by side keep their own logs."""

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: A003
        return record.thread == self.thread


def _analysis_parameters(job: SiteJob, before, after, output_dir: str):
    """The two-date analysis of one pair (the one place that builds the core's parameters)."""
    from ..core.pipeline import AnalysisParameters, ChangeOptions, EquipmentOptions

    return AnalysisParameters(
        site_name=job.name, before_path=before[0], after_path=after[0], output_dir=output_dir,
        before_date=before[1].date.iso_date, after_date=after[1].date.iso_date,
        aoi_wkt=job.polygon_wkt, aoi_crs_wkt=job.crs_wkt, change=ChangeOptions(enabled=job.change),
        equipment=EquipmentOptions(engine=job.engine, model_path=job.model_path, exemplars_path=job.exemplars_path,
                                   min_score=job.min_score, max_distance_m=job.max_distance_m))


def run_site(job: SiteJob) -> SiteOutcome:
    """Analyse one site into its workspace; raises (with a message for the user) when it cannot."""
    folder = Path(job.workspace)
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(folder / "batch.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_ThisThread())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(min(level, logging.INFO) if level else logging.INFO)
    try:
        LOG.info("Site %s: %d capture(s), workspace %s", job.name, len(job.captures), folder)
        outcome = _run(job, folder)
        LOG.info("Site %s done in %.1f s: %d pair(s)", job.name, outcome.seconds, outcome.pairs)
        return outcome
    except Exception as exc:
        LOG.error("Site %s failed: %s", job.name, exc, exc_info=not isinstance(exc, InputError))
        raise
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()


def _run(job: SiteJob, folder: Path) -> SiteOutcome:
    from ..core.pipeline import run_analysis
    from ..core.timeline import TimelineParameters, order_captures, run_timeline, write_timeline
    from ..store.review_timeline import reviewed_detections_source
    from ..store.workspace import WORKSPACE_NAME, AnalysisRecord, SiteWorkspace, new_analysis_id

    started = time.perf_counter()
    missing = [c for c in job.captures if "://" not in c and not c.startswith("/vsi") and not Path(c).exists()]
    if missing:
        raise InputError(f"Site {job.name}: capture(s) not found: {', '.join(missing)}")
    usable, skipped = order_captures(job.captures, job.polygon_wkt, job.crs_wkt)
    outcome = SiteOutcome(job.name, str(folder), skipped=[f"{s.path}: {s.reason}" for s in skipped])
    for line in outcome.skipped:
        LOG.warning("Left out %s", line)
    if len(usable) < 2:
        raise InputError(f"Site {job.name}: fewer than two usable captures ({len(usable)}); "
                         + "; ".join(outcome.skipped))
    workspace = SiteWorkspace(str(folder / WORKSPACE_NAME))
    workspace.set_site(job.name, job.polygon_wkt, job.crs_wkt)
    found: dict[str, list] = {}
    shifts: dict[tuple[str, str], tuple[float, float]] = {}
    for before, after in zip(usable, usable[1:]):
        analysis_id = new_analysis_id()
        out_dir = workspace.analyses_dir() / analysis_id
        params = _analysis_parameters(job, before, after, str(out_dir))
        LOG.info("Pair %s -> %s", params.before_date, params.after_date)
        result = run_analysis(params)
        found.setdefault(before[0], result.detections_before)
        found[after[0]] = result.detections_after
        if result.change is not None and result.change.shift is not None:
            shifts[(before[0], after[0])] = (result.change.shift.dx_m, result.change.shift.dy_m)
        workspace.add_analysis(AnalysisRecord(
            id=analysis_id, time=datetime.now(timezone.utc).isoformat(timespec="seconds"), title=result.title,
            before_path=before[0], after_path=after[0], before_date=params.before_date, after_date=params.after_date, gpkg_path=result.gpkg_path,
            score_path=result.score_path or "", summary=result.summary_lines))
        outcome.analyses.append(result.output_dir)
        outcome.pairs += 1
        for line in result.summary_lines:
            LOG.info("  %s", line)
    timeline = run_timeline(TimelineParameters(
        job.name, [p for p, _ in usable], aoi_wkt=job.polygon_wkt, aoi_crs_wkt=job.crs_wkt, engine=job.engine,
        max_distance_m=job.max_distance_m, known_detections=lambda path, _date: found.get(path),
        known_shift=lambda a, b: shifts.get((a, b)), reviewed=reviewed_detections_source(workspace.path)))
    outcome.timeline_html = write_timeline(timeline, str(folder / "timeline")).html
    outcome.summary = timeline.summary_lines()
    outcome.seconds = time.perf_counter() - started
    return outcome
