"""Overlapping tiles over a raster, each owning a core window so stitched results have no seams.

Tiles overlap by `overlap` pixels; the overlap between two neighbours is split at its middle,
so the cores of all tiles partition the raster exactly: an object whose centre lies in a
tile's core is reported by that tile only (`tile_contains_center`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import numpy as np
from osgeo import gdal

from .errors import InputError, UnreadableRaster


@dataclass(frozen=True)
class Tile:
    """A window in source pixels plus the core [core_x0, core_x1) x [core_y0, core_y1) it owns."""

    x0: int
    y0: int
    width: int
    height: int
    core_x0: int
    core_y0: int
    core_x1: int
    core_y1: int
    index: int = 0

    @property
    def x1(self) -> int:
        return self.x0 + self.width

    @property
    def y1(self) -> int:
        return self.y0 + self.height


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)  # last tile flush with the edge
    return starts


def _core_bounds(starts: list[int], tile: int, length: int) -> list[int]:
    """Boundaries b_0 = 0 < b_1 < ... < b_n = length: middle of each neighbours' overlap."""
    size = min(tile, length)
    bounds = [0]
    for prev, cur in zip(starts[:-1], starts[1:]):
        bounds.append((cur + prev + size) // 2)
    bounds.append(length)
    return bounds


def iter_tiles(width: int, height: int, tile_size: int, overlap: int = 0) -> Iterator[Tile]:
    """Tiles of at most tile_size x tile_size pixels, row by row, overlapping by `overlap`."""
    if width < 1 or height < 1:
        raise InputError(f"Cannot tile an empty raster ({width} x {height} pixels).")
    if tile_size < 1 or overlap < 0 or overlap >= tile_size:
        raise InputError(f"Tile size {tile_size} px needs 0 <= overlap ({overlap} px) < tile size.")
    xs, ys = _starts(width, tile_size, overlap), _starts(height, tile_size, overlap)
    bx, by = _core_bounds(xs, tile_size, width), _core_bounds(ys, tile_size, height)
    index = 0
    for j, y0 in enumerate(ys):
        for i, x0 in enumerate(xs):
            yield Tile(x0, y0, min(tile_size, width), min(tile_size, height),
                       bx[i], by[j], bx[i + 1], by[j + 1], index)
            index += 1


def tile_count(width: int, height: int, tile_size: int, overlap: int = 0) -> int:
    return len(_starts(width, tile_size, overlap)) * len(_starts(height, tile_size, overlap))


def tile_contains_center(tile: Tile, x, y):
    """True where source-pixel coordinates (x, y) (scalars or arrays) lie in the tile's core."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    inside = (x >= tile.core_x0) & (x < tile.core_x1) & (y >= tile.core_y0) & (y < tile.core_y1)
    return bool(inside) if inside.ndim == 0 else inside


def read_tile(ds: gdal.Dataset, tile: Tile, bands: Optional[Sequence[int]] = None,
              out_scale: float = 1.0, dtype=np.float32) -> np.ndarray:
    """Pixels of a tile as (C, H, W); resampled by out_scale (0.5 = half the pixels per side).

    Downsampling averages (area resampling), upsampling is bilinear. Bands are 1-based.
    """
    band_list = list(bands) if bands else list(range(1, ds.RasterCount + 1))
    out_w = max(1, int(round(tile.width * out_scale)))
    out_h = max(1, int(round(tile.height * out_scale)))
    if out_scale == 1.0:
        alg = gdal.GRIORA_NearestNeighbour
    else:
        alg = gdal.GRIORA_Average if out_scale < 1.0 else gdal.GRIORA_Bilinear
    out = np.empty((len(band_list), out_h, out_w), dtype=dtype)
    for k, b in enumerate(band_list):
        if not 1 <= b <= ds.RasterCount:
            raise InputError(f"Band {b} does not exist; the raster has {ds.RasterCount} band(s).")
        try:
            arr = ds.GetRasterBand(b).ReadAsArray(tile.x0, tile.y0, tile.width, tile.height,
                                                  buf_xsize=out_w, buf_ysize=out_h, resample_alg=alg)
        except RuntimeError as exc:
            raise UnreadableRaster(f"Cannot read band {b} of {ds.GetDescription()}: {exc}") from exc
        if arr is None:
            raise UnreadableRaster(f"Cannot read band {b} of {ds.GetDescription()} at tile {tile.index}.")
        out[k] = arr
    return out
