"""Exemplar engine: find objects like a few example boxes, at any heading, without training.

Two stages, numpy (+ GDAL for reading) only:
1. Candidates. Per exemplar, the patch under its box becomes rotated templates (every
   `angle_step_deg` over 360) of grey level and gradient magnitude at a working GSD of about
   1 m. Tiles are normalised locally (mean and spread over a window of the exemplar's size), so
   one FFT correlation per template approximates a normalised cross-correlation, computed by
   overlap-save over blocks (the kernels' spectra are taken once per run); local maxima of the
   best rotation are candidates (position, heading).
2. Verification. Each exemplar gets a linear classifier fitted at run time: HOG-like cell
   histograms of patches rotated to the exemplar's frame (plus, for exemplars only a few pixels
   across, the layout of their colours), whitened with the background statistics of random
   patches of this scene (exemplar LDA). Candidates are scored by the whitened cosine to the
   exemplar over a few headings, sizes and (for the promising) positions; the best gives the
   box, and the score (0 = background, 1 = like the exemplar).
A class with several exemplars also gets a floor from the exemplars themselves: each one's
classifier scores the others, and detections far under that score are dropped.
Boxes of all exemplars and tiles are merged by rotated NMS.

Exemplars drawn on another capture of the site (`exemplar_raster`, e.g. the first date) keep
the look they have there, unless their object is still in place in the capture searched: then
its look there is used (the light, the haze and the sensor differ between dates).
"""
from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
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
    "refine_floor": 0.3,  # whitened cosine above which a candidate's heading and size are refined ...
    "refine_shift": 0.08,  # ... and its centre, by this fraction of the exemplar's width around it (>= 1 px)
    "refine_shift_gain": 0.04,  # ... when the cosine gains more than this there (not a noise maximum)
    "coarse_min_pixels": 12,  # stage 1 runs decimated while the exemplar's short side keeps this many pixels
    "coarse_factor_max": 2,  # largest stage-1 decimation of the working grid
    "presence_m": 10.0,  # exemplars from another raster: look this far (plus half their length) for their object
    "presence_score": 0.5,  # ... and take its look from the raster searched when it scores at least this
    "presence_colour": 1.0,  # colour weight of the classifier that decides whether the object is still there
    "colour": 1.0,  # weight of the colour layout (cell chromaticities) in the verification descriptor ...
    "colour_max_px": 12,  # ... of exemplars narrower than this (working pixels): little shape to go by
    "threads": 2,  # exemplars searched in parallel within a tile (numpy and the FFT release the GIL)
    "class_floor": 0.6,  # a class with several exemplars keeps detections scoring at least this share of
    # the scores its exemplars give one another (_class_floors)
}
_BLOCK = 512  # stage-1 correlation outputs per block side (overlap-save FFT blocks)


@dataclass
class _Template:
    kernels: np.ndarray  # (n_angles, C, D, D) normalised, masked
    angles: np.ndarray  # degrees clockwise added to the exemplar's heading
    size: int  # D, working pixels
    box: PixelBox  # exemplar box in source pixels
    scale: float  # working pixels per source pixel
    grey: np.ndarray  # (1 + K, h, w) verification image around the exemplar (_verification_image), working px
    centre: tuple  # exemplar centre (x, y) in `grey`
    lda: Optional["_Lda"] = None
    scales: tuple = (1.0,)  # sizes tried relative to the exemplar
    factor: int = 1  # stage-1 decimation of the working grid (kernels are at that grid)
    spectra: dict = field(default_factory=dict)  # FFT size -> conjugate kernel spectra (stage-1 blocks)
    colour: float = 0.0  # weight of the colour layout in its verification descriptor
    floor: float = 0.0  # score under which its detections are dropped (_class_floors)


