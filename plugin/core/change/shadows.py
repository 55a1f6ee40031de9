"""Region-level test for "a shadow moved": the sun moved between the dates, an object present
on both dates casts its shadow elsewhere, and the pixels the shadow left or reached score as change.

A region is a shadow move when, on both dates, its pixels are either ground (like the ring just
outside it) or shadow (darker than that ground), the ground <-> shadow swaps dominate and go both
ways (the shadow left some pixels and reached others: it moved, it did not come or go), and the
pixels just up-sun of the new shadow (towards that date's sun) are unchanged casters: an object
or a shadow on both dates. A departed/arrived object fails: its body is neither ground nor shadow,
and a dark body (shadow-like) swaps one way only. The pipeline applies the test only when both
captures carry their sun angles (drop_shadow_moves)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Optional

import numpy as np
from osgeo import gdal, ogr

from ..captures import capture_sun
from ..deps import require
from ..parallel import SideThread, prefetch
from .outputs import metres_per_unit
from .regions import envelope_window, polygon_mask

RING_M = (1.0, 3.0)  # ring around a region: from 1 to 3 m outside it
SHADOW_RATIO = 0.65  # shadow: luminance below this share of the ring's ground
GROUND_TOL = 0.18  # ground: luminance within this share of the ring's ground ...
CHROMA_TOL = 0.08  # ... and band shares within this
MAX_OTHER = 0.15  # at most this share of neither-ground-nor-shadow pixels on either date
MIN_SWAP = 0.5  # at least this share of ground <-> shadow swaps
MIN_BOTH_WAYS = 0.2  # the shadow left some pixels and reached others: each way this share of the swaps
UPSUN_M = 2.0  # how far up-sun (m) the caster is looked for
REFERENCE_PIXEL_M = 0.5  # the pixel size the default of is_shadow_move's pixel_m stands for
MAX_SHADOW_AREA_M2 = 2500.0  # larger regions are not tested (a large aircraft's moved shadow is a few hundred m2)
MAX_WINDOW_PX = 2_000_000  # nor regions whose window is larger than this
READ_AHEAD = 4  # regions whose windows are read ahead of their test
MIN_CASTER = 0.5  # share of up-sun pixels that are unchanged casters


@dataclass
class Sun:
    azimuth_deg: float  # clockwise from north
    elevation_deg: float

    def step(self) -> tuple[float, float]:
        """Unit step towards the sun in pixel (column, row) terms (north up)."""
        a = math.radians(self.azimuth_deg)
        return math.sin(a), -math.cos(a)


def _classes(bands: np.ndarray, ring: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ground, shadow) masks over the window, against the ring's sunlit ground."""
    lum = bands.mean(0)
    lit = ring & (lum > SHADOW_RATIO * np.median(lum[ring]))
    ref = lit if lit.sum() >= 10 else ring
    g_lum = float(np.median(lum[ref]))
    share = bands / np.maximum(lum, 1e-3)
    g_share = np.median(share[:, ref], axis=1)
    ground = (np.abs(lum - g_lum) < GROUND_TOL * g_lum) & (np.abs(share - g_share[:, None, None]).max(0) < CHROMA_TOL)
    shadow = (lum < SHADOW_RATIO * g_lum) & ~ground
    return ground, shadow


def _upsun(mask: np.ndarray, step: tuple[float, float], dist: int) -> np.ndarray:
    """Pixels within dist px of mask towards the sun (mask itself excluded)."""
    out = np.zeros_like(mask)
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    for t in range(1, dist + 1):
        y = np.rint(ys + t * step[1]).astype(int)
        x = np.rint(xs + t * step[0]).astype(int)
        ok = (y >= 0) & (y < h) & (x >= 0) & (x < w)
        out[y[ok], x[ok]] = True
    return out & ~mask


def _px(metres: float, pixel_m: float) -> int:
    return max(1, int(round(metres / pixel_m)))


