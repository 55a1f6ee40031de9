"""Mask clean-up and change regions computed only where changes are.

The raw mask is scanned once for tiles that hold a pixel surviving the opening (its whole
(2r+1)^2 square changed); those tiles, grown by the clean-up halo, form zones (8-connected
on the tile map, so two zones are at least one tile apart). Each zone is cleaned, sieved,
polygonised and measured in a window around it, in memory; the final mask is then written
in one streamed pass. Results equal clean_mask + polygonise on the whole raster (regions
may come in another order); dense change falls back to those full-raster functions.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np
from osgeo import gdal, ogr

from ..parallel import thread_imap
from ..progress import Progress
from .filters import binary_open_close, box_sum_int
from .model import ChangeRegion, GridInfo
from .outputs import blocks, create_raster, remove_quietly, srs_of
from .regions import MASK_NODATA, STRIP_COLUMNS, RegionWriter, _score_stats, clean_mask, polygonise, zonal_scores

TILE = 16  # px, a multiple of 8 dividing STRIP_COLUMNS and the strip heights
ZONE_BUDGET_PX = 32_000_000  # one zone window (working memory ~ 12 bytes per pixel)
TOTAL_BUDGET_PX = 1_000_000_000  # all zone windows (kept at 1 bit per pixel until the mask is written)
STAT_ROWS = 512  # rows of labels reduced at a time


class _NeedFullRaster(Exception):
    """A zone cannot be sieved on its own (a small background piece reaches outside it)."""

    def __init__(self, done: float):
        super().__init__()
        self.done = done  # fraction of the zone stage reported so far


@dataclass
class Zone:
    label: int
    tiles: tuple[int, int, int, int]  # ty0, ty1, tx0, tx1 (end exclusive)
    window: tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels: the tiles' bbox + 1 px

    @property
    def pixels(self) -> int:
        x0, y0, x1, y1 = self.window
        return (x1 - x0) * (y1 - y0)


def clean_and_polygonise(raw_path: str, score_path: str, mask_out: str, regions_out: str, layer_name: str,
                         grid: GridInfo, radius_px: int, min_area_px: int, metres_per_unit: float,
                         progress: Optional[Progress], block_size: int = 512
                         ) -> tuple[list[ChangeRegion], int, float]:
    """clean_mask + polygonise(changed_only=True) computed zone by zone around the changes.

    raw_path: 0/1 mask, 255 nodata. Writes mask_out (final 0/1/255 mask, every block) and the
    REGION_FIELDS layer layer_name to regions_out. Returns (regions, region count, area m2)."""
    progress = progress or Progress()
    try:
        return _run(raw_path, score_path, mask_out, regions_out, layer_name, grid, radius_px, min_area_px,
                    metres_per_unit, progress, block_size)
    except BaseException:
        remove_quietly(mask_out, regions_out)
        raise


def _run(raw_path: str, score_path: str, mask_out: str, regions_out: str, layer_name: str, grid: GridInfo,
         radius_px: int, min_area_px: int, metres_per_unit: float, progress: Progress, block_size: int
         ) -> tuple[list[ChangeRegion], int, float]:
    rows = -(-max(block_size, 256) // TILE) * TILE
    # cleaned = closing(dilation(E)) with E the eroded mask (the marked tiles): a pixel depends
    # on E within 3r, so zones grown by 3r + 1 px are exact and at least one tile apart
    halo_tiles = max(1, math.ceil((3 * radius_px + 1) / TILE))
    tiles = opening_tiles(raw_path, grid, radius_px, rows, progress.stage(0.0, 0.25))
    zone_map, zones = find_zones(tiles, halo_tiles, grid)
    args = (raw_path, score_path, mask_out, regions_out, layer_name, grid, radius_px, min_area_px,
            metres_per_unit, block_size)
    if any(z.pixels > ZONE_BUDGET_PX for z in zones) or sum(z.pixels for z in zones) > TOTAL_BUDGET_PX:
        return _full_raster(*args, progress.stage(0.25, 1.0))
    writer = RegionWriter(regions_out, layer_name, grid)
    try:
        packed = _process_zones(raw_path, score_path, zone_map, zones, grid, radius_px, min_area_px,
                                metres_per_unit, writer, progress.stage(0.25, 0.85))
    except _NeedFullRaster as exc:
        writer.discard()
        remove_quietly(regions_out)
        return _full_raster(*args, progress.stage(0.25 + 0.6 * exc.done, 1.0))  # the rest of the run
    except BaseException:
        writer.discard()
        raise
    result = writer.close()
    _write_mask(raw_path, mask_out, grid, zones, packed, rows, progress.stage(0.85, 1.0))
    progress.report(1.0, f"{result[1]} change regions")
    return result


def _full_raster(raw_path: str, score_path: str, mask_out: str, regions_out: str, layer_name: str, grid: GridInfo,
                 radius_px: int, min_area_px: int, metres_per_unit: float, block_size: int, progress: Progress
                 ) -> tuple[list[ChangeRegion], int, float]:
    """The whole-raster path (dense change)."""
    changed_path = os.path.splitext(raw_path)[0] + ".changed.tif"
    try:
        clean_mask(raw_path, mask_out, grid, radius_px, min_area_px, block_size, progress.stage(0.0, 0.5),
                   changed_path)
        return polygonise(changed_path, score_path, regions_out, layer_name, grid, metres_per_unit,
                          progress.stage(0.5, 1.0), changed_only=True)
    finally:
        remove_quietly(changed_path)


# ---------------------------------------------------------------- tiles and zones

def opening_tiles(raw_path: str, grid: GridInfo, radius_px: int, rows: int, progress: Progress) -> np.ndarray:
    """Tiles holding a pixel whose (2r+1)^2 square is all changed (outside the raster counts
    as unchanged): only those pixels survive the opening, so only they can leave a change."""
    r = radius_px
    src = gdal.Open(raw_path)
    band = src.GetRasterBand(1)
    tiles = np.zeros((-(-grid.height // TILE), -(-grid.width // TILE)), bool)
    strips = list(blocks(grid.width, grid.height, min(grid.width, STRIP_COLUMNS), rows))

    def reads():  # on this thread (the dataset's only reader); the pool tests the strips
        for i, (x, y, w, h) in enumerate(strips):
            progress.report(i / len(strips), "Finding changed areas")
            x0, y0 = max(x - r, 0), max(y - r, 0)
            x1, y1 = min(x + w + r, grid.width), min(y + h + r, grid.height)
            yield (x, y, w, h), (x0, y0, x1, y1), band.ReadAsArray(x0, y0, x1 - x0, y1 - y0)

    def surviving_tiles(strip, window, values) -> Optional[np.ndarray]:
        (x, y, w, h), (x0, y0, x1, y1) = strip, window
        ones = values == 1
        if not ones.any():
            return None
        if r > 0:
            padded = np.zeros((h + 2 * r, w + 2 * r), bool)
            padded[y0 - (y - r):y1 - (y - r), x0 - (x - r):x1 - (x - r)] = ones
            ones = _all_in_run(_all_in_run(padded, 2 * r + 1, 1), 2 * r + 1, 0)
        return _tile_any(ones)

    for (x, y, w, h), found in zip(strips, thread_imap(surviving_tiles, reads())):
        if found is not None:
            tiles[y // TILE:(y + h - 1) // TILE + 1, x // TILE:(x + w - 1) // TILE + 1] |= found
    progress.report(1.0, "Finding changed areas")
    return tiles


def _all_in_run(a: np.ndarray, k: int, axis: int) -> np.ndarray:
    """True where all k consecutive elements along axis are ('valid' length n - k + 1)."""
    def part(arr: np.ndarray, start: int, length: int) -> np.ndarray:
        index = [slice(None)] * arr.ndim
        index[axis] = slice(start, start + length)
        return arr[tuple(index)]

    n, out, span = a.shape[axis], a, 1
    while span * 2 <= k:  # out[i] = all(a[i:i + span])
        size = out.shape[axis] - span
        out = part(out, 0, size) & part(out, span, size)
        span *= 2
    if span < k:  # two overlapping runs of span cover the run of k
        out = part(out, 0, n - k + 1) & part(out, k - span, n - k + 1)
    return out


def _tile_any(a: np.ndarray) -> np.ndarray:
    """Which TILE x TILE tiles of a bool array hold a True (8 pixels per uint64 word)."""
    h, w = a.shape
    if h % TILE or w % TILE:
        a = np.pad(a, ((0, -h % TILE), (0, -w % TILE)))
    words = np.ascontiguousarray(a).view(np.uint64)
    cols = words[:, 0::TILE // 8]
    for i in range(1, TILE // 8):
        cols = cols | words[:, i::TILE // 8]
    return cols.reshape(a.shape[0] // TILE, TILE, -1).any(axis=1)


def find_zones(tiles: np.ndarray, halo_tiles: int, grid: GridInfo) -> tuple[np.ndarray, list[Zone]]:
    """Zones: 8-connected groups of the tiles grown by halo_tiles; their label map and windows."""
    zone_map, n = label8(box_sum_int(tiles, halo_tiles) > 0)  # the tiles dilated by halo_tiles
    if n == 0:
        return zone_map, []
    ys, xs = np.nonzero(zone_map)
    lab = zone_map[ys, xs]
    ty0, tx0 = np.full(n + 1, zone_map.shape[0]), np.full(n + 1, zone_map.shape[1])
    ty1, tx1 = np.zeros(n + 1, int), np.zeros(n + 1, int)
    np.minimum.at(ty0, lab, ys)
    np.minimum.at(tx0, lab, xs)
    np.maximum.at(ty1, lab, ys + 1)
    np.maximum.at(tx1, lab, xs + 1)
    zones = []
    for k in range(1, n + 1):
        window = (max(int(tx0[k]) * TILE - 1, 0), max(int(ty0[k]) * TILE - 1, 0),
                  min(int(tx1[k]) * TILE + 1, grid.width), min(int(ty1[k]) * TILE + 1, grid.height))
        zones.append(Zone(k, (int(ty0[k]), int(ty1[k]), int(tx0[k]), int(tx1[k])), window))
    return zone_map, zones


def label8(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components of a 2-D bool array: (int32 labels 1..n numbered in scan order
    of their first pixel, 0 elsewhere; n). scipy when installed, else runs + union-find."""
    from ..deps import is_available

    if is_available("scipy"):
        from scipy.ndimage import label

        labels, n = label(mask, structure=np.ones((3, 3), bool))
        return labels.astype(np.int32, copy=False), int(n)
    return label8_numpy(mask)


