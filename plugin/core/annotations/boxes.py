"""Oriented boxes as four corners: from three clicks, to and from WKT, map <-> image pixels."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import InputError
from ..gdal_scope import gdal_exceptions


def box_from_three_points(a: Sequence[float], b: Sequence[float], c: Sequence[float]) -> np.ndarray:
    """Corners (4, 2) of the box whose one side runs from a to b and whose width reaches c
    (the distance of c from the line a-b), on c's side of it."""
    a, b, c = (np.asarray(p, dtype=float)[:2] for p in (a, b, c))
    axis = b - a
    length = float(np.hypot(*axis))
    if length <= 0:
        raise InputError("The first two points of a box must differ.")
    normal = np.array([-axis[1], axis[0]]) / length
    offset = float(np.dot(c - a, normal))
    if abs(offset) <= 1e-9:
        raise InputError("The third point of a box must lie off the line of the first two.")
    shift = normal * offset
    return np.array([a, b, b + shift, a + shift])


def corners_to_wkt(corners: np.ndarray) -> str:
    pts = [tuple(p) for p in np.asarray(corners, dtype=float)[:4]]
    pts.append(pts[0])
    return "POLYGON((" + ", ".join(f"{x:.3f} {y:.3f}" for x, y in pts) + "))"


@gdal_exceptions()
def wkt_to_corners(wkt: str) -> np.ndarray:
    """The four corners of a box polygon (its first four ring points; a polygon of another shape
    gives its minimum-area rectangle)."""
    from osgeo import ogr

    from ..polygons import min_area_rectangle

    geom = ogr.CreateGeometryFromWkt(wkt)
    if geom is None or geom.IsEmpty():
        raise InputError("An annotation has no geometry.")
    polygon = geom.GetGeometryRef(0) if geom.GetGeometryName() == "MULTIPOLYGON" else geom
    ring = polygon.GetGeometryRef(0)
    points = np.array([ring.GetPoint_2D(k) for k in range(ring.GetPointCount())], dtype=float)
    if len(points) > 1 and np.allclose(points[0], points[-1]):
        points = points[:-1]
    if len(points) == 4:
        return points
    return min_area_rectangle(points)


def map_to_pixel(points: np.ndarray, geotransform: Sequence[float]) -> np.ndarray:
    """Map coordinates (n, 2) to pixel coordinates (column, row; y down) of a north-up or rotated grid."""
    gt = [float(v) for v in geotransform]
    det = gt[1] * gt[5] - gt[2] * gt[4]
    if det == 0:
        raise InputError("The image's georeferencing cannot be inverted.")
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    dx, dy = pts[:, 0] - gt[0], pts[:, 1] - gt[3]
    col = (gt[5] * dx - gt[2] * dy) / det
    row = (-gt[4] * dx + gt[1] * dy) / det
    return np.stack([col, row], axis=1)


def pixel_to_map(points: np.ndarray, geotransform: Sequence[float]) -> np.ndarray:
    gt = [float(v) for v in geotransform]
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    x = gt[0] + pts[:, 0] * gt[1] + pts[:, 1] * gt[2]
    y = gt[3] + pts[:, 0] * gt[4] + pts[:, 1] * gt[5]
    return np.stack([x, y], axis=1)