def is_shadow_move(region: np.ndarray, changed: np.ndarray, valid: np.ndarray, before: np.ndarray,
                   after: np.ndarray, suns: tuple[Optional[Sun], Optional[Sun]],
                   pixel_m: float = REFERENCE_PIXEL_M) -> bool:
    """region/changed/valid: boolean window masks; before/after: aligned (bands, rows, cols)
    windows (visible bands), a margin of at least RING_M[1] + UPSUN_M around the region.
    suns: (before, after); None = unknown (then any of 8 directions may hold the caster)."""
    ndi = require("scipy").ndimage
    ring_in, ring_out, upsun = _px(RING_M[0], pixel_m), _px(RING_M[1], pixel_m), _px(UPSUN_M, pixel_m)
    ring = ndi.binary_dilation(region, iterations=ring_out) & ~ndi.binary_dilation(region, iterations=ring_in)
    ring &= ~changed & valid
    if ring.sum() < 10:
        return False
    gb, sb = _classes(before, ring)
    ga, sa = _classes(after, ring)
    n = region.sum()
    other = max((region & ~(gb | sb)).sum(), (region & ~(ga | sa)).sum()) / n
    appear = (region & sb & ga, region & sa & gb)  # shadow on before only, on after only
    swaps = appear[0].sum() + appear[1].sum()
    if other > MAX_OTHER or swaps / n < MIN_SWAP or min(appear[0].sum(), appear[1].sum()) < MIN_BOTH_WAYS * swaps:
        return False
    # casters: unchanged pixels (or the region's shadow-on-both part) that are object or shadow on both dates
    stable = ~changed | (region & sb & sa)
    caster = stable & valid & ((sb & sa) | (~(gb | sb) & ~(ga | sa)))
    held, total = 0, 0
    for pixels, sun in zip(appear, suns):
        if not pixels.any():
            continue
        steps = [sun.step()] if sun else [(math.cos(k * math.pi / 4), math.sin(k * math.pi / 4)) for k in range(8)]
        best = 0.0
        for step in steps:
            near = _upsun(pixels, step, upsun)
            up = near & ~region | (near & region & sb & sa)
            if up.any():
                best = max(best, (up & caster).sum() / up.sum())
        held += best * pixels.sum()
        total += pixels.sum()
    return total > 0 and held / total >= MIN_CASTER


def capture_suns(before_path: str, after_path: str) -> tuple[Optional[Sun], Optional[Sun]]:
    """The sun of each capture, from its metadata or vendor sidecar."""
    return tuple(Sun(*angles) if angles else None for angles in map(capture_sun, (before_path, after_path)))


def visible_bands(keys: list) -> list[int]:
    """Indices of the red, green and blue bands when named, else the first three."""
    named = [i for i, k in enumerate(keys) if k in ("red", "green", "blue")]
    return named if len(named) == 3 else list(range(min(3, len(keys))))


def drop_shadow_moves(pair, shift_model, mask_path: str, regions_path: str, layer_name: str,
                      suns: tuple[Optional[Sun], Optional[Sun]], bands: list[int], progress
                      ) -> list[tuple[float, float, float]]:
    """Removes the change regions that are shadow moves from the regions layer and the mask
    (their pixels become unchanged). Returns (centroid_x, centroid_y, area_m2) of each.
    The pipeline passes known suns only; None (any direction) serves the evaluation."""
    grid = pair.grid
    gt = grid.geotransform
    pixel_m = grid.pixel_width * metres_per_unit(grid)
    pad = _px(RING_M[1], pixel_m) + _px(UPSUN_M, pixel_m) + 1
    out_ds = ogr.Open(regions_path, 1)
    layer = out_ds.GetLayerByName(layer_name)
    layer.SetAttributeFilter(f"area_m2 <= {MAX_SHADOW_AREA_M2}")
    mask_ds = gdal.Open(mask_path, gdal.GA_Update)
    mask_band = mask_ds.GetRasterBand(1)
    dropped, fids = [], []
    total = max(layer.GetFeatureCount(), 1)

    def candidates():
        """Each small region's feature, window and inputs there. Runs on a reader thread ahead of
        the tests (the after capture read on a side thread); the mask, which the tests change,
        is read by the tests."""
        with SideThread("sitewatch-read-after") as side:
            for n, feature in enumerate(layer):
                x0, y0, w, h = envelope_window(feature.GetGeometryRef(), grid, pad)
                if w <= 0 or h <= 0 or w * h > MAX_WINDOW_PX:
                    continue
                (before, vb), (after, va) = side.both(partial(pair.before.read, x0, y0, w, h),
                                                      partial(shift_model.read, pair.after, x0, y0, w, h))
                yield n, feature, (x0, y0, w, h), before[bands], vb, after[bands], va

    reported = -1
    for n, feature, (x0, y0, w, h), before, vb, after, va in prefetch(candidates(), READ_AHEAD):
        if n // 50 > reported:
            reported = n // 50
            progress.report(n / total, "Looking for shadows moved by the sun")
        mask = mask_band.ReadAsArray(x0, y0, w, h)
        window_gt = (gt[0] + x0 * gt[1], gt[1], 0.0, gt[3] + y0 * gt[5], 0.0, gt[5])
        region = polygon_mask(feature.GetGeometryRef(), window_gt, w, h) & (mask == 1)
        if not region.any():
            continue
        valid = (mask != 255) & vb & va
        if is_shadow_move(region, mask == 1, valid, before, after, suns, pixel_m):
            mask[region] = 0
            mask_band.WriteArray(mask, x0, y0)
            fids.append(feature.GetFID())
            dropped.append((feature.GetField("centroid_x"), feature.GetField("centroid_y"), feature.GetField("area_m2")))
    layer.SetAttributeFilter(None)
    for fid in fids:
        layer.DeleteFeature(fid)
    layer = out_ds = None
    mask_band = mask_ds = None
    return dropped