class _Clock:
    """Seconds spent per stage (summed over threads), logged at the end of a run."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()
        self._started = time.perf_counter()

    @contextmanager
    def __call__(self, stage: str):
        started = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started

    def summary(self) -> str:
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items())
        return f"{time.perf_counter() - self._started:.1f} s wall ({parts})"


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
    """Mean over a d x d window centred on each pixel (edges mirrored), accumulated in double
    precision: scipy's running-sum filter when installed, else a float64 integral image."""
    from ...deps import is_available

    img = img.astype(np.float32, copy=False)
    small = min(img.shape) <= d
    if is_available("scipy"):
        from scipy import ndimage

        return ndimage.uniform_filter(img, d, mode="nearest" if small else "mirror")
    r0 = d // 2
    pad = np.pad(img, ((r0, d - r0), (r0, d - r0)), mode="edge" if small else "reflect")
    s = np.zeros((pad.shape[0] + 1, pad.shape[1] + 1), dtype=np.float64)
    np.cumsum(pad, axis=0, dtype=np.float64, out=s[1:, 1:])
    np.cumsum(s[1:, 1:], axis=1, out=s[1:, 1:])
    h, w = img.shape
    return ((s[d:d + h, d:d + w] - s[:h, d:d + w] - s[d:d + h, :w] + s[:h, :w]) / (d * d)).astype(np.float32)


def _local_normalise(feat: np.ndarray, d: int) -> np.ndarray:
    """Each channel minus its local mean, over its local spread (window d x d; spreads under a fifth
    of the median spread are raised to it, so flat ground is not amplified into texture)."""
    out = np.empty_like(feat)
    for c in range(feat.shape[0]):
        x = feat[c] - np.float32(feat[c].mean())  # centred: E[x^2] - E[x]^2 keeps its precision
        mu = _box_mean(x, d)
        var = _box_mean(x * x, d)
        var -= mu * mu
        spread = np.sqrt(np.maximum(var, 0.0, out=var), out=var)
        floor = max(float(np.median(spread)) * 0.2, 1e-3)
        x -= mu
        x /= np.maximum(spread, floor, out=spread)
        out[c] = x
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
    """(rfft2, irfft2) over the last two axes, batched over the leading ones: scipy.fft in single
    precision on two threads when installed, else numpy (double precision)."""
    from ...deps import is_available

    if is_available("scipy"):
        import scipy.fft as sfft

        def rfft2(a, s):
            return sfft.rfft2(a, s=s, workers=2)

        def irfft2(a, s):
            return sfft.irfft2(a, s=s, workers=2)

        return rfft2, irfft2

    def np_rfft2(a, s):
        return np.fft.rfft2(a, s=s).astype(np.complex64)

    def np_irfft2(a, s):
        return np.fft.irfft2(a, s=s).astype(np.float32)

    return np_rfft2, np_irfft2


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


def _balanced_tile(length: int, tile: int, overlap: int) -> int:
    """Tile side (source pixels) for a window side of `length`: as few tiles as sides of at most
    1.25 x `tile` allow, all of about the same size (no thin last tile processed at full size)."""
    tile = max(tile, 2 * overlap + 1)
    n = max(1, math.ceil((length - overlap) / (1.25 * tile - overlap)))
    if n == 1:
        return max(length, 2 * overlap + 1)
    return int(math.ceil((length - overlap) / n)) + overlap


