"""Deterministic procedural noise evaluated on any window of an unbounded pixel grid.

Values depend only on the absolute (possibly sub-pixel shifted) coordinates and the salt,
never on how the scene is cut into tiles, so tiles join seamlessly and a shifted copy of the
scene samples the same ground.
"""
from __future__ import annotations

import numpy as np

_M32 = np.uint64(0xFFFFFFFF)


def hash_u32(ix: np.ndarray, iy: np.ndarray, salt: int) -> np.ndarray:
    """A well-mixed 32-bit hash of integer lattice coordinates (broadcasting, wraps mod 2**32)."""
    x = np.asarray(ix).astype(np.uint32)
    y = np.asarray(iy).astype(np.uint32)
    h = (x * np.uint32(0x9E3779B1)) ^ (y * np.uint32(0x85EBCA77))
    h ^= np.uint32((salt * 0xC2B2AE3D + 0x27D4EB2F) & 0xFFFFFFFF)
    h ^= h >> np.uint32(15)
    h *= np.uint32(0x2C1B3C6D)
    h ^= h >> np.uint32(12)
    h *= np.uint32(0x297A2D39)
    h ^= h >> np.uint32(15)
    return h


def hash01(ix: np.ndarray, iy: np.ndarray, salt: int) -> np.ndarray:
    """Hash mapped to [0, 1) as float32."""
    return hash_u32(ix, iy, salt).astype(np.float32) * np.float32(1.0 / 4294967296.0)


def _weights(coords: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Lattice index (relative to the first), smooth-step weight, first index and lattice count."""
    t = np.asarray(coords, dtype=np.float64) / cell
    i0 = np.floor(t).astype(np.int64)
    f = t - i0
    f = (f * f * (3.0 - 2.0 * f)).astype(np.float32)
    base = int(i0.min())
    return i0 - base, f, base, int(i0.max()) - base + 2


def value_noise(xs: np.ndarray, ys: np.ndarray, cell: float, salt: int) -> np.ndarray:
    """Value noise in [0, 1] on the grid xs (columns) x ys (rows), lattice spacing `cell` px."""
    ix, fx, bx, nx = _weights(xs, cell)
    iy, fy, by, ny = _weights(ys, cell)
    lat = hash01(np.arange(bx, bx + nx)[None, :], np.arange(by, by + ny)[:, None], salt)
    a = lat[:, ix] * (1 - fx) + lat[:, ix + 1] * fx  # (ny, w)
    return a[iy] * (1 - fy)[:, None] + a[iy + 1] * fy[:, None]


def fbm(xs: np.ndarray, ys: np.ndarray, cell: float, octaves: int, salt: int, gain: float = 0.5) -> np.ndarray:
    """Fractal sum of value-noise octaves, normalised to about [0, 1] (mean 0.5)."""
    total = np.zeros((len(ys), len(xs)), dtype=np.float32)
    amp, norm = 1.0, 0.0
    for octave in range(octaves):
        total += np.float32(amp) * value_noise(xs, ys, cell / (2 ** octave), salt * 31 + octave)
        norm += amp
        amp *= gain
    return total / np.float32(norm)
