"""Plane polygon helpers shared by the cores: convex hull, minimum-area rectangle."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .errors import InputError
from .gdal_scope import gdal_exceptions


def min_area_rectangle(points: np.ndarray) -> np.ndarray:
    """Corners (4, 2) of the minimum-area rectangle around points (rotating the hull's edges)."""
    pts = np.unique(np.asarray(points, dtype=float), axis=0)
    if len(pts) < 3:
        raise InputError("A polygon needs at least three distinct corners to make a box.")
    hull = convex_hull(pts)
    best = None
    for i in range(len(hull)):
        edge = hull[(i + 1) % len(hull)] - hull[i]
        norm = math.hypot(*edge)
        if norm == 0:
            continue
        u = edge / norm
        v = np.array([-u[1], u[0]])
        a, b = hull @ u, hull @ v
        area = (a.max() - a.min()) * (b.max() - b.min())
        if best is None or area < best[0] - 1e-9:
            best = (area, u, v, a.min(), a.max(), b.min(), b.max())
    _, u, v, a0, a1, b0, b1 = best
    return np.array([u * a0 + v * b0, u * a1 + v * b0, u * a1 + v * b1, u * a0 + v * b1])


def convex_hull(pts: np.ndarray) -> np.ndarray:
    pts = pts[np.lexsort((pts[:, 1], pts[:, 0]))]

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list = []
    for p in pts[::-1]:
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


@gdal_exceptions()
def subtract_polygons(area_wkt: str, left_out_wkt: str) -> str:
    """area minus the left-out polygons (both WKT in the same CRS), as WKT; InputError when
    either is not a polygon geometry or nothing of the area remains."""
    from osgeo import ogr

    geometries = []
    for wkt, what in ((area_wkt, "area of interest"), (left_out_wkt, "areas left out")):
        try:
            geometry = ogr.CreateGeometryFromWkt(wkt)
        except RuntimeError as exc:
            raise InputError(f"The {what} is not a valid WKT geometry: {exc}") from exc
        if geometry is None or ogr.GT_Flatten(geometry.GetGeometryType()) not in (ogr.wkbPolygon, ogr.wkbMultiPolygon):
            raise InputError(f"The {what} must be polygons.")
        geometries.append(geometry if geometry.IsValid() else geometry.Buffer(0))  # self-crossing outlines mended
    remaining = geometries[0].Difference(geometries[1])
    if remaining is None or remaining.IsEmpty() or remaining.GetArea() <= 0:
        raise InputError("The areas left out cover the whole site: nothing is left to analyse.")
    return remaining.ExportToWkt()


@gdal_exceptions()
def footprint_wkt(path: str) -> tuple[str, str]:
    """The rectangle a georeferenced raster covers, as WKT in its own CRS, and that CRS (WKT);
    for a raster without georeferencing, in the frame QGIS shows it in (x = column, y = -row)."""
    from osgeo import gdal

    ds = gdal.Open(path)
    if ds is None:
        raise InputError(f"Cannot read {path}.")
    x0, dx, rx, y0, ry, dy = ds.GetGeoTransform()
    if (x0, dx, rx, y0, ry, dy) == (0.0, 1.0, 0.0, 0.0, 0.0, 1.0) and not ds.GetGCPCount():
        dy = -1.0
    w, h = ds.RasterXSize, ds.RasterYSize
    corners = [(x0 + i * dx + j * rx, y0 + i * ry + j * dy) for i, j in ((0, 0), (w, 0), (w, h), (0, h), (0, 0))]
    return "POLYGON ((" + ", ".join(f"{x!r} {y!r}" for x, y in corners) + "))", ds.GetProjection()


@gdal_exceptions()
def area_less_left_out(area_wkt: Optional[str], left_out_wkt: str, raster_path: str) -> str:
    """The area (WKT; the raster's footprint when None) less the areas left out, in one CRS."""
    return subtract_polygons(area_wkt or footprint_wkt(raster_path)[0], left_out_wkt)