def label8_numpy(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """label8 without scipy: horizontal runs joined to the touching runs of the row above."""
    h, w = mask.shape
    edges = np.diff(np.pad(mask, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    row, start = np.nonzero(edges == 1)  # runs [start, end) in scan order
    end = np.nonzero(edges == -1)[1]
    n_runs = len(start)
    if n_runs == 0:
        return np.zeros((h, w), np.int32), 0
    # runs of the row above touching a run (diagonals count): start <= end_above and start_above <= end
    stride = w + 2
    lo = np.searchsorted(row * stride + end, (row - 1) * stride + start, "left")
    hi = np.searchsorted(row * stride + start, (row - 1) * stride + end, "right")
    count = np.maximum(hi - lo, 0)
    a = np.repeat(np.arange(n_runs), count)
    b = np.repeat(lo, count) + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
    parent = list(range(n_runs))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(a.tolist(), b.tolist()):
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)  # the root is the component's first run
    roots = np.array([find(i) for i in range(n_runs)])
    is_root = roots == np.arange(n_runs)
    number = np.cumsum(is_root).astype(np.int32)[roots]
    flat = np.bincount(row * w + start, number, h * w + 1) - np.bincount(row * w + end, number, h * w + 1)
    return np.cumsum(flat[:-1]).astype(np.int32).reshape(h, w), int(is_root.sum())


# ---------------------------------------------------------------- one zone

def _process_zones(raw_path: str, score_path: str, zone_map: np.ndarray, zones: list[Zone], grid: GridInfo,
                   radius_px: int, min_area_px: int, metres_per_unit: float, writer: RegionWriter,
                   progress: Progress) -> list[Optional[np.ndarray]]:
    """Clean, sieve, polygonise and measure every zone; returns each zone's changed pixels
    (bits packed along rows, None when nothing is left)."""
    raw_ds, score_ds = gdal.Open(raw_path), gdal.Open(score_path)
    raw_band = raw_ds.GetRasterBand(1)
    packed: list[Optional[np.ndarray]] = []
    for i, zone in enumerate(zones):
        progress.report(i / max(len(zones), 1), f"Cleaning and tracing change regions ({writer.count})")
        changed = _clean_zone(raw_band, zone, zone_map, radius_px, min_area_px)
        if changed is None:
            raise _NeedFullRaster(i / max(len(zones), 1))
        if changed.any():
            _trace_zone(changed, zone, score_ds, grid, metres_per_unit, writer)
            packed.append(np.packbits(changed, axis=1))
        else:
            packed.append(None)
    return packed


def _clean_zone(raw_band: gdal.Band, zone: Zone, zone_map: np.ndarray, radius_px: int,
                min_area_px: int) -> Optional[np.ndarray]:
    """Final changed pixels of one zone over its window (bool, False outside the zone's tiles);
    None when the zone cannot be sieved on its own."""
    x0, y0, x1, y1 = zone.window
    raw = raw_band.ReadAsArray(x0, y0, x1 - x0, y1 - y0)
    # pixels of other zones are masked; outside the zones nothing is changed after cleaning
    ty, tx = np.arange(y0, y1) // TILE, np.arange(x0, x1) // TILE
    sub = zone_map[ty[0]:ty[-1] + 1, tx[0]:tx[-1] + 1]
    ty, tx = ty - ty[0], tx - tx[0]
    own = (sub == zone.label)[ty][:, tx]
    masked = (raw == MASK_NODATA) | ((sub > 0) & (sub != zone.label))[ty][:, tx]
    cleaned = binary_open_close(raw == 1, radius_px) if radius_px > 0 else raw == 1
    del raw
    values = cleaned.astype(np.uint8)
    values[masked] = MASK_NODATA
    del cleaned, masked
    if not (values == 1).any():
        return np.zeros(values.shape, bool)
    if min_area_px > 1:
        if not _background_pieces_large(values, own, min_area_px):
            return None
        mem = gdal.GetDriverByName("MEM").Create("", x1 - x0, y1 - y0, 1, gdal.GDT_Byte)
        band = mem.GetRasterBand(1)
        band.SetNoDataValue(MASK_NODATA)
        band.WriteArray(values)
        gdal.SieveFilter(band, band.GetMaskBand(), band, int(min_area_px), 8)
        values = band.ReadAsArray()
        mem = band = None
    return (values == 1) & own


def _background_pieces_large(values: np.ndarray, own: np.ndarray, min_area_px: int) -> bool:
    """True when every unchanged piece that reaches outside the zone and touches a change is
    at least min_area_px in the window (so on the whole raster too): then the sieve of the
    window equals the sieve of the whole raster inside the zone. Pieces within the zone are
    whole in the window; pieces reaching out are only ever the big background in practice."""
    zeros = values == 0
    labels, n = label8(zeros)
    small = _label_sizes(labels, n) < min_area_px
    small[0] = False
    suspect = small[labels]  # pixels of small pieces ...
    suspect &= ~own  # ... outside the zone
    if not suspect.any():
        return True
    small[:] = False
    small[np.unique(labels[suspect])] = True
    del suspect
    ones = np.pad(values == 1, 1)
    near = np.zeros_like(zeros)
    h, w = zeros.shape
    for dy in range(3):
        for dx in range(3):
            near |= ones[dy:dy + h, dx:dx + w]
    return not small[labels[near & zeros]].any()


def _label_sizes(labels: np.ndarray, n: int) -> np.ndarray:
    """Pixel count of labels 0..n (row chunks: bincount works on intp copies)."""
    sizes = np.zeros(n + 1, np.int64)
    for y in range(0, labels.shape[0], STAT_ROWS):
        sizes += np.bincount(labels[y:y + STAT_ROWS].ravel(), minlength=n + 1)
    return sizes


def _trace_zone(changed: np.ndarray, zone: Zone, score_ds: gdal.Dataset, grid: GridInfo,
                metres_per_unit: float, writer: RegionWriter) -> None:
    """Polygons (8-connected) of the zone's changed pixels, their score statistics, written."""
    rows, cols = np.nonzero(changed.any(axis=1))[0], np.nonzero(changed.any(axis=0))[0]
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    x0, y0 = zone.window[0] + c0, zone.window[1] + r0
    w, h = c1 - c0, r1 - r0
    gt = grid.geotransform
    srs = srs_of(grid)
    window_gt = (gt[0] + x0 * gt[1] + y0 * gt[2], gt[1], gt[2], gt[3] + x0 * gt[4] + y0 * gt[5], gt[4], gt[5])
    mem = _mem_raster(w, h, gdal.GDT_Byte, window_gt, srs)
    band = mem.GetRasterBand(1)
    band.WriteArray(changed[r0:r1, c0:c1].view(np.uint8))
    layer_ds = ogr.GetDriverByName("Memory").CreateDataSource("zone")
    layer = layer_ds.CreateLayer("zone", srs=srs, geom_type=ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("value", ogr.OFTInteger))
    gdal.Polygonize(band, band, layer, 0, ["8CONNECTED=8"])
    mem = band = None
    zonal = zonal_scores(layer, score_ds, grid, srs, window=(x0, y0, w, h))
    for feature in layer:
        geom = feature.GetGeometryRef().Clone()
        stats = zonal.get(feature.GetFID())
        writer.add(geom, stats if stats else _score_stats(score_ds, geom, grid, srs), metres_per_unit)
    layer = layer_ds = None


def _mem_raster(width: int, height: int, data_type: int, geotransform, srs) -> gdal.Dataset:
    ds = gdal.GetDriverByName("MEM").Create("", width, height, 1, data_type)
    ds.SetGeoTransform(geotransform)
    if srs is not None:
        ds.SetSpatialRef(srs)
    return ds


# ---------------------------------------------------------------- final mask

def _write_mask(raw_path: str, mask_out: str, grid: GridInfo, zones: list[Zone], packed: list[Optional[np.ndarray]],
                rows: int, progress: Progress) -> None:
    """The final mask, streamed: raw nodata, zone results, unchanged elsewhere."""
    raw_ds = gdal.Open(raw_path)
    raw_band = raw_ds.GetRasterBand(1)
    out = create_raster(mask_out, grid, 1, gdal.GDT_Byte, MASK_NODATA)
    out_band = out.GetRasterBand(1)
    kept = [(z, p) for z, p in zip(zones, packed) if p is not None]
    bounds = np.array([z.window for z, _ in kept], int).reshape(-1, 4)
    strips = list(blocks(grid.width, grid.height, min(grid.width, STRIP_COLUMNS), rows))
    for i, (x, y, w, h) in enumerate(strips):
        progress.report(i / len(strips), "Writing the change mask")
        arr = np.equal(raw_band.ReadAsArray(x, y, w, h), MASK_NODATA).view(np.uint8)
        arr *= MASK_NODATA  # nodata stays, nothing is changed outside the zones
        hits = np.nonzero((bounds[:, 0] < x + w) & (bounds[:, 2] > x) & (bounds[:, 1] < y + h) & (bounds[:, 3] > y))[0]
        for k in hits.tolist():
            zone, bits = kept[k]
            zx0, zy0, zx1, zy1 = zone.window
            ya, yb, xa, xb = max(y, zy0), min(y + h, zy1), max(x, zx0), min(x + w, zx1)
            part = np.unpackbits(bits[ya - zy0:yb - zy0], axis=1, count=zx1 - zx0)[:, xa - zx0:xb - zx0]
            arr[ya - y:yb - y, xa - x:xb - x] |= part
        out_band.WriteArray(arr, x, y)
    out_band = out = None
