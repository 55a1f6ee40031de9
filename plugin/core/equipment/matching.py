"""Cross-date matching of detections: optimal one-to-one assignment, events and counts per class.

Two detections can match when their classes are compatible (same coarse detector class in the
catalogue: an Su-24 before may be an Su-34 after, never a helicopter) and their centres are
within `max_distance_m`. Among all matchings, the assignment first maximises the number of
matched pairs, then minimises the total distance (Hungarian algorithm). Matched pairs are
`stayed` (within `stay_tolerance_m`) or `moved`; the rest `arrived` (after only) or
`departed` (before only).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from ..errors import InputError
from ..gdal_scope import gdal_exceptions
from ..parameters import MatchSettings
from .catalogue import Catalogue, load_catalogue
from .detection import Detection

EVENTS = ("stayed", "moved", "arrived", "departed")


@dataclass
class EquipmentEvent:
    event: str  # stayed | moved | arrived | departed
    before: Optional[Detection]
    after: Optional[Detection]
    distance_m: Optional[float]  # None for arrivals and departures
    in_change: bool = False

    @property
    def detection(self) -> Detection:
        """The detection that shows the event on the map: after when present, else before."""
        return self.after if self.after is not None else self.before

    @property
    def class_name(self) -> str:
        return self.detection.class_name


@dataclass
class ClassCount:
    class_name: str
    before: int = 0
    after: int = 0
    arrived: int = 0
    departed: int = 0
    stayed: int = 0
    moved: int = 0

    @property
    def delta(self) -> int:
        return self.after - self.before


@dataclass
class MatchResult:
    events: list[EquipmentEvent]
    counts: list[ClassCount]
    labels: dict[str, str] = field(default_factory=dict)  # class id -> display label

    def summary_lines(self) -> list[str]:
        """One line per label: 'heavy transport: 0 -> 2, 2 arrived'."""
        grouped: dict[str, ClassCount] = {}
        for c in self.counts:
            label = self.labels.get(c.class_name, c.class_name)
            g = grouped.setdefault(label, ClassCount(label))
            for name in ("before", "after", "arrived", "departed", "stayed", "moved"):
                setattr(g, name, getattr(g, name) + getattr(c, name))
        lines = []
        for label, g in grouped.items():
            parts = [f"{n} {e}" for e, n in (("arrived", g.arrived), ("departed", g.departed),
                                              ("moved", g.moved), ("stayed", g.stayed)) if n]
            lines.append(f"{label}: {g.before} -> {g.after}" + (", " + ", ".join(parts) if parts else ""))
        return lines

    def by_event(self, event: str) -> list[EquipmentEvent]:
        return [e for e in self.events if e.event == event]

    def event_layer_data(self) -> tuple[list[Detection], dict[str, list]]:
        """Detections and extra fields (event, distance_m, in_change) for write_detections."""
        dets = [e.detection for e in self.events]
        extra = {"event": [e.event for e in self.events],
                 "distance_m": [None if e.distance_m is None else round(float(e.distance_m), 2) for e in self.events],
                 "in_change": [int(e.in_change) for e in self.events]}
        return dets, extra


# --- assignment -----------------------------------------------------------------------------

def hungarian(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost assignment of a rectangular cost matrix (rows, cols), numpy only.

    Returns (row_ind, col_ind) like scipy.optimize.linear_sum_assignment: every row is assigned
    when rows <= cols (else every column). Shortest augmenting paths with potentials, O(n^2 m).
    """
    cost = np.asarray(cost, dtype=float)
    if cost.ndim != 2:
        raise InputError("The cost matrix must be two-dimensional.")
    if cost.size == 0:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    if not np.isfinite(cost).all():
        raise InputError("The cost matrix holds non-finite values.")
    transposed = cost.shape[0] > cost.shape[1]
    a = cost.T if transposed else cost
    n, m = a.shape
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    p = np.zeros(m + 1, dtype=int)  # p[j]: row (1-based) assigned to column j; column 0 is virtual
    way = np.zeros(m + 1, dtype=int)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = p[j0]
            free = ~used[1:]
            cur = a[i0 - 1] - u[i0] - v[1:]
            better = free & (cur < minv[1:])
            minv[1:][better] = cur[better]
            way[1:][better] = j0
            cand = np.where(free, minv[1:], np.inf)
            j1 = int(np.argmin(cand)) + 1
            delta = cand[j1 - 1]
            used_idx = np.nonzero(used)[0]
            u[p[used_idx]] += delta
            v[used_idx] -= delta
            minv[1:][free] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    cols = np.nonzero(p[1:])[0]
    rows = p[1:][cols] - 1
    order = np.argsort(rows)
    rows, cols = rows[order], cols[order]
    if transposed:
        rows, cols = cols, rows
        order = np.argsort(rows)
        rows, cols = rows[order], cols[order]
    return rows.astype(int), cols.astype(int)


