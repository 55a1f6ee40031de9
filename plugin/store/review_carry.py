"""Earlier decisions carried over to a re-run: a new object that matches a reviewed object of an
earlier analysis of the same capture (same side, compatible class, centres close, boxes
overlapping) takes that object's reviewed class, box and status, as decisions of its own
that name where they came from. Objects an analyst added and no new detection matches are
added to the new analysis too. The earlier history stays as it is.
"""
from __future__ import annotations

import math
from typing import Optional

from ..core.equipment.catalogue import Catalogue, load_catalogue
from ..core.gdal_scope import gdal_exceptions
from .review import KIND_REGION, ReviewObject, ReviewStore
from .review_state import STATUS_ACCEPTED, STATUS_REJECTED, ObjectState, centre, derive

MIN_IOU = 0.3  # boxes of the same object on the same capture overlap at least this much
MAX_CENTRE_M = 5.0  # ... and their centres are at most this far apart


def _same_capture(a_path: str, a_date: str, b_path: str, b_date: str) -> bool:
    return bool((a_path and a_path == b_path) or (a_date and a_date == b_date))


def _iou(wkt_a: str, wkt_b: str) -> float:
    from osgeo import ogr

    a, b = ogr.CreateGeometryFromWkt(wkt_a), ogr.CreateGeometryFromWkt(wkt_b)
    if a is None or b is None:
        return 0.0
    inter = a.Intersection(b)
    union = a.GetArea() + b.GetArea() - (inter.GetArea() if inter is not None else 0.0)
    return (inter.GetArea() if inter is not None else 0.0) / union if union > 0 else 0.0


def _compatible(catalogue: Catalogue, new: ReviewObject, old: ObjectState) -> bool:
    if new.kind != old.obj.kind:
        return False
    if new.kind == KIND_REGION:
        return True
    wanted = catalogue.detector_class(new.machine_class)
    return wanted in (catalogue.detector_class(old.obj.machine_class or old.class_name),
                      catalogue.detector_class(old.class_name))


def _best(new: ReviewObject, candidates: list[ObjectState], used: set[str], catalogue: Catalogue) -> Optional[ObjectState]:
    nx, ny = centre(new.machine_wkt)
    best, best_iou = None, MIN_IOU
    for old in candidates:
        if old.object_id in used or not _compatible(catalogue, new, old):
            continue
        ox, oy = centre(old.obj.machine_wkt or old.wkt)
        if math.hypot(nx - ox, ny - oy) > MAX_CENTRE_M and new.kind != KIND_REGION:
            continue
        iou = max(_iou(new.machine_wkt, old.wkt), _iou(new.machine_wkt, old.obj.machine_wkt or old.wkt))
        if iou >= best_iou:
            best, best_iou = old, iou
    return best


@gdal_exceptions()
def carry_over_decisions(store: ReviewStore, analysis_id: str, catalogue: Optional[Catalogue] = None) -> int:
    """Decisions carried to the objects of `analysis_id` from earlier analyses; returns how many objects."""
    catalogue = catalogue or load_catalogue()
    entries = store.analyses()
    new_entry = next(e for e in entries if e.analysis_id == analysis_id)
    earlier = [e for e in entries if e.analysis_id != analysis_id]
    if not earlier:
        return 0
    new_objects = store.objects(analysis_id)
    carried = 0
    for side, path, date in (("before", new_entry.before_path, new_entry.before_date),
                             ("after", new_entry.after_path, new_entry.after_date),
                             ("", new_entry.after_path, f"{new_entry.before_date}/{new_entry.after_date}")):
        candidates: list[ObjectState] = []
        for e in reversed(earlier):  # newest first: its decisions win
            if side == "":
                same = _same_capture(e.before_path, e.before_date, new_entry.before_path, new_entry.before_date) and \
                    _same_capture(e.after_path, e.after_date, new_entry.after_path, new_entry.after_date)
            else:
                e_path, e_date = (e.before_path, e.before_date) if side == "before" else (e.after_path, e.after_date)
                same = _same_capture(e_path, e_date, path, date)
            if same:
                candidates += [s for s in derive(store, e.analysis_id, catalogue).objects
                               if s.obj.side == side and s.reviewed]
        if not candidates:
            continue
        used: set[str] = set()
        for obj in (o for o in new_objects if o.side == side):
            old = _best(obj, candidates, used, catalogue)
            if old is None:
                continue
            used.add(old.object_id)
            _apply(store, obj, old)
            carried += 1
        for old in candidates:
            if old.obj.added and old.object_id not in used and old.status == STATUS_ACCEPTED:
                used.add(old.object_id)
                store.add_object(analysis_id, side, old.class_name, old.wkt, old.obj.raster_path, old.obj.crs_wkt,
                                 old.obj.kind, note=f"carried over from {old.object_id}")
                carried += 1
    return carried


def _apply(store: ReviewStore, obj: ReviewObject, old: ObjectState) -> None:
    note = f"carried over from {old.object_id}"
    if old.status == STATUS_REJECTED:
        store.append(obj.object_id, "reject", obj.machine_class, obj.machine_class, reason=old.reason, note=note)
        return
    if old.wkt and old.obj.machine_wkt and old.wkt != old.obj.machine_wkt:
        store.append(obj.object_id, "edit_geometry", old_wkt=obj.machine_wkt, new_wkt=old.wkt, note=note)
    if old.class_name != obj.machine_class:
        store.append(obj.object_id, "relabel", obj.machine_class, old.class_name, note=note)
    else:
        store.append(obj.object_id, "accept", obj.machine_class, obj.machine_class, note=note)
