"""Neighbourhood operations in plain numpy (blocks carry a halo, so edges use 'reflect')."""
from __future__ import annotations

from typing import Optional

import numpy as np

from . import acceleration


def _uniform_filter():
    """scipy's C running mean when scipy is installed (optional: same result, faster)."""
    from ..deps import is_available

    if is_available("scipy"):
        from scipy.ndimage import uniform_filter

        return uniform_filter
    return None


_UNIFORM = _uniform_filter()


def box_mean(image: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)^2 square window (last two axes), edges mirrored."""
    if radius <= 0:
        return image.astype(np.float32, copy=False)
    if radius <= SMALL_RADIUS:
        return box_mean_small(image, radius)
    if _UNIFORM is not None:
        size = [1] * (image.ndim - 2) + [2 * radius + 1, 2 * radius + 1]
        return _UNIFORM(image.astype(np.float32, copy=False), size=size, mode="reflect")
    return box_mean_numpy(image, radius)


SMALL_RADIUS = 2  # up to this radius, summing shifted slices beats scipy's running mean


def box_mean_small(image: np.ndarray, radius: int) -> np.ndarray:
    """Box mean for small radii: separable sums of 2r+1 shifted slices, edges mirrored."""
    pad = [(0, 0)] * (image.ndim - 2) + [(radius, radius), (radius, radius)]
    padded = np.pad(image.astype(np.float32, copy=False), pad, mode="symmetric")
    h, w = image.shape[-2:]
    k = 2 * radius + 1
    rows = padded[..., 0:h, :].copy()
    for d in range(1, k):
        rows += padded[..., d:d + h, :]
    out = rows[..., 0:w].copy()
    for d in range(1, k):
        out += rows[..., d:d + w]
    out *= np.float32(1.0 / (k * k))
    return out


def box_mean_numpy(image: np.ndarray, radius: int) -> np.ndarray:
    """Integral-image box mean (the path without scipy)."""
    pad = [(0, 0)] * (image.ndim - 2) + [(radius + 1, radius), (radius + 1, radius)]
    padded = np.pad(image.astype(np.float64, copy=False), pad, mode="symmetric")
    padded[..., 0, :] = 0.0
    padded[..., :, 0] = 0.0
    integral = padded.cumsum(axis=-1).cumsum(axis=-2)
    k = 2 * radius + 1
    total = integral[..., k:, k:] - integral[..., :-k, k:] - integral[..., k:, :-k] + integral[..., :-k, :-k]
    return (total / (k * k)).astype(np.float32)


def box_sum_int(mask: np.ndarray, radius: int) -> np.ndarray:
    """Count of true pixels in a (2r+1)^2 window (zero padding)."""
    padded = np.zeros((mask.shape[0] + 2 * radius + 1, mask.shape[1] + 2 * radius + 1), np.int32)
    padded[radius + 1:radius + 1 + mask.shape[0], radius + 1:radius + 1 + mask.shape[1]] = mask
    integral = padded.cumsum(axis=1).cumsum(axis=0)
    k = 2 * radius + 1
    return integral[k:, k:] - integral[:-k, k:] - integral[k:, :-k] + integral[:-k, :-k]


def binary_open_close(mask: np.ndarray, radius: int) -> np.ndarray:
    """Opening then closing with a square of side 2r+1: removes specks, fills pinholes
    (outside the array counts as unchanged)."""
    if radius <= 0:
        return mask
    if _UNIFORM is not None:
        from scipy.ndimage import maximum_filter, minimum_filter

        k = 2 * radius + 1
        m = mask.astype(np.uint8)
        opened = maximum_filter(minimum_filter(m, k, mode="constant", cval=0), k, mode="constant", cval=0)
        return minimum_filter(maximum_filter(opened, k, mode="constant", cval=0), k, mode="constant", cval=0) > 0
    full = (2 * radius + 1) ** 2
    opened = box_sum_int(box_sum_int(mask, radius) == full, radius) > 0
    closed = box_sum_int(box_sum_int(opened, radius) > 0, radius) == full
    return closed


def sobel(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal and vertical Sobel derivatives of a 2-D array (edge-replicated)."""
    p = np.pad(image.astype(np.float32, copy=False), 1, mode="edge")
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2])
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:])
    return gx / 8.0, gy / 8.0


