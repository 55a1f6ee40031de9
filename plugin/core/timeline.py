"""One site over N captures: equipment per capture, matching between consecutive captures,
counts per class per date and the events between dates (QGIS-free).

    result = run_timeline(TimelineParameters(site_name, captures=[...], aoi_wkt=...))
    write_timeline(result, out_dir)      # counts.csv, events.gpkg, timeline.svg, timeline.html

Captures are ordered by their acquisition date (read as the panel reads it: metadata,
vendor sidecars, then the file name). A capture that carries no date, cannot be read or
misses the area of interest is skipped and listed in `TimelineResult.skipped` (and in the
log), never dropped silently. Where the analyst has reviewed a capture, its reviewed
detections replace the engine's (`TimelineParameters.reviewed`) and the date is marked.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

from .captures import capture_info
from .equipment.detection import Detection
from .equipment.matching import MatchResult
from .errors import InputError
from .parameters import DetectionSettings, MatchSettings, settings_of
from .progress import Progress

LOG = logging.getLogger(__name__)

RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".vrt", ".img", ".ntf", ".nitf", ".png", ".jpg", ".jpeg")

# (raster path, ISO date) -> the reviewed detections of that capture, or None when it was not reviewed
ReviewedSource = Callable[[str, str], Optional[Sequence[Detection]]]


@dataclass
class _TimelineInputs:
    site_name: str
    captures: list[str]  # raster paths, any order


@dataclass
class TimelineParameters(MatchSettings, DetectionSettings, _TimelineInputs):
    """One site over N captures: the contract's detection and match settings plus the captures."""

    aoi_wkt: Optional[str] = None  # polygon of the site
    aoi_crs_wkt: Optional[str] = None  # its CRS (None: the captures' CRS)
    exemplars_path: Optional[str] = None  # vector file of example boxes with a `class` field (exemplar engine)
    exemplars: Optional[list[Detection]] = None  # or the boxes themselves, in the captures' CRS
    exemplars_raster: Optional[str] = None  # the capture the boxes were drawn on (None: the first capture)
    reviewed: Optional[ReviewedSource] = None
    # detections already found on a capture (e.g. by the pair analyses of a batch run): not searched again
    known_detections: Optional[ReviewedSource] = None
    # match consecutive captures with the later one's misregistration removed (a global shift estimated
    # by phase correlation, or known_shift's); False: compare positions as they are
    coregister: bool = True
    known_shift: Optional[Callable[[str, str], Optional[tuple[float, float]]]] = None  # (from, to) -> (dx_m, dy_m)


@dataclass
class SkippedCapture:
    path: str
    reason: str


@dataclass
class TimelineCapture:
    path: str
    date: str  # ISO date (YYYY-MM-DD)
    datetime: str  # ISO date and time as read
    date_source: str  # where the date was read
    detections: list[Detection]
    counts: dict[str, int]  # class label -> count
    reviewed: bool = False


@dataclass
class TimelineStep:
    date_from: str
    date_to: str
    match: MatchResult


@dataclass
class TimelineResult:
    params: TimelineParameters
    captures: list[TimelineCapture] = field(default_factory=list)
    skipped: list[SkippedCapture] = field(default_factory=list)
    steps: list[TimelineStep] = field(default_factory=list)
    crs_wkt: str = ""

    @property
    def classes(self) -> list[str]:
        """Every class label counted on some date, in alphabetical order."""
        return sorted({name for c in self.captures for name in c.counts})

    def count_rows(self) -> list[tuple[str, str, int]]:
        """(date, class, count) for every date and every class (0 where none was seen)."""
        return [(c.date, name, c.counts.get(name, 0)) for c in self.captures for name in self.classes]

    def event_rows(self) -> list[tuple[str, str, str, str, Detection]]:
        """(date_from, date_to, class label, event, detection showing it) of every consecutive pair."""
        rows = []
        for step in self.steps:
            for e in step.match.events:
                rows.append((step.date_from, step.date_to, step.match.labels.get(e.class_name, e.class_name),
                             e.event, e.detection))
        return rows

    def summary_lines(self) -> list[str]:
        lines = [f"{self.params.site_name}: {len(self.captures)} capture(s) from "
                 f"{self.captures[0].date if self.captures else '?'} to {self.captures[-1].date if self.captures else '?'}"]
        for c in self.captures:
            mark = " (reviewed)" if c.reviewed else ""
            lines.append(f"  {c.date}{mark}: " + (", ".join(f"{k} {v}" for k, v in sorted(c.counts.items())) or "nothing"))
        for s in self.skipped:
            lines.append(f"  skipped {Path(s.path).name}: {s.reason}")
        return lines


