"""Public entry of equipment detection: one parameters dataclass, one function, one result."""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np
from osgeo import ogr

from ..gdal_scope import gdal_exceptions
from ..input_checks import judge_capture
from ..metric import MetricView, metric_view
from ..parameters import DetectionParameters, DetectionSettings  # noqa: F401  (the contract, re-exported)
from ..progress import Progress
from ..raster import open_raster, raster_info
from .detection import Detection
from .engines import get_engine
from .io import read_detections, write_detections  # noqa: F401  (public API re-exported)
from .tiled import aoi_window

LOG = logging.getLogger(__name__)


@dataclass
class DetectionResult:
    detections: list[Detection]
    engine: str
    raster: str
    gsd_m: float
    seconds: float
    megapixels: float
    # CRS of the detections: the raster's, or the local UTM zone a geographic raster was measured in
    crs_wkt: str = ""
    warnings: list[str] = field(default_factory=list)  # what could not be judged (a uniform capture)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in self.detections:
            out[d.class_name] = out.get(d.class_name, 0) + 1
        return out


def _inside_aoi(detections: list[Detection], aoi_wkt: Optional[str]) -> list[Detection]:
    if not aoi_wkt:
        return detections
    aoi = ogr.CreateGeometryFromWkt(aoi_wkt)
    keep = []
    for d in detections:
        pt = ogr.Geometry(ogr.wkbPoint)
        pt.AddPoint_2D(float(d.cx), float(d.cy))
        if aoi.Contains(pt):
            keep.append(d)
    return keep


def _in_view(exemplars: Optional[list[Detection]], view: MetricView) -> Optional[list[Detection]]:
    """Example boxes given in the raster's CRS, in the metric view's (corners transformed)."""
    if not exemplars or not view.virtual:
        return exemplars
    out = []
    for d in exemplars:
        corners = np.array(view.points_to_view(d.polygon))
        out.append(Detection.from_corners(corners, class_name=d.class_name, score=d.score, engine=d.engine,
                                          capture=d.capture, crs_wkt=view.crs_wkt, attributes=dict(d.attributes),
                                          id=d.id))
    return out


@gdal_exceptions()
def detect_equipment(params: DetectionParameters, progress: Optional[Progress] = None) -> DetectionResult:
    """Detect equipment over params.raster (inside params.aoi_wkt) with the chosen engine.

    The AOI and exemplars are in the raster's CRS; the detections are in result.crs_wkt: the
    raster's, or for a raster in degrees the local UTM zone it was measured in (sizes in metres).
    For a raster without georeferencing all of them are in the frame QGIS shows it in (x =
    column, y = -row), sizes in metres with params.pixel_size_m."""
    params.validate()
    raster = params.raster
    view = metric_view(raster, params.pixel_size_m)
    ex_view = None
    try:
        if view.virtual:
            if params.exemplar_raster and params.exemplar_raster != params.raster:
                ex_view = metric_view(params.exemplar_raster, params.pixel_size_m, view.crs_wkt, "exemplar raster")
            params = replace(params, raster=view.path, aoi_wkt=view.to_view(params.aoi_wkt),
                             exemplars=_in_view(params.exemplars, view),
                             exemplar_raster=ex_view.path if ex_view else None)
        result = _detect(params, progress, view.crs_wkt, raster)
        result.raster = raster
        _to_shown_frame(result.detections, view)
        return result
    finally:
        view.close()
        if ex_view is not None:
            ex_view.close()


def _to_shown_frame(detections: list[Detection], view: MetricView) -> None:
    """Detections of a raster without georeferencing moved, in place, from the metric frame to
    the one QGIS shows it in (sizes stay in metres)."""
    if view.frame.identity:
        return
    for d in detections:
        d.cx, d.cy = view.frame.from_metric_point(d.cx, d.cy)
        d.units_per_m = 1.0 / view.frame.metres_per_unit


def _detect(params: DetectionParameters, progress: Optional[Progress], crs_wkt: str, raster: str) -> DetectionResult:
    started = time.perf_counter()
    ds = open_raster(params.raster)
    info = raster_info(ds)
    window = aoi_window(ds, params.aoi_wkt)
    ds = None
    warning = judge_capture(params.raster, name=os.path.basename(raster))
    engine = get_engine(params.engine)
    detections = engine.detect(params, progress.stage(0.0, 0.98) if progress else None)
    detections = _inside_aoi(detections, params.aoi_wkt)
    wanted = set(params.classes) if params.classes else None
    kept = []
    for d in detections:
        if d.score < params.min_score or (wanted is not None and d.class_name not in wanted):
            continue
        d.engine = d.engine or engine.name
        d.capture = params.capture
        d.crs_wkt = crs_wkt
        kept.append(d)
    kept.sort(key=lambda d: -d.score)
    for i, d in enumerate(kept):
        d.id = i
    if progress is not None:
        progress.report(1.0, f"{len(kept)} object(s) detected")
    seconds = time.perf_counter() - started
    LOG.info("%s engine: %d detections in %.1f s", engine.name, len(kept), seconds)
    return DetectionResult(detections=kept, engine=engine.name, raster=params.raster, gsd_m=info.gsd_m,
                           seconds=seconds, megapixels=window.width * window.height / 1e6, crs_wkt=crs_wkt,
                           warnings=[warning] if warning else [])


def detections_array(detections: list[Detection]) -> np.ndarray:
    """(N, 2) centres, a convenience for matching and plotting."""
    return np.array([[d.cx, d.cy] for d in detections], dtype=float).reshape(-1, 2)