def bilinear_sample(image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Sample bands (b, h, w) at fractional positions xs/ys (same 2-D shape), clamped to the edge."""
    h, w = image.shape[-2:]
    xs = np.clip(xs, 0, w - 1.001)
    ys = np.clip(ys, 0, h - 1.001)
    x0 = np.floor(xs).astype(np.intp)
    y0 = np.floor(ys).astype(np.intp)
    fx = (xs - x0).astype(np.float32)
    fy = (ys - y0).astype(np.float32)
    out = np.empty((image.shape[0],) + xs.shape, np.float32)
    for b in range(image.shape[0]):
        band = image[b]
        top = band[y0, x0] * (1 - fx) + band[y0, x0 + 1] * fx
        bottom = band[y0 + 1, x0] * (1 - fx) + band[y0 + 1, x0 + 1] * fx
        out[b] = top * (1 - fy) + bottom * fy
    return out


def shift_subpixel(image: np.ndarray, dx: float, dy: float, margin: int = 0,
                   terms: Optional[tuple[np.ndarray, np.ndarray]] = None) -> np.ndarray:
    """Sample bands at (x + dx, y + dy) for a constant shift (bilinear, float32). With margin
    m >= |shift| + 1 the input carries m extra pixels on each side and the output is the inner
    part (no padding). Separable: rows, then columns; one conversion of the input. terms:
    per-band (gain, offset) applied to the samples (the radiometric normalisation), or None."""
    ix, iy = int(np.floor(dx)), int(np.floor(dy))
    fx, fy = np.float32(dx - ix), np.float32(dy - iy)
    h, w = image.shape[-2] - 2 * margin, image.shape[-1] - 2 * margin
    m = margin
    if m < max(abs(ix), abs(iy)) + 1:
        m = max(abs(ix), abs(iy)) + 2
        image = np.pad(image, [(0, 0), (m - margin, m - margin), (m - margin, m - margin)], mode="edge")
    y, x = m + iy, m + ix
    kernels = acceleration.kernels() if image.dtype.kind in "uif" else None
    if kernels is not None:  # the same sampling (and gain, offset) in one pass (compiled.py)
        return kernels.sample_shifted(image, y, x, h, w, fx, fy, terms)
    window = image[:, y:y + h + 1, x:x + w + 1].astype(np.float32)
    rows = window[:, :-1] * (np.float32(1) - fy)
    rows += window[:, 1:] * fy
    out = rows[:, :, :-1] * (np.float32(1) - fx)
    out += rows[:, :, 1:] * fx
    return out if terms is None else gain_offset(out, terms)


def gain_offset(bands: np.ndarray, terms: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """bands * gain + offset per band (terms: (gain, offset) arrays), float32, a new array."""
    out = np.empty(bands.shape, np.float32)
    for i, (gain, offset) in enumerate(zip(*terms)):
        out[i] = bands[i] * gain + offset
    return out


def half_bands(bands: np.ndarray) -> np.ndarray:
    """2 x 2 mean of (b, h, w) bands of any type as float32 (odd edges replicated)."""
    h, w = bands.shape[-2:]
    if h % 2 or w % 2:
        bands = np.pad(bands, [(0, 0), (0, h % 2), (0, w % 2)], mode="edge")
    rows = bands[:, 0::2].astype(np.float32)
    rows += bands[:, 1::2]
    out = rows[:, :, 0::2] + rows[:, :, 1::2]
    out *= np.float32(0.25)
    return out


def half_valid(valid: np.ndarray) -> np.ndarray:
    """A 2 x 2-decimated pixel is valid when its four pixels are (odd edges replicated)."""
    h, w = valid.shape
    if h % 2 or w % 2:
        valid = np.pad(valid, [(0, h % 2), (0, w % 2)], mode="edge")
    rows = valid[0::2] & valid[1::2]
    return rows[:, 0::2] & rows[:, 1::2]


def double_bilinear(image: np.ndarray) -> np.ndarray:
    """2x bilinear upsampling of (h, w), pixel centres aligned (the inverse grid of half_bands)."""
    p = np.pad(image, 1, mode="edge")
    out = np.empty((2 * image.shape[0], 2 * image.shape[1]), np.float32)
    rows = np.empty((2 * image.shape[0], image.shape[1] + 2), np.float32)
    rows[0::2] = 0.75 * p[1:-1] + 0.25 * p[:-2]
    rows[1::2] = 0.75 * p[1:-1] + 0.25 * p[2:]
    out[:, 0::2] = 0.75 * rows[:, 1:-1] + 0.25 * rows[:, :-2]
    out[:, 1::2] = 0.75 * rows[:, 1:-1] + 0.25 * rows[:, 2:]
    return out