def rasters_in_folder(folder: str) -> list[str]:
    """Every raster file directly in `folder` (by suffix; sidecars and masks are judged later)."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"The captures folder {folder} does not exist.")
    return sorted(str(p) for p in root.iterdir() if p.is_file() and p.suffix.lower() in RASTER_SUFFIXES)


def _aoi_in(aoi_wkt: str, aoi_crs_wkt: Optional[str], crs_wkt: str):
    """The AOI as an OGR geometry in crs_wkt."""
    from osgeo import ogr, osr

    geom = ogr.CreateGeometryFromWkt(aoi_wkt)
    if geom is None:
        raise InputError("The area of interest is not a valid polygon.")
    if aoi_crs_wkt and crs_wkt:
        src, dst = osr.SpatialReference(), osr.SpatialReference()
        src.ImportFromWkt(aoi_crs_wkt)
        dst.ImportFromWkt(crs_wkt)
        if not src.IsSame(dst):
            for s in (src, dst):
                s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
            geom.Transform(osr.CoordinateTransformation(src, dst))
    return geom


def order_captures(paths: Sequence[str], aoi_wkt: Optional[str] = None,
                   aoi_crs_wkt: Optional[str] = None) -> tuple[list[tuple[str, object]], list[SkippedCapture]]:
    """The usable captures ordered by date [(path, CaptureInfo)] and those skipped, with why."""
    from osgeo import ogr

    usable, skipped = [], []
    for path in paths:
        info = capture_info(str(path))
        if not info.footprint_wkt:
            skipped.append(SkippedCapture(str(path), "cannot be read as a georeferenced raster"))
        elif info.date is None:
            skipped.append(SkippedCapture(str(path), "carries no capture date (metadata, sidecar or file name)"))
        elif aoi_wkt and not _aoi_in(aoi_wkt, aoi_crs_wkt, info.crs_wkt).Intersects(
                ogr.CreateGeometryFromWkt(info.footprint_wkt)):
            skipped.append(SkippedCapture(str(path), "does not cover the area of interest"))
        else:
            usable.append((str(path), info))
    usable.sort(key=lambda pi: (pi[1].date.date, pi[0]))
    for s in skipped:
        LOG.warning("Capture skipped: %s %s", s.path, s.reason)
    return usable, skipped


def _detect(params: TimelineParameters, path: str, info, exemplars, exemplar_raster: Optional[str],
            progress: Progress) -> list[Detection]:
    from .equipment.api import DetectionParameters, detect_equipment

    aoi = _aoi_in(params.aoi_wkt, params.aoi_crs_wkt, info.crs_wkt).ExportToWkt() if params.aoi_wkt else None
    result = detect_equipment(DetectionParameters(
        raster=path, **settings_of(DetectionSettings, params), exemplars=exemplars,
        exemplar_raster=exemplar_raster if exemplars else None, aoi_wkt=aoi, capture=info.date.iso_date), progress)
    return result.detections


def run_timeline(params: TimelineParameters, progress: Optional[Progress] = None) -> TimelineResult:
    """Detections on every usable capture, counts per class per date, events between consecutive dates."""
    from .equipment.catalogue import load_catalogue
    from .equipment.matching import match_detections

    progress = progress or Progress()
    MatchSettings.validate(params)
    if params.known_detections is None and params.reviewed is None:  # the engine runs on every capture
        DetectionSettings.validate(params)
    if not params.captures:
        raise InputError(f"No captures of {params.site_name} were given: the folder holds no raster files, or the "
                         f"list is empty.")
    usable, skipped = order_captures(params.captures, params.aoi_wkt, params.aoi_crs_wkt)
    result = TimelineResult(params=params, skipped=skipped)
    if not usable:
        raise InputError(f"None of the {len(params.captures)} capture(s) of {params.site_name} can be used: "
                         + "; ".join(f"{Path(s.path).name} {s.reason}" for s in skipped))
    result.crs_wkt = usable[0][1].crs_wkt
    exemplars = params.exemplars
    if params.engine == "exemplar" and not exemplars and params.exemplars_path:
        from .equipment.io import read_detections

        exemplars = read_detections(params.exemplars_path)
    exemplar_raster = params.exemplars_raster or usable[0][0]
    catalogue = load_catalogue()
    for k, (path, info) in enumerate(usable):
        step = progress.stage(k / len(usable), (k + 1) / len(usable))
        reviewed = params.reviewed(path, info.date.iso_date) if params.reviewed else None
        known = params.known_detections(path, info.date.iso_date) if params.known_detections else None
        if reviewed is not None:
            detections = list(reviewed)
        elif known is not None:
            detections = list(known)
        else:
            detections = _detect(params, path, info, exemplars, exemplar_raster, step)
        counts: dict[str, int] = {}
        for d in detections:
            label = catalogue.category_label(d.class_name)
            counts[label] = counts.get(label, 0) + 1
        result.captures.append(TimelineCapture(path, info.date.iso_date, info.date.date.isoformat(),
                                               info.date.source, detections, counts, reviewed is not None))
        step.report(1.0, f"{info.date.iso_date}: {len(detections)} object(s)")
    for a, b in zip(result.captures, result.captures[1:]):
        match = match_detections(a.detections, b.detections, max_distance_m=params.max_distance_m,
                                 stay_tolerance_m=params.stay_tolerance_m, catalogue=catalogue,
                                 after_shift_m=_pair_shift(params, a.path, b.path))
        result.steps.append(TimelineStep(a.date, b.date, match))
    return result


MIN_SHIFT_CONFIDENCE = 0.3  # below this the estimated shift is not trusted: positions are compared as they are


def _pair_shift(params: TimelineParameters, before: str, after: str) -> tuple[float, float]:
    """How far the later capture's content sits east and north of the earlier one's (m)."""
    known = params.known_shift(before, after) if params.known_shift else None
    if known is not None:
        return known
    if not params.coregister:
        return 0.0, 0.0
    from .change import coregister
    from .errors import SiteWatchError

    try:
        shift = coregister(after, before, None, local=False).shift
    except SiteWatchError as exc:
        LOG.warning("No shift between %s and %s (%s): positions compared as they are", before, after, exc)
        return 0.0, 0.0
    if shift.confidence < MIN_SHIFT_CONFIDENCE:
        LOG.info("Shift between %s and %s uncertain (confidence %.2f): not removed", before, after, shift.confidence)
        return 0.0, 0.0
    return shift.dx_m, shift.dy_m


def write_counts_csv(result: TimelineResult, path: str) -> str:
    """date,class,count,reviewed: one row per date and class."""
    import csv

    reviewed = {c.date: c.reviewed for c in result.captures}
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["date", "class", "count", "reviewed"])
        for date, name, n in result.count_rows():
            w.writerow([date, name, n, int(reviewed[date])])
    return path


def write_events(result: TimelineResult, path: str, layer: str = "events") -> str:
    """The events as polygons (the detection showing each) with date_from, date_to, class, event."""
    from .equipment.io import write_detections

    rows = result.event_rows()
    write_detections(path, layer, [r[4] for r in rows], result.crs_wkt, extra_fields={
        "date_from": [r[0] for r in rows], "date_to": [r[1] for r in rows], "class_label": [r[2] for r in rows],
        "event": [r[3] for r in rows]})
    return path


@dataclass
class TimelineFiles:
    counts_csv: str
    events: str
    svg: str
    html: str


def write_timeline(result: TimelineResult, out_dir: str) -> TimelineFiles:
    """counts.csv, events.gpkg, timeline.svg and timeline.html (offline, interactive) in out_dir."""
    from .timeline_chart import timeline_html, timeline_svg

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = TimelineFiles(str(out / "counts.csv"), str(out / "events.gpkg"), str(out / "timeline.svg"),
                          str(out / "timeline.html"))
    write_counts_csv(result, files.counts_csv)
    write_events(result, files.events)
    Path(files.svg).write_text(timeline_svg(result), encoding="utf-8")
    Path(files.html).write_text(timeline_html(result), encoding="utf-8")
    return files


@dataclass
class PairSummary:
    """One analysed date pair of a site's history."""

    analysis_id: str
    before_date: str
    after_date: str
    changed_area_m2: Optional[float]  # None when the analysis had no change detection
    objects_before: int
    objects_after: int