def _block_layout(h: int, w: int, d: int, block: int) -> tuple[int, int, int, int]:
    """Overlap-save blocks for valid correlation of an (h, w) image with a d x d kernel:
    (FFT size F, valid outputs per block V = F - d + 1, blocks down, blocks across)."""
    oh, ow = h - d + 1, w - d + 1
    ny, nx = -(-oh // block), -(-ow // block)
    v = max(-(-oh // ny), -(-ow // nx))
    size = _fast_len(v + d - 1)
    v = size - d + 1
    return size, v, -(-oh // v), -(-ow // v)


def _best_rotation(norm: np.ndarray, tpl: _Template, block: int = _BLOCK) -> np.ndarray:
    """Best correlation over the template's rotations at each valid position of norm (C, H, W):
    (H - D + 1, W - D + 1) float32 (which rotation gives it: _rotation_at).

    Overlap-save: the image is cut into blocks of about `block` outputs whose spectra are taken
    once; the kernels' spectra at the block size are kept on the template and reused by every
    tile, so each rotation costs one small inverse FFT per block."""
    c, h, w = norm.shape
    d = tpl.size
    oh, ow = h - d + 1, w - d + 1
    size, v, ny, nx = _block_layout(h, w, d, block)
    rfft2, irfft2 = _fft()
    kspec = tpl.spectra.get(size)
    if kspec is None:
        kspec = np.conj(rfft2(tpl.kernels, (size, size)))
        tpl.spectra = {size: kspec}  # tiles of one run share a block size
    blocks = np.zeros((ny * nx, c, size, size), dtype=np.float32)
    for i in range(ny):
        for j in range(nx):
            part = norm[:, i * v:i * v + size, j * v:j * v + size]
            blocks[i * nx + j, :, :part.shape[1], :part.shape[2]] = part
    spec = rfft2(blocks, (size, size))
    del blocks
    best = np.full((ny * nx, v, v), -np.inf, dtype=np.float32)
    prod = np.empty(spec.shape[:1] + spec.shape[2:], dtype=spec.dtype)
    term = np.empty_like(prod)
    for k in range(len(tpl.angles)):
        np.multiply(spec[:, 0], kspec[k, 0], out=prod)
        for ch in range(1, c):
            prod += np.multiply(spec[:, ch], kspec[k, ch], out=term)
        np.maximum(best, irfft2(prod, (size, size))[:, :v, :v], out=best)
    best = best.reshape(ny, nx, v, v).transpose(0, 2, 1, 3).reshape(ny * v, nx * v)[:oh, :ow]
    return np.ascontiguousarray(best)


def _rotation_at(norm: np.ndarray, tpl: _Template, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Index of the best-correlating rotation at valid positions (ys, xs) of norm (C, H, W)."""
    d = tpl.size
    if not len(ys):
        return np.zeros(0, dtype=np.intp)
    patches = np.stack([norm[:, y:y + d, x:x + d] for y, x in zip(ys, xs)]).reshape(len(ys), -1)
    return np.argmax(patches @ tpl.kernels.reshape(len(tpl.kernels), -1).T, axis=1)


def _grid(p: int) -> tuple[np.ndarray, np.ndarray]:
    """(OY, OX) offsets of a p x p sampling grid about its centre, in grid steps."""
    o = np.arange(p, dtype=np.float32) - (p - 1) / 2.0
    return tuple(np.meshgrid(o, o, indexing="ij"))


# --- verification: whitened HOG (exemplar LDA against this scene's background) ----------------

_P = 32  # canonical patch side (pixels)
_CELLS = 4  # cells per side
_BINS = 8  # unsigned orientation bins
_CONTEXT = 1.3  # canonical patch side / object's longer side
_COS_FLOOR = 0.25  # whitened cosine mapped to score 0 (background patches score about 0 to 0.3)
_OY, _OX = _grid(_P)
_CHUNK = 512  # patches per batch in verification (cache-sized)


def _sample(grey: np.ndarray, xs, ys, angles_deg, sides, p: int = _P) -> np.ndarray:
    """(N, p, p) patches centred at (xs, ys), un-rotated by angles, side `sides` pixels, bilinear
    (positions beyond the edge take the edge value)."""
    xs, ys = np.asarray(xs, np.float32), np.asarray(ys, np.float32)
    t = np.radians(np.asarray(angles_deg, np.float32))
    step = np.asarray(sides, np.float32) / p
    ct, st = (np.cos(t) * step)[:, None, None], (np.sin(t) * step)[:, None, None]
    oy, ox = (_OY, _OX) if p == _P else _grid(p)
    sx = ox * ct
    sx -= oy * st
    sx += xs[:, None, None]
    sy = ox * st
    sy += oy * ct
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


def _verification_image(array: np.ndarray, chroma: bool) -> np.ndarray:
    """(C, H, W) bands -> (1 + K, H, W): grey level, then (with chroma and several bands) the
    chromaticity of all bands but the last (band / grey - 1)."""
    grey = array.mean(axis=0, dtype=np.float32)
    if not chroma or array.shape[0] < 2:
        return grey[None]
    chroma = array[:-1] / (grey + np.float32(1e-3 * max(float(grey.max()), 1.0)))[None]
    chroma -= 1.0
    return np.concatenate([grey[None], chroma.astype(np.float32, copy=False)])


def _describe(img: np.ndarray, xs, ys, angles_deg, sides, colour: float = 0.0) -> np.ndarray:
    """(N, D) descriptors of patches of a verification image (see _sample): HOG of the grey level,
    then, when the image has colour, each chromaticity's cell means relative to the patch's (x colour)."""
    desc = _hog(_sample(img[0], xs, ys, angles_deg, sides))
    if colour <= 0 or img.shape[0] < 2:
        return desc
    n, parts = desc.shape[0], [desc]
    for channel in img[1:]:
        cells = _sample(channel, xs, ys, angles_deg, sides, 2 * _CELLS)
        cells = cells.reshape(n, _CELLS, 2, _CELLS, 2).mean(axis=(2, 4)).reshape(n, -1)
        cells -= cells.mean(axis=1, keepdims=True)
        parts.append(np.float32(colour) * cells)
    return np.concatenate(parts, axis=1)


def _fit_verifier(tpl: _Template, backgrounds: list[np.ndarray], n_samples: int, rng) -> "_Lda":
    """The exemplar's classifier: its patch (jittered) against random patches of the backgrounds."""
    colour = tpl.colour
    side = _CONTEXT * max(tpl.box.length, tpl.box.width) * tpl.scale
    bg = []
    per = n_samples // len(backgrounds)
    for g in backgrounds:
        xs, ys = rng.uniform(0, g.shape[2], per), rng.uniform(0, g.shape[1], per)
        bg.append(_describe(g, xs, ys, rng.uniform(0, 360, per), side * rng.uniform(0.77, 1.3, per), colour))
    n = 24
    pos = _describe(tpl.grey, tpl.centre[0] + rng.normal(0, 0.7, n), tpl.centre[1] + rng.normal(0, 0.7, n),
                    rng.normal(0, 3.0, n), side * rng.uniform(0.96, 1.04, n), colour)
    return _fit_lda(pos, np.concatenate(bg))


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


def _verify(img, lda: _Lda, xs, ys, angles, sizes, side, angle_offsets, size_factors, colour: float = 0.0):
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
        z[sl] = lda.score(_describe(img, gx.ravel()[sl], gy.ravel()[sl], ga.ravel()[sl], side * gs.ravel()[sl],
                                    colour))
    z = z.reshape(n, -1)
    best = np.argmax(z, axis=1)
    rows = np.arange(n)
    return z[rows, best], ga.reshape(n, -1)[rows, best], gs.reshape(n, -1)[rows, best]


def _recentre(img, lda: _Lda, xs, ys, angles, sides, shift: float, colour: float = 0.0):
    """Best classifier score per candidate at the 8 positions `shift` pixels around it: (z, x, y)."""
    n = len(xs)
    d = np.array([(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy], np.float32) * np.float32(shift)
    gx = (np.asarray(xs, np.float32)[:, None] + d[None, :, 0]).ravel()
    gy = (np.asarray(ys, np.float32)[:, None] + d[None, :, 1]).ravel()
    ga = np.repeat(np.asarray(angles, np.float32), len(d))
    gs = np.repeat(np.asarray(sides, np.float32), len(d))
    z = np.empty(gx.size, dtype=np.float32)
    for k in range(0, gx.size, _CHUNK):
        sl = slice(k, k + _CHUNK)
        z[sl] = lda.score(_describe(img, gx[sl], gy[sl], ga[sl], gs[sl], colour))
    z = z.reshape(n, -1)
    best = np.argmax(z, axis=1)
    rows = np.arange(n)
    return z[rows, best], gx.reshape(n, -1)[rows, best], gy.reshape(n, -1)[rows, best]


def _class_floors(templates: list[_Template], share: float, step: float) -> None:
    """Per class with two exemplars or more, the score its objects are expected to reach: each
    exemplar's classifier scores the other exemplars of its class (at their own heading and size,
    either way round); `share` of the median of these scores becomes the floor of the class's
    templates. A class with one exemplar keeps floor 0 (the minimum score alone decides)."""
    by_class: dict[str, list[_Template]] = {}
    for tpl in templates:
        by_class.setdefault(tpl.box.class_name, []).append(tpl)
    offsets = np.array([-step / 3, 0.0, step / 3, 180 - step / 3, 180.0, 180 + step / 3], np.float32)
    for members in by_class.values():
        if len(members) < 2 or share <= 0 or any(t.lda is None for t in members):
            continue
        scores = []
        for a in members:
            for b in members:
                if a is b:
                    continue
                side = _CONTEXT * max(b.box.length, b.box.width) * b.scale
                z, _, _ = _verify(b.grey, a.lda, [b.centre[0]], [b.centre[1]], [b.box.angle_deg - a.box.angle_deg],
                                  [1.0], side, offsets, np.array([0.93, 1.0, 1.07]), a.colour)
                scores.append(float(np.clip((z[0] - _COS_FLOOR) / (1.0 - _COS_FLOOR), 0.0, 1.0)))
        floor = share * float(np.median(scores))
        LOG.info("class '%s': its %d exemplars score one another %s; detections under %.2f are dropped",
                 members[0].box.class_name, len(members), ", ".join(f"{v:.2f}" for v in scores), floor)
        for tpl in members:
            tpl.floor = floor


class ExemplarEngine:
    name = "exemplar"

    def detect(self, params, progress: Optional[Progress] = None) -> list:
        opts = {**DEFAULTS, **(getattr(params, "options", None) or {})}
        clock = opts["clock"] = _Clock()
        if not params.exemplars:
            raise InputError("The exemplar engine needs at least one example box (exemplar) drawn on the raster.")
        ds = open_raster(params.raster)
        info = raster_info(ds)
        gt = info.geotransform
        # the exemplars' look comes from the raster they were drawn on (by default the one searched)
        ex_path = getattr(params, "exemplar_raster", None) or params.raster
        ex_ds = ds if ex_path == params.raster else open_raster(ex_path)
        ex_info = info if ex_ds is ds else raster_info(ex_ds)
        boxes = detections_to_boxes(params.exemplars, ex_info.geotransform)
        for b, d in zip(boxes, params.exemplars):
            if not (0 <= b.cx < ex_info.width and 0 <= b.cy < ex_info.height):
                raise InputError(f"The exemplar '{d.class_name}' at ({d.cx:.1f}, {d.cy:.1f}) lies outside the "
                                 f"raster {Path(ex_info.path).name}; draw exemplars on the raster they come "
                                 f"from, in its CRS.")
            if b.width < 2:
                raise InputError(f"The exemplar '{d.class_name}' is smaller than two pixels across.")
        # Working scale: about work_gsd_m, but keep min_pixels across the smallest exemplar.
        ratio = ex_info.gsd_m / info.gsd_m  # searched pixels per exemplar-raster pixel
        min_side = min(b.width for b in boxes) * ratio
        scale = min(1.0, max(info.gsd_m / float(opts["work_gsd_m"]), float(opts["min_pixels"]) / min_side))
        fmax, fmin_px = int(opts["coarse_factor_max"]), float(opts["coarse_min_pixels"])
        with clock("templates"):
            templates = [self._template(ex_ds, b, scale * ratio, float(opts["angle_step_deg"]),
                                        max(1, min(fmax, int(b.width * ratio * scale / fmin_px))))
                         for b in boxes]
        same_bands = ex_ds.RasterCount == ds.RasterCount
        for tpl, d in zip(templates, params.exemplars):
            tpl.scales = _allowed_scales(d, opts["scales"])
            thin = tpl.box.width * tpl.scale < float(opts["colour_max_px"])
            tpl.colour = float(opts["colour"]) if thin and same_bands else 0.0
        opts["chroma"] = any(tpl.colour > 0 for tpl in templates)  # tiles need chromaticities
        largest = max(t.size for t in templates)
        window = aoi_window(ds, params.aoi_wkt)
        overlap_src = int(math.ceil(1.6 * largest / scale))  # searched pixels
        tile_src = _balanced_tile(max(window.width, window.height), int(round(int(opts["tile_px"]) / scale)),
                                  overlap_src)
        if opts["verify"]:
            with clock("classifiers"):
                backgrounds = self._fit_verifiers(ds, window, templates, scale, int(opts["background_samples"]))
            if ex_ds is not ds and float(opts["presence_m"]) > 0:
                with clock("presence"):
                    moved = [self._look_here(ds, info, tpl, d, scale, opts, backgrounds)
                             for tpl, d in zip(templates, params.exemplars)]
                if any(m is not None for m in moved):
                    templates = [m if m is not None else t for m, t in zip(moved, templates)]
                    with clock("classifiers"):
                        self._fit_verifiers(ds, window, templates, scale, int(opts["background_samples"]))

            _class_floors(templates, float(opts["class_floor"]), float(opts["angle_step_deg"]))
        # boxes under the minimum score are dropped before NMS: greedy NMS keeps or suppresses a box
        # by the better-scored boxes only, so the boxes that are reported do not change
        opts["min_score"] = float(getattr(params, "min_score", 0.0) or 0.0)

        def detect_tile(array: np.ndarray, tile: Tile) -> list[PixelBox]:
            return self._detect_array(array, templates, opts)

        with clock("tiles"):
            found = run_tiled(ds, detect_tile, tile_size=tile_src, overlap=overlap_src, out_scale=scale,
                              window=window, progress=progress, nms_iou=float(opts["nms_iou"]))
        LOG.info("exemplar engine on %s: %s", Path(info.path).name, clock.summary())
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
        img = _verification_image(patch, True)
        grey = img[0]
        ksize = max(5, int(math.ceil(size / factor)) | 1)
        kcentre = ((centre[0] + 0.5) / factor - 0.5, (centre[1] + 0.5) / factor - 0.5)
        # Normalise features as tiles will be (local window of the template size).
        feat = _local_normalise(_grey_features(_decimate(grey, factor)), ksize)
        kernels, angles = _rotated_kernels(feat, ksize, kcentre, step)
        return _Template(kernels, angles, ksize, box, scale, img, centre, factor=factor)

    @staticmethod
    def _look_here(ds, info, tpl: _Template, exemplar, scale: float, opts: dict,
                  backgrounds: list[np.ndarray]) -> Optional[_Template]:
        """The exemplar's object as it looks in the raster searched, when it is still there: a template
        from that raster where the object is found near the exemplar's box; None when nothing within `presence_m` metres (a
        misregistration) of the box scores `presence_score` with a classifier that also weighs colour
        (what is left in the object's place, a revetment or a shadow, often has its shape)."""
        from ...raster import map_to_pixel

        px, py = (float(v) for v in map_to_pixel(info.geotransform, exemplar.cx, exemplar.cy))
        length, width = tpl.box.length * tpl.scale / scale, tpl.box.width * tpl.scale / scale  # searched px
        reach = 0.5 * length + float(opts["presence_m"]) / info.gsd_m
        half = int(math.ceil(reach + 1.5 * max(length, width))) + 4
        xa, ya = max(0, int(px) - half), max(0, int(py) - half)
        xb, yb = min(info.width, int(px) + half), min(info.height, int(py) + half)
        if xb - xa < 2 or yb - ya < 2:
            return None
        tile = Tile(xa, ya, xb - xa, yb - ya, xa, ya, xb, yb)
        array = read_tile(ds, tile, out_scale=scale)
        img = _verification_image(array, True)
        feat = _grey_features(_decimate(img[0], tpl.factor))
        if min(feat.shape[1:]) < tpl.size:
            return None
        same_bands = img.shape[0] == tpl.grey.shape[0] == backgrounds[0].shape[0] > 1
        check = dataclasses.replace(tpl, spectra={}, colour=float(opts["presence_colour"]) if same_bands else 0.0)
        check.lda = _fit_verifier(check, backgrounds, int(opts["background_samples"]), np.random.default_rng(7))
        local = {**opts, "min_score": 0.0, "clock": _Clock()}
        found = ExemplarEngine._detect_exemplar(img, _local_normalise(feat, tpl.size), check, local, 50)
        near = [b for b in found if math.hypot(xa + b.cx / scale - px, ya + b.cy / scale - py) <= reach
                and b.score >= float(opts["presence_score"])]
        if not near:
            return None
        best = max(near, key=lambda b: b.score)
        LOG.info("exemplar '%s' found in %s (score %.2f, %.1f px from its box): its look is taken from there",
                 tpl.box.class_name, Path(info.path).name, best.score,
                 math.hypot(xa + best.cx / scale - px, ya + best.cy / scale - py))
        # the template is cut where the object was found: the captures may be misregistered by up to
        # presence_m, and a template cut off-centre would place every detection off by as much
        box = PixelBox(xa + best.cx / scale, ya + best.cy / scale, length, width, tpl.box.angle_deg,
                       tpl.box.class_name, 1.0)
        moved = ExemplarEngine._template(ds, box, scale, float(opts["angle_step_deg"]), tpl.factor)
        moved.scales, moved.colour = tpl.scales, tpl.colour
        return moved

    @staticmethod
    def _fit_verifiers(ds, window: Window, templates: list[_Template], scale: float,
                       n_samples: int) -> list[np.ndarray]:
        """Per exemplar, a linear classifier: exemplar (jittered) against random background patches.
        Returns the background images (with chromaticity where the raster has several bands)."""
        rng = np.random.default_rng(12345)
        side_src = max(256, int(512 / scale))
        backgrounds = []
        for _ in range(4 if window.width * window.height > (2 * side_src) ** 2 else 1):
            w, h = min(side_src, window.width), min(side_src, window.height)
            x0 = window.x0 + int(rng.integers(0, window.width - w + 1))
            y0 = window.y0 + int(rng.integers(0, window.height - h + 1))
            backgrounds.append(_verification_image(read_tile(ds, Tile(x0, y0, w, h, x0, y0, x0 + w, y0 + h),
                                                             out_scale=scale), True))
        for tpl in templates:
            tpl.lda = _fit_verifier(tpl, backgrounds, n_samples, rng)
        return backgrounds

    @staticmethod
    def _candidates(norm: np.ndarray, tpl: _Template, floor: float, top: int):
        """Peaks of the best-rotation correlation on the template's grid (working grid decimated by
        tpl.factor): (xs, ys, angles, ncc), positions in working pixels."""
        best = _best_rotation(norm, tpl)
        f = tpl.factor
        r = max(1, int(0.35 * tpl.box.width * tpl.scale / f))
        peaks = (best == _max_filter(best, r)) & (best >= floor)
        ys, xs = np.nonzero(peaks)
        ncc = best[ys, xs]
        order = np.argsort(-ncc)[:top]
        half = (tpl.size - 1) / 2.0
        xw, yw = (xs[order] + half) * f + (f - 1) / 2.0, (ys[order] + half) * f + (f - 1) / 2.0
        return xw, yw, tpl.angles[_rotation_at(norm, tpl, ys[order], xs[order])], ncc[order]

    @staticmethod
    def _detect_array(array: np.ndarray, templates: list[_Template], opts: dict) -> list[PixelBox]:
        clock = opts.get("clock") or _Clock()
        img = _verification_image(array, bool(opts.get("chroma")))
        grey = img[0]
        feats: dict[int, np.ndarray] = {}  # features per stage-1 decimation
        norms: dict[tuple, np.ndarray] = {}  # normalised features per (decimation, template size)
        jobs = []
        with clock("features"):
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
        # largest stage-1 work first, so the threads finish together (grid pixels x rotations)
        jobs.sort(key=lambda job: -job[1][0].size * len(job[0].angles))
        # candidate cap scales with the tile's area (the default is per 1280 x 1280 working pixels)
        top = max(1, int(round(int(opts["max_candidates"]) * grey.size / 1280.0 ** 2)))

        def one(job) -> list[PixelBox]:
            return ExemplarEngine._detect_exemplar(img, job[1], job[0], opts, top)

        threads = min(int(opts.get("threads") or 1), len(jobs))
        if threads > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(threads) as pool:
                found = list(pool.map(one, jobs))
        else:
            found = [one(job) for job in jobs]
        boxes = [b for tpl in templates for job, found_boxes in zip(jobs, found) if job[0] is tpl
                 for b in found_boxes]  # in the exemplars' order, whatever order the jobs ran in
        with clock("NMS"):
            return nms_boxes(boxes, float(opts["nms_iou"]))

    @staticmethod
    def _detect_exemplar(img: np.ndarray, norm: np.ndarray, tpl: _Template, opts: dict, top: int) -> list[PixelBox]:
        """Candidates of one exemplar in a tile (stage 1), scored by its classifier (stage 2) on the
        verification image img (_verification_image)."""
        colour = tpl.colour
        step = float(opts["angle_step_deg"])
        clock = opts.get("clock") or _Clock()
        with clock("candidates"):
            xs, ys, angles, ncc = ExemplarEngine._candidates(norm, tpl, float(opts["peak_floor"]), top)
        if not len(xs):
            return []
        length, width = tpl.box.length * tpl.scale, tpl.box.width * tpl.scale
        if tpl.lda is None:
            best_s, best_a, score = np.ones(len(xs)), angles, np.clip(ncc, 0, 1)
        else:
            side = _CONTEXT * max(length, width)
            # coarse: the correlation's angle at a few sizes; fine: around the best, for the promising
            with clock("verification"):
                z, best_a, best_s = _verify(img, tpl.lda, xs, ys, angles, np.ones(len(xs)), side,
                                            np.zeros(1), np.asarray(tpl.scales, dtype=np.float32), colour)
                fine = np.nonzero(z > float(opts["refine_floor"]))[0]
                if len(fine):
                    zf, af, sf = _verify(img, tpl.lda, xs[fine], ys[fine], best_a[fine], best_s[fine], side,
                                         np.array([-step / 3, 0.0, step / 3]), np.array([0.93, 1.0, 1.07]),
                                         colour)
                    z[fine], best_a[fine], best_s[fine] = zf, af, sf
                    shift = float(opts["refine_shift"]) * width
                    if shift >= 1.0:  # thin exemplars: their stage-1 position is as good as it gets
                        xs, ys = xs.astype(np.float32), ys.astype(np.float32)
                        zs, xf, yf = _recentre(img, tpl.lda, xs[fine], ys[fine], best_a[fine], side * best_s[fine],
                                               shift, colour)
                        better = zs > z[fine] + float(opts["refine_shift_gain"])
                        z[fine[better]], xs[fine[better]], ys[fine[better]] = zs[better], xf[better], yf[better]
            score = np.clip((z - _COS_FLOOR) / (1.0 - _COS_FLOOR), 0.0, 1.0)
        least = max(float(opts.get("min_score", 0.0)), tpl.floor)
        keep = np.nonzero((score > 0) & (score >= least))[0]  # 0: background
        return [PixelBox(float(xs[i]) + 0.5, float(ys[i]) + 0.5, length * float(best_s[i]),
                         width * float(best_s[i]), float(tpl.box.angle_deg + best_a[i]) % 360.0,
                         tpl.box.class_name, float(score[i]), {"ncc": round(float(ncc[i]), 3)})
                for i in keep]
