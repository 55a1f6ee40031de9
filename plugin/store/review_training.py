"""Training examples from a site's reviews: every accepted (or added) detection, on its capture,
with its reviewed class and box. QGIS-free; the learned engine's trainer takes them as they are."""
from __future__ import annotations

from pathlib import Path

from ..core.equipment.detection import Detection
from ..core.gdal_scope import gdal_exceptions
from .review import KIND_DETECTION, ReviewStore
from .review_state import STATUS_ACCEPTED, derive


@gdal_exceptions()
def reviewed_examples(store: ReviewStore) -> list[tuple[str, list[Detection]]]:
    """(capture raster, reviewed detections on it) over every analysis of the site, one entry per raster.

    An object reviewed in several analyses of the same capture (a re-run) is taken once: the
    latest analysis's decision wins, its box kept where it overlaps an earlier one.
    """
    from ..core.annotations.boxes import wkt_to_corners

    per_raster: dict[str, list[Detection]] = {}
    for entry in reversed(store.analyses()):  # newest first
        for s in derive(store, entry.analysis_id).objects:
            if s.obj.kind != KIND_DETECTION or s.status != STATUS_ACCEPTED or not s.wkt:
                continue
            raster = s.obj.raster_path
            if not raster or not Path(raster).exists():
                continue
            det = Detection.from_corners(wkt_to_corners(s.wkt), class_name=s.class_name, score=1.0,
                                         engine="review", capture=s.obj.side, crs_wkt=s.obj.crs_wkt)
            kept = per_raster.setdefault(raster, [])
            if not any(_same(det, other) for other in kept):
                kept.append(det)
    return [(raster, dets) for raster, dets in per_raster.items() if dets]


def _same(a: Detection, b: Detection) -> bool:
    """The same object twice (centres closer than half the smaller width)."""
    return ((a.cx - b.cx) ** 2 + (a.cy - b.cy) ** 2) ** 0.5 < 0.5 * max(min(a.width_m, b.width_m), 0.5)