def reviewed_share(gpkg_path: str) -> Optional[tuple[int, int]]:
    """(objects reviewed, objects) of an analysis whose counts follow an analyst's review (the
    review history writes both columns into its counts table); None when it was never reviewed."""
    from osgeo import ogr

    from .pipeline import LAYER_COUNTS

    ds = ogr.Open(gpkg_path)
    counts = ds.GetLayerByName(LAYER_COUNTS) if ds is not None else None
    if counts is None or counts.GetLayerDefn().GetFieldIndex("reviewed") < 0:
        return None
    rows = [(int(f.GetField("reviewed") or 0), int(f.GetField("objects") or 0)) for f in counts]
    return sum(r for r, _ in rows), sum(n for _, n in rows)


def _pair_from_gpkg(gpkg_path: str) -> tuple[dict[str, int], dict[str, int], Optional[float]]:
    """(counts before, counts after) per class label and the changed area of one analysis GeoPackage."""
    from osgeo import ogr

    from .equipment.catalogue import load_catalogue
    from .pipeline import LAYER_COUNTS, LAYER_REGIONS

    ds = ogr.Open(gpkg_path)
    if ds is None:
        raise InputError(f"Cannot open the analysis {gpkg_path}.")
    catalogue = load_catalogue()
    before: dict[str, int] = {}
    after: dict[str, int] = {}
    counts = ds.GetLayerByName(LAYER_COUNTS)
    for feature in counts or []:
        label = catalogue.category_label(feature.GetField("class"))
        before[label] = before.get(label, 0) + int(feature.GetField("before") or 0)
        after[label] = after.get(label, 0) + int(feature.GetField("after") or 0)
    regions = ds.GetLayerByName(LAYER_REGIONS)
    area = None
    if regions is not None:
        area = sum(f.GetGeometryRef().GetArea() for f in regions if f.GetGeometryRef() is not None)
    return before, after, area


