"""Training data out of a site's reviews and annotations from elsewhere into them.

Export: every reviewed object (accepted, relabelled, redrawn or added; rejected and unreviewed
ones left out) with image chips cut from its capture, in one of core.annotations' formats.
Import: the boxes of a dataset become objects of the site, each an 'add' decision of its own
analysis entry `import_<time>`, on the georeferenced image it was drawn on.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import numpy as np

from ..core.annotations.boxes import corners_to_wkt, pixel_to_map
from ..core.annotations.chips import Chip, image_georeferencing, write_chips
from ..core.annotations.formats import MAP_COORDINATES, format_module
from ..core.errors import InputError
from ..core.parameters import MatchSettings
from ..core.progress import Progress
from ..core.gdal_scope import gdal_exceptions
from .review import AnalysisEntry, ReviewObject, ReviewStore
from .review_training import reviewed_examples


@dataclass
class ExchangeResult:
    objects: int
    images: int
    path: str  # the label file or folder written (export), or the import's analysis id


@gdal_exceptions()
def export_reviewed(store: ReviewStore, out_folder: str, fmt: str, progress: Optional[Progress] = None) -> ExchangeResult:
    """Write the site's reviewed objects with image chips into out_folder (created)."""
    progress = progress or Progress()
    module = format_module(fmt)
    examples = reviewed_examples(store)
    if not examples:
        raise InputError("The site has no reviewed object to export: accept, relabel or add objects first.")
    root = Path(out_folder)
    root.mkdir(parents=True, exist_ok=True)
    chips: list[Chip] = []
    for k, (raster, detections) in enumerate(examples):
        progress.report(k / len(examples), f"Cutting chips from {Path(raster).name}")  # raises Cancelled
        prefix = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(raster).stem) + f"_{k}"
        chips += write_chips(raster, detections, root / "images", prefix)
    path = module.write(chips, root)
    progress.report(1.0, "Done")
    return ExchangeResult(sum(len(d) for _r, d in examples), len(chips), str(path))


@gdal_exceptions()
def import_annotations(store: ReviewStore, source: str, fmt: str, images: Optional[str] = None,
                       progress: Optional[Progress] = None) -> ExchangeResult:
    """Make the boxes of a dataset (file or folder) reviewed objects of the site."""
    progress = progress or Progress()
    module = format_module(fmt)
    if not Path(source).exists():
        raise InputError(f"Annotations not found: {source}")
    images_dir = Path(images) if images else None
    chips = module.read(Path(source), images_dir)
    objects: list[tuple[ReviewObject, str, str]] = []
    analysis_id = "import_" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    for k, chip in enumerate(chips):
        progress.report(k / max(len(chips), 1), f"Reading {chip.path.name}")  # cancel: nothing added yet
        if fmt in MAP_COORDINATES:
            gt, crs, raster = None, chip.crs_wkt, str(chip.path) if chip.path.suffix.lower() != ".geojson" else ""
        else:
            gt, crs, _w, _h = image_georeferencing(chip.path, images_dir)
            raster = str(chip.path)
        for box in chip.boxes:
            corners = pixel_to_map(box.corners, gt) if gt is not None else np.asarray(box.corners, float)
            objects.append((ReviewObject("", analysis_id, "detection", "", raster, crs, "", 1.0, ""),
                            box.class_name, corners_to_wkt(corners)))
    kept = _unique(objects)
    if not kept:
        raise InputError(f"{source} holds no annotation in {fmt} format.")
    entry = AnalysisEntry(analysis_id, "", "", "", "", "", MatchSettings.max_distance_m)
    store.register(entry, [], [])
    store.add_objects(analysis_id, [(obj.side, cls, wkt, obj.raster_path, obj.crs_wkt) for obj, cls, wkt in kept],
                      note=f"imported from {Path(source).name} ({fmt})")
    progress.report(1.0, "Done")
    return ExchangeResult(len(kept), len(chips), analysis_id)


def _unique(objects: list[tuple[ReviewObject, str, str]]) -> list[tuple[ReviewObject, str, str]]:
    """One entry per object: a box that several chips hold is read once per chip."""
    from ..core.annotations.boxes import wkt_to_corners

    kept: list[tuple[ReviewObject, str, str, np.ndarray]] = []
    for obj, cls, wkt in objects:
        c = wkt_to_corners(wkt)
        centre = c.mean(axis=0)
        size = min(float(np.hypot(*(c[1] - c[0]))), float(np.hypot(*(c[2] - c[1]))))
        if any(k_cls == cls and float(np.hypot(*(centre - k_c))) < 0.25 * max(size, 1e-6)
               for _o, k_cls, _w, k_c in kept):
            continue
        kept.append((obj, cls, wkt, centre))
    return [(o, c, w) for o, c, w, _centre in kept]
