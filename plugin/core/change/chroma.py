"""Colourfulness of surfaces, robust to each capture's own band calibration (numpy only).

Man-made surfaces (roofs, concrete, asphalt, metal, aircraft) are mostly achromatic: their
bands rise and fall together. Natural surfaces (vegetation, soil, water) are colourful, and
more so with a near-infrared band. Each date's bands are first stretched between their own
low and high percentiles, so the measure ignores per-band gains and offsets (sensor, haze,
the radiometric normalisation) and only compares how a pixel sits in each band's range.

Colour alone is not nature: roofs are often painted (blue or red steel, terracotta). Where
the red, green and blue bands are known, only the hues of vegetation and soil (yellow,
brown, green) count as natural; where they are not named, only green, whose hue is the same
whichever of the first and third bands is red."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from .filters import box_mean

MIN_BANDS = 3  # fewer bands carry no colour
# hue windows (degrees, fully natural inside, falling to 0 over HUE_RAMP outside)
NATURAL_HUES = (25.0, 165.0)  # red, green and blue bands known: soil, dry and green vegetation
GREEN_HUES = (75.0, 165.0)  # band colours unknown: about 120 degrees (green), mirror-symmetric
HUE_RAMP = 15.0


@dataclass(frozen=True)
class HueWindow:
    """Which bands are red, green and blue (0-based) and the natural hues (degrees)."""

    rgb: tuple[int, int, int]
    low: float
    high: float
    ramp: float = HUE_RAMP


def natural_hues(keys: Sequence[Optional[str]]) -> Optional[HueWindow]:
    """The hue window for bands of these meanings (None: fewer than three bands)."""
    if len(keys) < MIN_BANDS:
        return None
    named = [list(keys).index(k) if k in keys else -1 for k in ("red", "green", "blue")]
    if min(named) >= 0:
        return HueWindow((named[0], named[1], named[2]), *NATURAL_HUES)
    return HueWindow((0, 1, 2), *GREEN_HUES)  # red and blue may be either way round


def hue_weight(r: np.ndarray, g: np.ndarray, b: np.ndarray, window: HueWindow) -> np.ndarray:
    """1 where the hue of (r, g, b) lies in the window, 0 well outside it or on grey pixels."""
    top = np.maximum(np.maximum(r, g), b)
    span = top - np.minimum(np.minimum(r, g), b)
    safe = np.where(span > 0, span, np.float32(1.0))
    sextant = np.where(r >= top, (g - b) / safe, np.where(g >= top, (b - r) / safe + np.float32(2.0),
                                                          (r - g) / safe + np.float32(4.0)))
    hue = sextant * np.float32(60.0)
    hue = np.where(hue < 0, hue + np.float32(360.0), hue)
    ramp = np.float32(window.ramp)
    inside = np.minimum(hue - np.float32(window.low - window.ramp), np.float32(window.high + window.ramp) - hue)
    return np.where(span > 0, np.clip(inside / ramp, np.float32(0.0), np.float32(1.0)), np.float32(0.0))


def stretch_limits(samples: np.ndarray, low: float, high: float) -> np.ndarray:
    """Per-band (low, high) percentiles of (p, n) sample pixels, as a (2, p) float32 array
    (numpy's linear interpolation, exactly; selected from the values in each tail only)."""
    n = samples.shape[1]
    ranks = np.array([low, high], np.float64) / 100.0 * (n - 1)
    below = np.floor(ranks).astype(np.intp)
    above = np.minimum(below + 1, n - 1)
    ordered = np.stack([_order_statistics(band, np.concatenate([below, above])) for band in samples])
    at_below, at_above = ordered[:, :2].astype(np.float64), ordered[:, 2:].astype(np.float64)
    limits = (at_below + (ranks - below) * (at_above - at_below)).T
    span = np.maximum(limits[1] - limits[0], 1e-6 * (np.abs(limits[1]) + 1.0))
    limits[1] = limits[0] + span
    return limits.astype(np.float32)


TAIL_STEP = 64  # the sample's tails are located on every 64th value, then selected exactly


def _order_statistics(values: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """values' k-th smallest for each k of ranks (what np.partition gives). The ranks lie in
    the tails: each tail's values are cut out by a bound read off a strided subsample (with
    room to spare), so only a few percent of the values are selected from, not all of them."""
    n = len(values)
    out = np.empty(len(ranks), values.dtype)
    coarse = np.sort(values[::TAIL_STEP])
    low = ranks < n // 2
    if low.any():  # every value at or under the bound is kept: the k-th smallest overall is theirs
        bound = coarse[min(len(coarse) - 1, 2 * (int(ranks[low].max()) // TAIL_STEP) + 2)]
        out[low] = _select(values, values[values <= bound], ranks[low], 0)
    if not low.all():  # every value at or over the bound: the n - len(kept) smaller ones come first
        bound = coarse[max(0, len(coarse) - 3 - 2 * ((n - 1 - int(ranks[~low].min())) // TAIL_STEP))]
        kept = values[values >= bound]
        out[~low] = _select(values, kept, ranks[~low], n - len(kept))
    return out


def _select(values: np.ndarray, kept: np.ndarray, ranks: np.ndarray, offset: int) -> np.ndarray:
    """The ranks' values among `kept` (whose first value has rank `offset` in values); all of
    values when a rank falls outside kept."""
    inside = ranks - offset
    if inside.min() < 0 or inside.max() >= len(kept):
        kept, inside = values, ranks
    return np.partition(kept, np.unique(inside))[inside]


def stretch_terms(limits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(low, 1 / span) per band, float32: a band's stretched value is (v - low) * scale."""
    return limits[0], (np.float32(1.0) / (limits[1] - limits[0])).astype(np.float32)


def chroma(bands: np.ndarray, limits: np.ndarray, eps: float, hues: Optional[HueWindow] = None) -> np.ndarray:
    """(max - min) / (max + eps) over the stretched bands (p, h, w) -> (h, w); 0 = grey.
    eps (in stretched units) keeps dark pixels, whose ratios are noise, from looking colourful.
    hues: weighted by hue_weight (colourful but not of a natural hue counts as grey)."""
    lo, scale = stretch_terms(limits)
    lo, scale = lo[:, None, None], scale[:, None, None]
    top = bottom = None
    stretched = {}
    for b in range(bands.shape[0]):
        v = (bands[b] - lo[b]) * scale[b]
        if hues is not None and b in hues.rgb:
            stretched[b] = v
        top = v if top is None else np.maximum(top, v)
        bottom = v if bottom is None else np.minimum(bottom, v)
    out = (top - bottom) / (np.maximum(top, 0.0) + np.float32(eps))
    if hues is not None:
        out *= hue_weight(*(stretched[b] for b in hues.rgb), hues)
    return out


def least_chroma(before: np.ndarray, after: np.ndarray, limits_before: np.ndarray, limits_after: np.ndarray,
                 eps: float, radius: int = 1, hues: Optional[HueWindow] = None) -> np.ndarray:
    """Natural colourfulness of the less colourful date, smoothed over a (2r+1)^2 window: low
    where a man-made surface is present on either date, whichever way the change went."""
    c = np.minimum(chroma(before, limits_before, eps, hues), chroma(after, limits_after, eps, hues))
    return box_mean(c, radius)