def timeline_from_analyses(site_name: str, records: Sequence) -> tuple[TimelineResult, list[PairSummary]]:
    """A site's timeline from the analyses in its history (AnalysisRecord-like: id, dates, gpkg_path).

    Counts per date come from the newest analysis that covers the date; analyses whose files
    are gone or unreadable are left out (listed in `skipped`)."""
    result = TimelineResult(params=TimelineParameters(site_name, []))
    by_date: dict[str, dict[str, int]] = {}
    reviewed: dict[str, bool] = {}
    pairs = []
    for record in sorted(records, key=lambda r: r.time):  # newer analyses overwrite older counts
        if not record.gpkg_path or not Path(record.gpkg_path).exists():
            result.skipped.append(SkippedCapture(record.gpkg_path, "the analysis results are gone from disk"))
            continue
        try:
            before, after, area = _pair_from_gpkg(record.gpkg_path)
        except (InputError, RuntimeError, KeyError, ValueError, TypeError) as exc:  # not an analysis we can read
            result.skipped.append(SkippedCapture(record.gpkg_path, f"cannot be read ({exc})"))
            continue
        by_date[record.before_date] = before
        by_date[record.after_date] = after
        share = reviewed_share(record.gpkg_path)
        reviewed[record.before_date] = reviewed[record.after_date] = bool(share and share[0])
        pairs.append(PairSummary(record.id, record.before_date, record.after_date, area, sum(before.values()),
                                 sum(after.values())))
    for date in sorted(d for d in by_date if d):
        result.captures.append(TimelineCapture("", date, date, "analysis", [], by_date[date],
                                               reviewed=reviewed.get(date, False)))
    pairs.sort(key=lambda p: (p.before_date, p.after_date))
    return result, pairs
