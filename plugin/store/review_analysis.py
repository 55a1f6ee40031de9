"""An analysis GeoPackage in and out of review: its objects registered in the site's history,
and the reviewed state written back beside the machine's layers (which stay as they are).

Written back after each decision: `reviewed_objects` (every object's current class, box,
status and event) and `counts` (from the reviewed state, with `reviewed` and `objects` per
class); the machine's counts are kept once as `machine_counts`.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from osgeo import ogr

from ..core.gdal_scope import gdal_exceptions
from ..core.parameters import MatchSettings
from ..core.raster import srs_from_wkt
from ..core.pipeline import LAYER_AFTER, LAYER_BEFORE, LAYER_COUNTS, LAYER_MATCHES, LAYER_REGIONS
from .review import (
    KIND_DETECTION, KIND_REGION, REGION_CLASS, AnalysisEntry, ReviewObject, ReviewStore, ReviewStoreError,
)
from .review_state import ReviewState

LOG = logging.getLogger(__name__)
LAYER_REVIEWED = "reviewed_objects"
LAYER_MACHINE_COUNTS = "machine_counts"
COUNT_NAMES = ("before", "after", "delta", "arrived", "departed", "stayed", "moved")
REVIEWED_FIELDS = {"object_id": ogr.OFTString, "kind": ogr.OFTString, "side": ogr.OFTString, "class": ogr.OFTString,
                   "machine_class": ogr.OFTString, "status": ogr.OFTString, "reason": ogr.OFTString,
                   "event": ogr.OFTString, "score": ogr.OFTReal, "added": ogr.OFTInteger}


@dataclass
class Registration:
    analysis_id: str
    registered: bool  # False: it was already in the history
    objects: int
    carried: int = 0  # objects that took an earlier decision over (re-run)


def _open(gpkg: str, update: bool = False):
    try:
        ds = ogr.Open(str(gpkg), 1 if update else 0)
    except RuntimeError as exc:
        raise ReviewStoreError(f"The analysis results {gpkg} cannot be opened: {exc}") from exc
    if ds is None:
        raise ReviewStoreError(f"The analysis results {gpkg} cannot be opened.")
    return ds


def _max_distance(gpkg: str) -> float:
    try:
        params = json.loads((Path(gpkg).parent / "parameters.json").read_text(encoding="utf-8"))
        return float(params["equipment"]["max_distance_m"])
    except (OSError, ValueError, KeyError, TypeError):
        return MatchSettings.max_distance_m


@gdal_exceptions()
def read_objects(gpkg: str, analysis_id: str, before_path: str = "", after_path: str = ""
                 ) -> tuple[list[ReviewObject], list[tuple[str, str, str, Optional[float]]]]:
    """The machine objects of an analysis GeoPackage and its matched pairs.

    Ids in the history are `<analysis>:<object_id of the file>`; analyses written before objects
    had ids get `<analysis>:<layer>:<feature id>`, the same. Without a matches table (older
    analyses) no pair is known: their detections count as arrived or departed.
    """
    ds = _open(gpkg)
    objects: list[ReviewObject] = []
    for layer_name, kind, side, raster in ((LAYER_REGIONS, KIND_REGION, "", after_path),
                                           (LAYER_BEFORE, KIND_DETECTION, "before", before_path),
                                           (LAYER_AFTER, KIND_DETECTION, "after", after_path)):
        layer = ds.GetLayerByName(layer_name)
        if layer is None:
            continue
        srs = layer.GetSpatialRef()
        crs_wkt = srs.ExportToWkt() if srs is not None else ""
        names = {layer.GetLayerDefn().GetFieldDefn(k).GetName() for k in range(layer.GetLayerDefn().GetFieldCount())}
        for f in layer:
            geom = f.GetGeometryRef()
            if geom is None or geom.IsEmpty():
                continue
            local_id = (f.GetField("object_id") if "object_id" in names else None) or f"{layer_name}:{f.GetFID()}"
            object_id = f"{analysis_id}:{local_id}"
            if kind == KIND_REGION:
                score = f.GetField("mean_score") if "mean_score" in names else None
                cls, event = REGION_CLASS, ""
            else:
                score = f.GetField("score") if "score" in names else None
                cls = f.GetField("class") if "class" in names else "object"
                event = (f.GetField("event") if "event" in names else "") or ""
            objects.append(ReviewObject(object_id, analysis_id, kind, side, raster, crs_wkt, str(cls),
                                        float(score) if score is not None else 1.0, geom.ExportToWkt(), event))
    matches = []
    layer = ds.GetLayerByName(LAYER_MATCHES)
    if layer is not None:
        for f in layer:
            before_id, after_id = f.GetField("before_id") or "", f.GetField("after_id") or ""
            if before_id and after_id:
                matches.append((f"{analysis_id}:{before_id}", f"{analysis_id}:{after_id}", f.GetField("event") or "",
                                f.GetField("distance_m")))
    return objects, matches


@gdal_exceptions()
def register_analysis(store: ReviewStore, analysis_id: str, gpkg: str, before_path: str = "", after_path: str = "",
                      before_date: str = "", after_date: str = "", carry_over: bool = True) -> Registration:
    """Put an analysis's objects in the site's history (once); earlier decisions on the same
    captures are carried over to the objects that match reviewed ones."""
    objects, matches = read_objects(gpkg, analysis_id, before_path, after_path)
    entry = AnalysisEntry(analysis_id, str(gpkg), before_path, after_path, before_date, after_date, _max_distance(gpkg))
    if not store.register(entry, objects, matches):
        return Registration(analysis_id, False, len(objects))
    carried = 0
    if carry_over:
        from .review_carry import carry_over_decisions

        carried = carry_over_decisions(store, analysis_id)
    return Registration(analysis_id, True, len(objects), carried)


def carry_over_to_new_analysis(workspace_path: str, record) -> Optional[Registration]:
    """When the site has a review history, register a newly recorded analysis (a workspace
    AnalysisRecord) at once, so earlier decisions carry over and its counts follow them before
    anyone opens its review. A site never reviewed is left as it is; a review history that
    cannot be used is logged and the analysis stays recorded."""
    from .review_state import derive

    store = ReviewStore(workspace_path)
    try:
        if not store.analyses():
            return None
        registration = register_analysis(store, record.id, record.gpkg_path, record.before_path, record.after_path,
                                         record.before_date, record.after_date)
        if registration.carried:
            write_reviewed_outputs(record.gpkg_path, derive(store, record.id))
        return registration
    except (ReviewStoreError, RuntimeError) as exc:
        LOG.warning("Earlier review decisions were not carried over to %s: %s", record.id, exc)
        return None


@gdal_exceptions()
def write_reviewed_outputs(gpkg: str, state: ReviewState) -> None:
    """Rewrite the reviewed layers of the analysis GeoPackage from `state`, in one transaction.

    The tables keep their schema (rows replaced), so layers QGIS has open on them stay valid.
    """
    ds = _open(gpkg, update=True)
    crs = next((s.obj.crs_wkt for s in state.objects if s.obj.crs_wkt), "")
    reviewed = ds.GetLayerByName(LAYER_REVIEWED)
    if reviewed is None:
        reviewed = ds.CreateLayer(LAYER_REVIEWED, srs=srs_from_wkt(crs), geom_type=ogr.wkbPolygon)
        for name, ftype in REVIEWED_FIELDS.items():
            reviewed.CreateField(ogr.FieldDefn(name, ftype))
    counts = ds.GetLayerByName(LAYER_COUNTS)
    if counts is not None and ds.GetLayerByName(LAYER_MACHINE_COUNTS) is None:
        ds.CopyLayer(counts, LAYER_MACHINE_COUNTS)
    if counts is None:
        counts = ds.CreateLayer(LAYER_COUNTS, geom_type=ogr.wkbNone)
        counts.CreateField(ogr.FieldDefn("class", ogr.OFTString))
        for name in COUNT_NAMES:
            counts.CreateField(ogr.FieldDefn(name, ogr.OFTInteger))
    for name in ("reviewed", "objects"):
        if counts.GetLayerDefn().GetFieldIndex(name) < 0:
            counts.CreateField(ogr.FieldDefn(name, ogr.OFTInteger))
    ds.StartTransaction()
    try:
        for name in (LAYER_REVIEWED, LAYER_COUNTS):
            ds.ExecuteSQL(f'DELETE FROM "{name}"')
        defn = reviewed.GetLayerDefn()
        index = [defn.GetFieldIndex(name) for name in REVIEWED_FIELDS]
        for s in state.objects:
            if not s.wkt:
                continue
            f = ogr.Feature(defn)
            f.SetGeometry(ogr.ForceToPolygon(ogr.CreateGeometryFromWkt(s.wkt)))
            values = (s.object_id, s.obj.kind, s.obj.side, s.class_name, s.obj.machine_class, s.status, s.reason,
                      s.event, float(s.obj.score), int(s.obj.added))
            for k, value in zip(index, values):
                f.SetField(k, value)
            reviewed.CreateFeature(f)
        detections = state.detections()
        for c in state.counts:
            f = ogr.Feature(counts.GetLayerDefn())
            f.SetField("class", c.class_name)
            for name in COUNT_NAMES:
                f.SetField(name, int(getattr(c, name)))
            mine = [s for s in detections if s.class_name == c.class_name]
            f.SetField("reviewed", sum(1 for s in mine if s.reviewed))
            f.SetField("objects", len(mine))
            counts.CreateFeature(f)
        ds.CommitTransaction()
    except BaseException:
        ds.RollbackTransaction()
        raise
    finally:
        ds = None
