"""The reviewed state of an analysis, derived from the whole decision history (review.py).

Per object: current class, geometry, status (pending, accepted, rejected) and, for change
regions, the false-alarm reason. Per date pair: events (stayed, moved, arrived, departed) and
counts per class from the objects not rejected. Matched pairs of the machine stay paired while
both sides stand; the objects left unpaired (an added object, a pair broken by a rejection or a
relabel to another kind) are matched again among themselves as the analysis matched them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from ..core.equipment.catalogue import Catalogue, load_catalogue
from ..core.equipment.matching import ClassCount
from ..core.parameters import MatchSettings
from ..core.gdal_scope import gdal_exceptions
from .review import KIND_DETECTION, KIND_REGION, Decision, ReviewObject, ReviewStore

STATUS_PENDING = "pending"
STATUS_ACCEPTED = "accepted"
STATUS_REJECTED = "rejected"
STAY_TOLERANCE_M = MatchSettings.stay_tolerance_m  # as the analysis's matching


@dataclass
class ObjectState:
    obj: ReviewObject
    class_name: str
    wkt: str
    status: str = STATUS_PENDING
    reason: str = ""  # false-alarm reason of a rejected change region
    note: str = ""
    event: str = ""  # detections: stayed | moved | arrived | departed (rejected: '')
    last_seq: int = 0  # the decision that set the state last (0: the machine's)

    @property
    def object_id(self) -> str:
        return self.obj.object_id

    @property
    def reviewed(self) -> bool:
        return self.status != STATUS_PENDING

    @property
    def uncertainty(self) -> float:
        """1 for a score of 0.5 (the machine could not tell), 0 for 0 or 1."""
        return 1.0 - min(1.0, abs(float(self.obj.score) - 0.5) * 2.0)


@dataclass
class ReviewState:
    analysis_id: str
    objects: list[ObjectState]
    counts: list[ClassCount] = field(default_factory=list)
    pairs: list[tuple[str, str, str]] = field(default_factory=list)  # before id, after id, event

    def by_id(self) -> dict[str, ObjectState]:
        return {s.object_id: s for s in self.objects}

    def detections(self) -> list[ObjectState]:
        return [s for s in self.objects if s.obj.kind == KIND_DETECTION]

    def regions(self) -> list[ObjectState]:
        return [s for s in self.objects if s.obj.kind == KIND_REGION]

    @property
    def reviewed(self) -> int:
        return sum(1 for s in self.objects if s.reviewed)

    @property
    def total(self) -> int:
        return len(self.objects)

    def progress_text(self) -> str:
        return f"{self.reviewed} of {self.total} reviewed"


def effective_decisions(decisions: list[Decision]) -> list[Decision]:
    """The decisions still in force: undo cancels its target, redo restores it (latest wins)."""
    cancelled: set[int] = set()
    for d in decisions:
        if d.action == "undo" and d.target is not None:
            cancelled.add(int(d.target))
        elif d.action == "redo" and d.target is not None:
            cancelled.discard(int(d.target))
    return [d for d in decisions if d.action not in ("undo", "redo") and d.seq not in cancelled]


def fold(obj: ReviewObject, decisions: list[Decision]) -> ObjectState:
    """The state of one object after its effective decisions, in order."""
    state = ObjectState(obj, obj.machine_class, obj.machine_wkt)
    for d in decisions:
        if d.action == "detected":
            continue
        if d.action == "add":
            state.class_name, state.wkt, state.status = d.new_class or state.class_name, d.new_wkt or "", STATUS_ACCEPTED
        elif d.action == "accept":
            state.status, state.reason = STATUS_ACCEPTED, ""
            if d.new_class:
                state.class_name = d.new_class
        elif d.action == "reject":
            state.status, state.reason = STATUS_REJECTED, d.reason or ""
        elif d.action == "relabel":
            state.class_name, state.status, state.reason = d.new_class or state.class_name, STATUS_ACCEPTED, ""
        elif d.action == "edit_geometry":
            state.wkt = d.new_wkt or state.wkt
            if state.status == STATUS_PENDING:
                state.status = STATUS_ACCEPTED
        elif d.action == "note":
            state.note = d.note
        else:
            continue
        state.last_seq = d.seq
    return state


@gdal_exceptions()
def derive(store: ReviewStore, analysis_id: str, catalogue: Optional[Catalogue] = None) -> ReviewState:
    """The reviewed state of one analysis: objects, events and counts."""
    objects = store.objects(analysis_id)
    per_object: dict[str, list[Decision]] = {}
    for d in effective_decisions(store.decisions(analysis_id=analysis_id)):
        per_object.setdefault(d.object_id, []).append(d)
    # an added object whose 'add' was undone is gone from the reviewed state (its history stays)
    states = [fold(obj, per_object.get(obj.object_id, [])) for obj in objects
              if not obj.added or any(d.action == "add" for d in per_object.get(obj.object_id, []))]
    entry = store.analysis(analysis_id)
    max_distance = entry.max_distance_m if entry is not None and entry.max_distance_m else MatchSettings.max_distance_m
    result = ReviewState(analysis_id, states)
    _events(result, store.matches(analysis_id), catalogue or load_catalogue(), max_distance)
    return result


def centre(wkt: str) -> tuple[float, float]:
    from osgeo import ogr

    geom = ogr.CreateGeometryFromWkt(wkt) if wkt else None
    if geom is None or geom.IsEmpty():
        return math.nan, math.nan
    c = geom.Centroid()
    return c.GetX(), c.GetY()


def _events(state: ReviewState, matches: list, catalogue: Catalogue, max_distance_m: float) -> None:
    """Pairs and events of the standing detections, and counts per class."""
    from ..core.equipment.matching import match_detections

    standing = {s.object_id: s for s in state.detections()  # imported objects have no date: no events
                if s.status != STATUS_REJECTED and s.obj.side in ("before", "after")}
    for s in state.detections():
        s.event = ""
    paired: list[tuple[ObjectState, ObjectState, str]] = []
    broken: set[str] = set()  # objects whose machine pair no longer stands
    for before_id, after_id, event, _distance in matches:
        b, a = standing.get(before_id), standing.get(after_id)
        if b is None or a is None or catalogue.detector_class(b.class_name) != catalogue.detector_class(a.class_name):
            broken.update((before_id, after_id))
            continue
        if b.wkt != b.obj.machine_wkt or a.wkt != a.obj.machine_wkt:  # a box moved: judge by the new centres
            (bx, by), (ax, ay) = centre(b.wkt), centre(a.wkt)
            event = "stayed" if math.hypot(ax - bx, ay - by) <= STAY_TOLERANCE_M else "moved"
        paired.append((b, a, event or "stayed"))
    taken = {s.object_id for pair in paired for s in pair[:2]}
    rest_b = [s for s in standing.values() if s.obj.side == "before" and s.object_id not in taken]
    rest_a = [s for s in standing.values() if s.obj.side == "after" and s.object_id not in taken]
    if rest_b and rest_a and any(_touched(s, broken) for s in rest_b + rest_a):
        dets_b, dets_a = [_detection(s) for s in rest_b], [_detection(s) for s in rest_a]
        owner = {id(d): s for d, s in zip(dets_b + dets_a, rest_b + rest_a)}
        match = match_detections(dets_b, dets_a, max_distance_m=max_distance_m,
                                 stay_tolerance_m=min(STAY_TOLERANCE_M, max_distance_m), catalogue=catalogue)
        # a pair the machine did not make needs a reviewed side: untouched machine objects stay as it left them
        paired += [(owner[id(e.before)], owner[id(e.after)], e.event) for e in match.events
                   if e.before is not None and e.after is not None
                   and (_touched(owner[id(e.before)], broken) or _touched(owner[id(e.after)], broken))]
    taken = {s.object_id for pair in paired for s in pair[:2]}
    counts: dict[str, ClassCount] = {}

    def count(name: str) -> ClassCount:
        return counts.setdefault(name, ClassCount(name))

    for b, a, event in paired:
        b.event = a.event = event
        setattr(count(a.class_name), event, getattr(count(a.class_name), event) + 1)
    for s in standing.values():
        if s.object_id in taken:
            pass
        elif s.obj.side == "after":
            s.event = "arrived"
            count(s.class_name).arrived += 1
        else:
            s.event = "departed"
            count(s.class_name).departed += 1
        if s.obj.side == "after":
            count(s.class_name).after += 1
        else:
            count(s.class_name).before += 1
    state.pairs = [(b.object_id, a.object_id, e) for b, a, e in paired]
    state.counts = [counts[k] for k in sorted(counts)]


def _touched(s: ObjectState, broken: set[str]) -> bool:
    """An object the review changed: added, relabelled, redrawn, or its machine pair broken."""
    return (s.obj.added or s.class_name != s.obj.machine_class or s.wkt != s.obj.machine_wkt
            or s.object_id in broken)


def _detection(s: ObjectState):
    """A core Detection of the object's current box (for matching)."""
    import numpy as np

    from ..core.equipment.detection import Detection
    from ..core.polygons import min_area_rectangle

    points = np.array(_ring(s.wkt), dtype=float)
    rect = min_area_rectangle(points)
    return Detection.from_corners(rect, class_name=s.class_name, score=float(s.obj.score), engine="review")


def _ring(wkt: str) -> list[tuple[float, float]]:
    """The outer ring's points of a polygon WKT."""
    from osgeo import ogr

    geom = ogr.CreateGeometryFromWkt(wkt)
    ring = geom.GetGeometryRef(0) if geom.GetGeometryCount() else geom
    if ring.GetGeometryCount():  # a multipolygon: its first polygon's ring
        polygon = ring
        return [p[:2] for p in (polygon.GetGeometryRef(0).GetPoints() or [])]
    return [p[:2] for p in (ring.GetPoints() or [])]
