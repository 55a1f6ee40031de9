"""Running a per-tile detector over a large raster: tiles with overlap, core ownership, NMS.

An engine gives a function `detect_tile(array, tile) -> list[PixelBox]` working on the tile's
pixels (C, H, W) at `out_scale`; boxes come back in that array's pixel frame. `run_tiled`
moves them to source pixels, keeps those whose centre is in the tile's core (so an object on
a seam is reported once), suppresses overlaps and returns source-pixel boxes;
`boxes_to_detections` turns them into georeferenced Detections.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
from osgeo import gdal

from ..progress import Progress
from ..raster import pixel_to_map
from ..tiling import Tile, iter_tiles, read_tile, tile_contains_center, tile_count
from .detection import Detection
from .geometry import box_corners, polygon_iou


@dataclass
class PixelBox:
    """An oriented box in pixel coordinates (x right, y down).

    angle_deg is the long axis measured clockwise from image up (0 = vertical), so on a
    north-up raster it equals the map heading.
    """

    cx: float
    cy: float
    length: float
    width: float
    angle_deg: float
    class_name: str
    score: float
    attributes: dict = dataclasses.field(default_factory=dict)

    def corners(self) -> np.ndarray:
        c = box_corners(self.cx, -self.cy, self.length, self.width, self.angle_deg)
        c[:, 1] *= -1.0
        return c


@dataclass(frozen=True)
class Window:
    """A pixel window of the raster: where detection runs (the AOI's bounding box)."""

    x0: int
    y0: int
    width: int
    height: int


def tile_boxes_to_source(boxes: Sequence[PixelBox], tile: Tile, out_scale: float = 1.0) -> list[PixelBox]:
    """Boxes in a tile array's pixels (read at out_scale) -> source-raster pixels."""
    s = 1.0 / out_scale
    return [dataclasses.replace(b, cx=tile.x0 + b.cx * s, cy=tile.y0 + b.cy * s,
                                length=b.length * s, width=b.width * s) for b in boxes]


def keep_in_core(boxes: Sequence[PixelBox], tile: Tile) -> list[PixelBox]:
    """Source-pixel boxes whose centre lies in the tile's core."""
    return [b for b in boxes if tile_contains_center(tile, b.cx, b.cy)]


def nms_boxes(boxes: Sequence[PixelBox], iou_threshold: float = 0.3, class_aware: bool = False) -> list[PixelBox]:
    """Greedy rotated NMS, best score first; bounding-box overlap is prefiltered in numpy."""
    if not boxes:
        return []
    polys = [b.corners() for b in boxes]
    bounds = np.array([[p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()] for p in polys])
    order = np.argsort(-np.array([b.score for b in boxes]), kind="stable")
    suppressed = np.zeros(len(boxes), dtype=bool)
    keep: list[int] = []
    for i in order:
        if suppressed[i]:
            continue
        keep.append(int(i))
        near = ((bounds[:, 0] <= bounds[i, 2]) & (bounds[:, 2] >= bounds[i, 0])
                & (bounds[:, 1] <= bounds[i, 3]) & (bounds[:, 3] >= bounds[i, 1]) & ~suppressed)
        near[i] = False
        for j in np.nonzero(near)[0]:
            if class_aware and boxes[j].class_name != boxes[i].class_name:
                continue
            if polygon_iou(polys[i], polys[j]) > iou_threshold:
                suppressed[j] = True
    return [boxes[i] for i in keep]


def window_tiles(window: Window, tile_size: int, overlap: int) -> list[Tile]:
    """Tiles over a window, in source-pixel coordinates."""
    tiles = []
    for t in iter_tiles(window.width, window.height, tile_size, overlap):
        tiles.append(dataclasses.replace(
            t, x0=t.x0 + window.x0, y0=t.y0 + window.y0, core_x0=t.core_x0 + window.x0,
            core_x1=t.core_x1 + window.x0, core_y0=t.core_y0 + window.y0, core_y1=t.core_y1 + window.y0))
    return tiles


def run_tiled(ds: gdal.Dataset, detect_tile: Callable[[np.ndarray, Tile], list[PixelBox]], *,
              tile_size: int, overlap: int, bands: Optional[Sequence[int]] = None, out_scale: float = 1.0,
              window: Optional[Window] = None, progress: Optional[Progress] = None,
              nms_iou: float = 0.3, class_aware_nms: bool = False) -> list[PixelBox]:
    """Detect over a raster tile by tile; returns de-duplicated boxes in source pixels.

    tile_size and overlap are in source pixels; overlap should exceed the largest object so
    that every object lies whole in the tile owning its centre.
    """
    window = window or Window(0, 0, ds.RasterXSize, ds.RasterYSize)
    tiles = window_tiles(window, tile_size, overlap)
    found: list[PixelBox] = []
    for k, tile in enumerate(tiles):
        if progress is not None:
            progress.report(k / len(tiles), f"Tile {k + 1} of {len(tiles)}")
        array = read_tile(ds, tile, bands=bands, out_scale=out_scale)
        boxes = tile_boxes_to_source(detect_tile(array, tile), tile, out_scale)
        found.extend(keep_in_core(boxes, tile))
    if progress is not None:
        progress.report(1.0, f"{len(found)} candidate(s) from {len(tiles)} tile(s)")
    return nms_boxes(found, nms_iou, class_aware_nms)


def boxes_to_detections(boxes: Sequence[PixelBox], geotransform: Sequence[float], engine: str,
                        crs_wkt: str = "", capture: str = "") -> list[Detection]:
    """Source-pixel boxes -> Detections in map coordinates (handles any affine geotransform)."""
    out = []
    for b in boxes:
        c = b.corners()
        mx, my = pixel_to_map(geotransform, c[:, 0], c[:, 1])
        det = Detection.from_corners(np.column_stack([mx, my]), class_name=b.class_name, score=float(b.score),
                                     engine=engine, capture=capture, crs_wkt=crs_wkt,
                                     attributes=dict(b.attributes))
        out.append(det)
    return out


def detections_to_boxes(detections: Sequence[Detection], geotransform: Sequence[float]) -> list[PixelBox]:
    """Detections (map coordinates) -> source-pixel boxes (e.g. exemplars given on the map)."""
    from ..raster import map_to_pixel

    out = []
    for d in detections:
        px, py = map_to_pixel(geotransform, d.polygon[:, 0], d.polygon[:, 1])
        c = np.column_stack([px, py])
        e1, e2 = c[1] - c[0], c[2] - c[1]
        l1, l2 = float(np.hypot(*e1)), float(np.hypot(*e2))
        along = e1 if l1 >= l2 else e2
        angle = math.degrees(math.atan2(along[0], -along[1])) % 180.0
        cx, cy = c.mean(axis=0)
        out.append(PixelBox(float(cx), float(cy), max(l1, l2), min(l1, l2), angle, d.class_name, d.score,
                            dict(d.attributes)))
    return out


__all__ = ["PixelBox", "Window", "run_tiled", "boxes_to_detections", "detections_to_boxes", "nms_boxes",
           "keep_in_core", "tile_boxes_to_source", "window_tiles", "tile_count"]


def aoi_window(ds: gdal.Dataset, aoi_wkt: Optional[str], margin_px: int = 0) -> Window:
    """The raster window covering an AOI polygon (WKT in the raster's CRS), or the whole raster.

    Raises InputError when the AOI is not a polygon or misses the raster.
    """
    from osgeo import ogr

    from ..errors import InputError
    from ..raster import map_to_pixel

    full = Window(0, 0, ds.RasterXSize, ds.RasterYSize)
    if not aoi_wkt:
        return full
    try:
        geom = ogr.CreateGeometryFromWkt(aoi_wkt)
    except RuntimeError as exc:
        raise InputError(f"The area of interest is not valid WKT: {exc}") from exc
    if geom is None or geom.IsEmpty():
        raise InputError("The area of interest is empty.")
    minx, maxx, miny, maxy = geom.GetEnvelope()
    gt = ds.GetGeoTransform()
    xs, ys = map_to_pixel(gt, np.array([minx, maxx, minx, maxx]), np.array([miny, miny, maxy, maxy]))
    x0 = max(0, int(math.floor(xs.min())) - margin_px)
    y0 = max(0, int(math.floor(ys.min())) - margin_px)
    x1 = min(ds.RasterXSize, int(math.ceil(xs.max())) + margin_px)
    y1 = min(ds.RasterYSize, int(math.ceil(ys.max())) + margin_px)
    if x1 <= x0 or y1 <= y0:
        raise InputError(f"The area of interest does not overlap the raster {ds.GetDescription()}.")
    return Window(x0, y0, x1 - x0, y1 - y0)
