"""Exemplar engine: find objects like a few example boxes, at any heading, without training.

Two stages, numpy (+ GDAL for reading) only:
1. Candidates. Per exemplar, the patch under its box becomes rotated templates (every
   `angle_step_deg` over 360) of grey level and gradient magnitude at a working GSD of about
   1 m. Tiles are normalised locally (mean and spread over a window of the exemplar's size), so
   one FFT correlation per template approximates a normalised cross-correlation; local maxima
   of the best rotation are candidates (position, heading).
2. Verification. Each exemplar gets a linear classifier fitted at run time: HOG-like cell
   histograms of patches rotated to the exemplar's frame, whitened with the background
   statistics of random patches of this scene (exemplar LDA). Candidates are scored by the
   whitened cosine to the exemplar over a few headings and sizes; the best gives the box's
   heading and size, and the score (0 = background, 1 = like the exemplar).
Boxes of all exemplars and tiles are merged by rotated NMS.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ...errors import InputError
from ...progress import Progress
from ...raster import open_raster, raster_info
from ...tiling import Tile, read_tile
from ..tiled import PixelBox, Window, aoi_window, boxes_to_detections, detections_to_boxes, nms_boxes, run_tiled

LOG = logging.getLogger(__name__)

DEFAULTS = {
    "work_gsd_m": 1.0,  # working ground sample distance (coarser than the scene: faster)
    "min_pixels": 10,  # an exemplar's short side spans at least this many working pixels
    "angle_step_deg": 15.0,
    "tile_px": 2048,  # working pixels per tile side (a window up to 1.25x this is one tile)
    "peak_floor": 0.15,  # correlation below which peaks are not candidates
    "max_candidates": 300,  # per exemplar and 1280 x 1280 working pixels, best correlation first
    "scales": (0.7, 0.85, 1.0, 1.2, 1.4),  # sizes tried relative to the exemplar (then refined)
    "background_samples": 1200,
    "nms_iou": 0.3,
    "verify": True,  # rescore candidates with the whitened-HOG classifier
    "refine_floor": 0.3,  # whitened cosine above which a candidate's heading and size are refined
    "coarse_min_pixels": 12,  # stage 1 runs decimated while the exemplar's short side keeps this many pixels
    "coarse_factor_max": 2,  # largest stage-1 decimation of the working grid
    "threads": 2,  # exemplars searched in parallel within a tile (numpy and the FFT release the GIL)
}


@dataclass
class _Template:
    kernels: np.ndarray  # (n_angles, C, D, D) normalised, masked
    angles: np.ndarray  # degrees clockwise added to the exemplar's heading
    size: int  # D, working pixels
    box: PixelBox  # exemplar box in source pixels
    scale: float  # working pixels per source pixel
    grey: np.ndarray  # grey patch around the exemplar, working pixels
    centre: tuple  # exemplar centre (x, y) in `grey`
    lda: Optional["_Lda"] = None
    scales: tuple = (1.0,)  # sizes tried relative to the exemplar
    factor: int = 1  # stage-1 decimation of the working grid (kernels are at that grid)


def _features(array: np.ndarray) -> np.ndarray:
    """(C, H, W) bands -> (2, H, W): grey level and gradient magnitude."""
    return _grey_features(array.mean(axis=0, dtype=np.float32))


def _grey_features(grey: np.ndarray) -> np.ndarray:
    """(H, W) grey -> (2, H, W): grey level and gradient magnitude."""
    grey = grey.astype(np.float32, copy=False)
    gy, gx = np.gradient(grey)
    return np.stack([grey, np.hypot(gx, gy)]).astype(np.float32, copy=False)


def _decimate(img: np.ndarray, f: int) -> np.ndarray:
    """(H, W) -> (H // f, W // f) block means (trailing rows/columns dropped)."""
    if f <= 1:
        return img
    h, w = (img.shape[0] // f) * f, (img.shape[1] // f) * f
    return img[:h, :w].reshape(h // f, f, w // f, f).mean(axis=(1, 3), dtype=np.float32)


def _box_mean(img: np.ndarray, d: int) -> np.ndarray:
    """Mean over a d x d window centred on each pixel (edges replicated), via integral image."""
    r0 = d // 2
    pad = np.pad(img, ((r0, d - r0), (r0, d - r0)), mode="reflect" if min(img.shape) > d else "edge")
    s = np.zeros((pad.shape[0] + 1, pad.shape[1] + 1), dtype=np.float64)
    s[1:, 1:] = pad.cumsum(0).cumsum(1)
    h, w = img.shape
    return ((s[d:d + h, d:d + w] - s[:h, d:d + w] - s[d:d + h, :w] + s[:h, :w]) / (d * d)).astype(np.float32)


def _local_normalise(feat: np.ndarray, d: int) -> np.ndarray:
    out = np.empty_like(feat)
    for c in range(feat.shape[0]):
        mu = _box_mean(feat[c], d)
        var = _box_mean(feat[c] * feat[c], d) - mu * mu
        spread = np.sqrt(np.maximum(var, 0.0))
        floor = max(float(np.median(spread)) * 0.2, 1e-3)
        out[c] = (feat[c] - mu) / np.maximum(spread, floor)
    return out


def _rotate(img: np.ndarray, angle_deg: float, size: int, centre: tuple[float, float]) -> np.ndarray:
    """(C, H, W) patch rotated clockwise (on screen) about centre (x, y), cropped to size x size."""
    c, h, w = img.shape
    t = math.radians(angle_deg)
    ct, st = math.cos(t), math.sin(t)
    o = (np.arange(size) - (size - 1) / 2.0).astype(np.float32)
    oy, ox = np.meshgrid(o, o, indexing="ij")
    sx = ox * ct + oy * st + centre[0]  # inverse rotation
    sy = -ox * st + oy * ct + centre[1]
    x0 = np.clip(np.floor(sx).astype(int), 0, w - 2)
    y0 = np.clip(np.floor(sy).astype(int), 0, h - 2)
    fx, fy = np.clip(sx - x0, 0, 1), np.clip(sy - y0, 0, 1)
    out = (img[:, y0, x0] * (1 - fx) * (1 - fy) + img[:, y0, x0 + 1] * fx * (1 - fy)
           + img[:, y0 + 1, x0] * (1 - fx) * fy + img[:, y0 + 1, x0 + 1] * fx * fy)
    return out.astype(np.float32)


def _rotated_kernels(feat: np.ndarray, size: int, centre: tuple, step: float) -> tuple[np.ndarray, np.ndarray]:
    """(C, H, W) normalised features -> ((n_angles, C, size, size) zero-mean unit-spread disk kernels
    rotated every `step` degrees about centre, angles)."""
    o = np.arange(size) - (size - 1) / 2.0
    mask = (o[None, :] ** 2 + o[:, None] ** 2) <= ((size - 1) / 2.0 + 0.5) ** 2
    angles = np.arange(0.0, 360.0, step)
    kernels = np.zeros((len(angles), feat.shape[0], size, size), dtype=np.float32)
    for k, a in enumerate(angles):
        rot = _rotate(feat, a, size, centre)
        for c in range(rot.shape[0]):
            v = rot[c][mask]
            sd = float(v.std())
            if sd < 1e-6:
                continue
            kernels[k, c][mask] = (v - v.mean()) / sd / (mask.sum() * rot.shape[0])
    return kernels, angles


def _fft():
    """(rfft2, irfft2): scipy.fft in single precision on two threads when installed, else numpy."""
    from ...deps import is_available

    if is_available("scipy"):
        import scipy.fft as sfft

        def rfft2(a, s):
            # rows first on the unpadded rows only: kernels are small, the padding is zeros
            rows = sfft.rfft(np.asarray(a, dtype=np.float32), n=s[1], axis=-1, workers=2)
            return sfft.fft(rows, n=s[0], axis=-2, workers=2)

        def irfft2(a, s):
            return sfft.irfft2(a, s=s, workers=2)

        return rfft2, irfft2

    def np_rfft2(a, s):
        return np.fft.fft(np.fft.rfft(a, n=s[1], axis=-1), n=s[0], axis=-2)

    return np_rfft2, np.fft.irfft2


def _fast_len(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n (fast FFT sizes)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 <= best:
        p35 = p5
        while p35 <= best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def _max_filter(img: np.ndarray, r: int) -> np.ndarray:
    """Maximum over a (2r+1)^2 window, separable."""
    if r < 1:
        return img
    from numpy.lib.stride_tricks import sliding_window_view

    p = np.pad(img, r, mode="constant", constant_values=-np.inf)
    p = sliding_window_view(p, 2 * r + 1, axis=0).max(axis=-1)
    return sliding_window_view(p, 2 * r + 1, axis=1).max(axis=-1)


# --- verification: whitened HOG (exemplar LDA against this scene's background) ----------------

_P = 32  # canonical patch side (pixels)
_CELLS = 4  # cells per side
_BINS = 8  # unsigned orientation bins
_CONTEXT = 1.3  # canonical patch side / object's longer side
_COS_FLOOR = 0.25  # whitened cosine mapped to score 0 (background patches score about 0 to 0.3)
_OY, _OX = np.meshgrid(np.arange(_P, dtype=np.float32) - (_P - 1) / 2.0,
                       np.arange(_P, dtype=np.float32) - (_P - 1) / 2.0, indexing="ij")
_CHUNK = 512  # patches per batch in verification (cache-sized)


def _sample(grey: np.ndarray, xs, ys, angles_deg, sides) -> np.ndarray:
    """(N, P, P) patches centred at (xs, ys), un-rotated by angles, side `sides` pixels, bilinear
    (positions beyond the edge take the edge value)."""
    xs, ys = np.asarray(xs, np.float32), np.asarray(ys, np.float32)
    t = np.radians(np.asarray(angles_deg, np.float32))
    step = np.asarray(sides, np.float32) / _P
    ct, st = (np.cos(t) * step)[:, None, None], (np.sin(t) * step)[:, None, None]
    sx = _OX * ct
    sx -= _OY * st
    sx += xs[:, None, None]
    sy = _OX * st
    sy += _OY * ct
    sy += ys[:, None, None]
    h, w = grey.shape
    np.clip(sx, 0, w - 1.001, out=sx)
    np.clip(sy, 0, h - 1.001, out=sy)
    x0, y0 = sx.astype(np.int32), sy.astype(np.int32)
    sx -= x0  # fractions
    sy -= y0
    idx = y0.astype(np.intp)
    idx *= w
    idx += x0
    g = grey.astype(np.float32, copy=False).ravel()
    top, right = g.take(idx), g.take(idx + 1)
    right -= top
    right *= sx
    top += right
    idx += w
    bottom, right = g.take(idx), g.take(idx + 1)
    right -= bottom
    right *= sx
    bottom += right
    bottom -= top
    bottom *= sy
    top += bottom
    return top


def _orientation(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """Unsigned gradient orientation in [0, pi] (arctan2(gy, gx) mod pi) to about 1e-5 rad, float32;
    a polynomial arctangent, several times faster than np.arctan2."""
    ax, ay = np.abs(gx), np.abs(gy)
    steep = ay > ax
    lo, hi = np.minimum(ax, ay), np.maximum(ax, ay)
    hi += 1e-30
    z = np.divide(lo, hi, out=lo)
    z2 = z * z
    a = z2 * np.float32(-0.01172120)
    for c in (0.05265332, -0.11643287, 0.19354346, -0.33262347, 0.99997726):
        a += np.float32(c)
        a *= z2 if c != 0.99997726 else z
    np.subtract(np.float32(np.pi / 2), a, out=a, where=steep)
    np.subtract(np.float32(np.pi), a, out=a, where=(gx < 0) != (gy < 0))
    return a


def _hog(patches: np.ndarray) -> np.ndarray:
    """(N, P, P) -> (N, D): cell orientation histograms (L2-Hys) and normalised cell means."""
    patches = patches.astype(np.float32, copy=False)
    n = patches.shape[0]
    gy, gx = np.gradient(patches, axis=(1, 2))
    mag = gx * gx
    mag += gy * gy
    np.sqrt(mag, out=mag)
    ang = _orientation(gx, gy)
    ang *= _BINS / np.pi
    b0 = ang.astype(np.int32)
    frac = ang - b0
    b0 %= _BINS
    c = _P // _CELLS
    cell = (np.arange(_P) // c)
    cell_id = (cell[:, None] * _CELLS + cell[None, :]).astype(np.int64)
    base = (np.arange(n, dtype=np.int64)[:, None, None] * (_CELLS * _CELLS) + cell_id[None]) * _BINS
    size = n * _CELLS * _CELLS * _BINS
    hist = np.bincount((base + b0).ravel(), (mag * (1 - frac)).ravel(), minlength=size)
    hist += np.bincount((base + (b0 + 1) % _BINS).ravel(), (mag * frac).ravel(), minlength=size)
    hist = hist.reshape(n, -1).astype(np.float32)
    hist /= np.linalg.norm(hist, axis=1, keepdims=True) + 1e-6
    hist = np.minimum(hist, 0.2)
    hist /= np.linalg.norm(hist, axis=1, keepdims=True) + 1e-6
    mu = patches.mean(axis=(1, 2), keepdims=True)
    sd = patches.std(axis=(1, 2), keepdims=True) + 1e-3
    means = ((patches - mu) / sd).reshape(n, _CELLS, c, _CELLS, c).mean(axis=(2, 4)).reshape(n, -1)
    return np.concatenate([hist, 0.15 * means], axis=1)


@dataclass
class _Lda:
    """Whitened exemplar direction: cosine between a patch and the exemplar once the scene's
    background statistics are whitened away (1: like the exemplar, ~0: like the background)."""

    white: np.ndarray  # (D, D) whitening of the background covariance
    mu0: np.ndarray  # background mean
    target: np.ndarray  # unit whitened exemplar direction

    def score(self, desc: np.ndarray) -> np.ndarray:
        x = (desc - self.mu0) @ self.white
        return (x @ self.target) / (np.linalg.norm(x, axis=1) + 1e-9)


def _fit_lda(positives: np.ndarray, background: np.ndarray, reg: float = 0.05) -> _Lda:
    background = background.astype(np.float64)
    mu0 = background.mean(axis=0)
    cov = np.cov(background, rowvar=False)
    cov += reg * np.trace(cov) / cov.shape[0] * np.eye(cov.shape[0])
    vals, vecs = np.linalg.eigh(cov)
    white = vecs @ np.diag(1.0 / np.sqrt(np.maximum(vals, 1e-12))) @ vecs.T
    target = (positives.astype(np.float64).mean(axis=0) - mu0) @ white
    target /= np.linalg.norm(target) + 1e-12
    return _Lda(white.astype(np.float32), mu0.astype(np.float32), target.astype(np.float32))


def _allowed_scales(exemplar, scales) -> tuple:
    """Size factors keeping the box within its catalogue class's length range (10 % slack); 1.0 always."""
    from ..catalogue import load_catalogue

    try:
        cls = load_catalogue().classes.get(exemplar.class_name)
    except InputError:
        cls = None
    if cls is None or cls.category == "generic":
        return tuple(scales)
    low, high = cls.length_range_m
    widest = max(cls.length_m, cls.width_m) / cls.length_m  # box's long side may be the wingspan
    low, high = low * widest, high * widest
    longest = max(exemplar.length_m, exemplar.width_m)
    keep = [s for s in scales if 0.9 * low <= s * longest <= 1.1 * high]
    return tuple(sorted(set(keep) | {1.0}))


def _verify(grey, lda: _Lda, xs, ys, angles, sizes, side, angle_offsets, size_factors):
    """Best classifier score per candidate over angle offsets x size factors: (z, angle, size)."""
    n = len(xs)
    ga = (np.asarray(angles, np.float32)[:, None, None] + np.asarray(angle_offsets, np.float32)[None, :, None]
          + np.zeros(len(size_factors), np.float32)[None, None, :])
    gs = np.asarray(sizes, np.float32)[:, None, None] * np.asarray(size_factors, np.float32)[None, None, :] \
        + np.zeros_like(ga)
    gx = np.broadcast_to(np.asarray(xs, np.float32)[:, None, None], ga.shape)
    gy = np.broadcast_to(np.asarray(ys, np.float32)[:, None, None], ga.shape)
    z = np.empty(ga.size, dtype=np.float32)
    for k in range(0, ga.size, _CHUNK):  # bounded memory
        sl = slice(k, k + _CHUNK)
        z[sl] = lda.score(_hog(_sample(grey, gx.ravel()[sl], gy.ravel()[sl], ga.ravel()[sl],
                                       side * gs.ravel()[sl])))
    z = z.reshape(n, -1)
    best = np.argmax(z, axis=1)
    rows = np.arange(n)
    return z[rows, best], ga.reshape(n, -1)[rows, best], gs.reshape(n, -1)[rows, best]


class ExemplarEngine:
    name = "exemplar"

    def detect(self, params, progress: Optional[Progress] = None) -> list:
        opts = {**DEFAULTS, **(getattr(params, "options", None) or {})}
        if not params.exemplars:
            raise InputError("The exemplar engine needs at least one example box (exemplar) drawn on the raster.")
        ds = open_raster(params.raster)
        info = raster_info(ds)
        gt = info.geotransform
        boxes = detections_to_boxes(params.exemplars, gt)
        for b, d in zip(boxes, params.exemplars):
            if not (0 <= b.cx < info.width and 0 <= b.cy < info.height):
                raise InputError(f"The exemplar '{d.class_name}' at ({d.cx:.1f}, {d.cy:.1f}) lies outside the "
                                 f"raster {Path(info.path).name}; draw exemplars on the raster being searched, "
                                 f"in its CRS.")
            if b.width < 2:
                raise InputError(f"The exemplar '{d.class_name}' is smaller than two pixels across.")
        # Working scale: about work_gsd_m, but keep min_pixels across the smallest exemplar.
        min_side = min(b.width for b in boxes)
        scale = min(1.0, max(info.gsd_m / float(opts["work_gsd_m"]), float(opts["min_pixels"]) / min_side))
        fmax, fmin_px = int(opts["coarse_factor_max"]), float(opts["coarse_min_pixels"])
        templates = [self._template(ds, b, scale, float(opts["angle_step_deg"]),
                                    max(1, min(fmax, int(b.width * scale / fmin_px)))) for b in boxes]
        for tpl, d in zip(templates, params.exemplars):
            tpl.scales = _allowed_scales(d, opts["scales"])
        largest = max(t.size for t in templates)
        window = aoi_window(ds, params.aoi_wkt)
        tile_src = int(round(int(opts["tile_px"]) / scale))
        if max(window.width, window.height) <= 1.25 * tile_src:
            tile_src = max(window.width, window.height)
        overlap_src = int(math.ceil(1.6 * largest / scale))
        tile_src = max(tile_src, 2 * overlap_src + 1)
        if opts["verify"]:
            self._fit_verifiers(ds, window, templates, scale, int(opts["background_samples"]))

        def detect_tile(array: np.ndarray, tile: Tile) -> list[PixelBox]:
            return self._detect_array(array, templates, opts)

        found = run_tiled(ds, detect_tile, tile_size=tile_src, overlap=overlap_src, out_scale=scale,
                          window=window, progress=progress, nms_iou=float(opts["nms_iou"]))
        return boxes_to_detections(found, gt, self.name, info.crs_wkt, params.capture)

    @staticmethod
    def _template(ds, box: PixelBox, scale: float, step: float, factor: int = 1) -> _Template:
        """Rotated, normalised, disk-masked templates of the patch under an exemplar box; the kernels
        are on the working grid decimated by `factor` (stage 1), the grey patch on the working grid."""
        size = max(5, int(math.ceil(max(box.length, box.width) * scale)) | 1)
        read = int(math.ceil(3.0 * size / scale)) + 4
        # clamped to the raster: samples beyond its edge repeat the border
        xa, ya = max(0, int(round(box.cx - read / 2))), max(0, int(round(box.cy - read / 2)))
        xb, yb = min(ds.RasterXSize, xa + read), min(ds.RasterYSize, ya + read)
        tile = Tile(xa, ya, xb - xa, yb - ya, xa, ya, xb, yb)
        patch = read_tile(ds, tile, out_scale=scale)
        sx, sy = patch.shape[2] / tile.width, patch.shape[1] / tile.height
        centre = ((box.cx - xa) * sx - 0.5, (box.cy - ya) * sy - 0.5)
        grey = patch.mean(axis=0, dtype=np.float32)
        ksize = max(5, int(math.ceil(size / factor)) | 1)
        kcentre = ((centre[0] + 0.5) / factor - 0.5, (centre[1] + 0.5) / factor - 0.5)
        # Normalise features as tiles will be (local window of the template size).
        feat = _local_normalise(_grey_features(_decimate(grey, factor)), ksize)
        kernels, angles = _rotated_kernels(feat, ksize, kcentre, step)
        return _Template(kernels, angles, ksize, box, scale, grey, centre, factor=factor)

    @staticmethod
    def _fit_verifiers(ds, window: Window, templates: list[_Template], scale: float, n_samples: int) -> None:
        """Per exemplar, a linear classifier: exemplar (jittered) against random background patches."""
        rng = np.random.default_rng(12345)
        side_src = max(256, int(512 / scale))
        greys = []
        for _ in range(4 if window.width * window.height > (2 * side_src) ** 2 else 1):
            w, h = min(side_src, window.width), min(side_src, window.height)
            x0 = window.x0 + int(rng.integers(0, window.width - w + 1))
            y0 = window.y0 + int(rng.integers(0, window.height - h + 1))
            greys.append(read_tile(ds, Tile(x0, y0, w, h, x0, y0, x0 + w, y0 + h), out_scale=scale).mean(axis=0))
        for tpl in templates:
            side = _CONTEXT * max(tpl.box.length, tpl.box.width) * tpl.scale
            bg = []
            per = n_samples // len(greys)
            for g in greys:
                xs, ys = rng.uniform(0, g.shape[1], per), rng.uniform(0, g.shape[0], per)
                bg.append(_hog(_sample(g, xs, ys, rng.uniform(0, 360, per), side * rng.uniform(0.77, 1.3, per))))
            n = 24
            pos = _hog(_sample(tpl.grey, tpl.centre[0] + rng.normal(0, 0.7, n), tpl.centre[1] + rng.normal(0, 0.7, n),
                               rng.normal(0, 3.0, n), side * rng.uniform(0.96, 1.04, n)))
            tpl.lda = _fit_lda(pos, np.concatenate(bg))

    @staticmethod
    def _candidates(norm: np.ndarray, tpl: _Template, floor: float, top: int):
        """Peaks of the best-rotation correlation on the template's grid (working grid decimated by
        tpl.factor): (xs, ys, angles, ncc), positions in working pixels."""
        _, h, w = norm.shape
        d = tpl.size
        fh, fw = _fast_len(h), _fast_len(w)
        rfft2, irfft2 = _fft()
        spec = rfft2(norm, s=(fh, fw))
        best = np.full((h - d + 1, w - d + 1), -np.inf, dtype=np.float32)
        best_k = np.zeros(best.shape, dtype=np.int16)
        better = np.empty(best.shape, dtype=bool)
        for k in range(len(tpl.angles)):
            kspec = rfft2(tpl.kernels[k], s=(fh, fw))
            kspec = np.conj(kspec, out=kspec)
            kspec *= spec
            corr = irfft2(kspec.sum(axis=0), s=(fh, fw))[:h - d + 1, :w - d + 1]
            np.greater(corr, best, out=better)
            np.copyto(best, corr, where=better)
            np.copyto(best_k, k, where=better)
        f = tpl.factor
        r = max(1, int(0.35 * tpl.box.width * tpl.scale / f))
        peaks = (best == _max_filter(best, r)) & (best >= floor)
        ys, xs = np.nonzero(peaks)
        ncc = best[ys, xs]
        order = np.argsort(-ncc)[:top]
        half = (d - 1) / 2.0
        xw, yw = (xs[order] + half) * f + (f - 1) / 2.0, (ys[order] + half) * f + (f - 1) / 2.0
        return xw, yw, tpl.angles[best_k[ys[order], xs[order]]], ncc[order]

    @staticmethod
    def _detect_array(array: np.ndarray, templates: list[_Template], opts: dict) -> list[PixelBox]:
        grey = array.mean(axis=0, dtype=np.float32)
        feats: dict[int, np.ndarray] = {}  # features per stage-1 decimation
        norms: dict[tuple, np.ndarray] = {}  # normalised features per (decimation, template size)
        jobs = []
        for tpl in templates:
            d, f = tpl.size, tpl.factor
            if f not in feats:
                feats[f] = _grey_features(_decimate(grey, f))
            _, h, w = feats[f].shape
            if h < d or w < d:
                continue
            if (f, d) not in norms:
                norms[(f, d)] = _local_normalise(feats[f], d)
            jobs.append((tpl, norms[(f, d)]))
        # candidate cap scales with the tile's area (the default is per 1280 x 1280 working pixels)
        top = max(1, int(round(int(opts["max_candidates"]) * grey.size / 1280.0 ** 2)))

        def one(job) -> list[PixelBox]:
            return ExemplarEngine._detect_exemplar(grey, job[1], job[0], opts, top)

        threads = min(int(opts.get("threads") or 1), len(jobs))
        if threads > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(threads) as pool:
                found = list(pool.map(one, jobs))
        else:
            found = [one(job) for job in jobs]
        return nms_boxes([b for boxes in found for b in boxes], float(opts["nms_iou"]))

    @staticmethod
    def _detect_exemplar(grey: np.ndarray, norm: np.ndarray, tpl: _Template, opts: dict, top: int) -> list[PixelBox]:
        """Candidates of one exemplar in a tile (stage 1), scored by its classifier (stage 2)."""
        step = float(opts["angle_step_deg"])
        xs, ys, angles, ncc = ExemplarEngine._candidates(norm, tpl, float(opts["peak_floor"]), top)
        if not len(xs):
            return []
        length, width = tpl.box.length * tpl.scale, tpl.box.width * tpl.scale
        if tpl.lda is None:
            best_s, best_a, score = np.ones(len(xs)), angles, np.clip(ncc, 0, 1)
        else:
            side = _CONTEXT * max(length, width)
            # coarse: the correlation's angle at a few sizes; fine: around the best, for the promising
            z, best_a, best_s = _verify(grey, tpl.lda, xs, ys, angles, np.ones(len(xs)), side,
                                        np.zeros(1), np.asarray(tpl.scales, dtype=np.float32))
            fine = np.nonzero(z > float(opts["refine_floor"]))[0]
            if len(fine):
                zf, af, sf = _verify(grey, tpl.lda, xs[fine], ys[fine], best_a[fine], best_s[fine], side,
                                     np.array([-step / 3, 0.0, step / 3]), np.array([0.93, 1.0, 1.07]))
                z[fine], best_a[fine], best_s[fine] = zf, af, sf
            score = np.clip((z - _COS_FLOOR) / (1.0 - _COS_FLOOR), 0.0, 1.0)
        return [PixelBox(float(xs[i]) + 0.5, float(ys[i]) + 0.5, length * float(best_s[i]),
                         width * float(best_s[i]), float(tpl.box.angle_deg + best_a[i]) % 360.0,
                         tpl.box.class_name, float(score[i]), {"ncc": round(float(ncc[i]), 3)})
                for i in np.nonzero(score > 0)[0]]  # score 0: no better than the background