def linear_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scipy's linear_sum_assignment when available, else the numpy Hungarian algorithm."""
    from ..deps import is_available

    if is_available("scipy"):
        from scipy.optimize import linear_sum_assignment

        r, c = linear_sum_assignment(np.asarray(cost, dtype=float))
        return np.asarray(r, dtype=int), np.asarray(c, dtype=int)
    return hungarian(cost)


# --- change regions ----------------------------------------------------------------------

def _in_regions(points: np.ndarray, regions_wkt: Optional[Sequence[str]]) -> np.ndarray:
    inside = np.zeros(len(points), dtype=bool)
    if not regions_wkt or not len(points):
        return inside
    from osgeo import ogr

    for wkt in regions_wkt:
        try:
            geom = ogr.CreateGeometryFromWkt(wkt)
        except RuntimeError as exc:
            raise InputError(f"A change region is not valid WKT: {exc}") from exc
        minx, maxx, miny, maxy = geom.GetEnvelope()
        cand = np.nonzero(~inside & (points[:, 0] >= minx) & (points[:, 0] <= maxx)
                          & (points[:, 1] >= miny) & (points[:, 1] <= maxy))[0]
        for k in cand:
            pt = ogr.Geometry(ogr.wkbPoint)
            pt.AddPoint_2D(float(points[k, 0]), float(points[k, 1]))
            inside[k] = geom.Intersects(pt)
    return inside


# --- matching ------------------------------------------------------------------------------

@gdal_exceptions()
def match_detections(before: Sequence[Detection], after: Sequence[Detection],
                     max_distance_m: float = MatchSettings.max_distance_m,
                     stay_tolerance_m: float = MatchSettings.stay_tolerance_m, catalogue: Optional[Catalogue] = None,
                     change_regions_wkt: Optional[list[str]] = None,
                     after_shift_m: tuple[float, float] = (0.0, 0.0)) -> MatchResult:
    """Events (stayed, moved, arrived, departed) and per-class counts between two dates.

    Coordinates of both lists must be in the same projected CRS (metres). after_shift_m: how
    far the after capture's content sits east and north of the before one's (a co-registration
    shift); the after positions are compared with it removed, the detections stay unchanged.
    """
    if max_distance_m <= 0:
        raise InputError(f"The maximum matching distance must be positive (got {max_distance_m} m).")
    if stay_tolerance_m < 0 or stay_tolerance_m > max_distance_m:
        raise InputError(f"The stay tolerance ({stay_tolerance_m} m) must be between 0 and the maximum "
                         f"distance ({max_distance_m} m).")
    cat = catalogue if catalogue is not None else load_catalogue()
    before, after = list(before), list(after)
    pb = np.array([[d.cx, d.cy] for d in before], dtype=float).reshape(-1, 2)
    pa = np.array([[d.cx, d.cy] for d in after], dtype=float).reshape(-1, 2) - np.asarray(after_shift_m, float)
    dist = np.sqrt(((pb[:, None, :] - pa[None, :, :]) ** 2).sum(-1)) if len(pb) and len(pa) \
        else np.zeros((len(pb), len(pa)))
    cb = np.array([cat.detector_class(d.class_name) for d in before], dtype=object)
    ca = np.array([cat.detector_class(d.class_name) for d in after], dtype=object)
    feasible = (dist <= max_distance_m) & (cb[:, None] == ca[None, :]) if dist.size else dist.astype(bool)
    pairs: list[tuple[int, int]] = []
    if feasible.any():
        # Infeasible pairs cost more than any set of feasible ones: the count of matches comes first.
        big = float(max_distance_m) * (min(dist.shape) + 1) * 2.0
        cost = np.where(feasible, dist, big)
        rows, cols = linear_assignment(cost)
        pairs = [(int(r), int(c)) for r, c in zip(rows, cols) if feasible[r, c]]
    in_b = _in_regions(pb, change_regions_wkt)
    in_a = _in_regions(pa, change_regions_wkt)
    events: list[EquipmentEvent] = []
    matched_b, matched_a = set(), set()
    for r, c in sorted(pairs, key=lambda rc: rc[1]):
        d = float(dist[r, c])
        events.append(EquipmentEvent("stayed" if d <= stay_tolerance_m else "moved", before[r], after[c], d,
                                     bool(in_b[r] or in_a[c])))
        matched_b.add(r)
        matched_a.add(c)
    events += [EquipmentEvent("arrived", None, after[c], None, bool(in_a[c]))
               for c in range(len(after)) if c not in matched_a]
    events += [EquipmentEvent("departed", before[r], None, None, bool(in_b[r]))
               for r in range(len(before)) if r not in matched_b]
    counts: dict[str, ClassCount] = {}

    def count(name: str) -> ClassCount:
        return counts.setdefault(name, ClassCount(name))

    for d in before:
        count(d.class_name).before += 1
    for d in after:
        count(d.class_name).after += 1
    for e in events:
        c = count(e.class_name)
        setattr(c, e.event, getattr(c, e.event) + 1)
    labels = {name: cat.category_label(name) for name in counts}
    ordered = [counts[k] for k in sorted(counts)]
    return MatchResult(events=events, counts=ordered, labels=labels)
