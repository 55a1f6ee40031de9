"""Convex shapes in pixel coordinates: anti-aliased coverage, hulls and overlap tests.

Pixel coordinates: x = column, y = row (growing downwards); pixel (c, r) has its centre at
(c + 0.5, r + 0.5).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def convex_hull(points: np.ndarray) -> np.ndarray:
    """Convex hull (counter-clockwise in x-right/y-up sense) of 2-D points (monotone chain)."""
    pts = sorted(set(map(tuple, np.round(np.asarray(points, dtype=np.float64), 6).tolist())))
    if len(pts) < 3:
        return np.array(pts, dtype=np.float64).reshape(-1, 2)

    def half(seq: list) -> list:
        out: list = []
        for p in seq:
            while len(out) >= 2 and ((out[-1][0] - out[-2][0]) * (p[1] - out[-2][1])
                                     - (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0])) <= 0:
                out.pop()
            out.append(p)
        return out

    return np.array(half(pts)[:-1] + half(pts[::-1])[:-1], dtype=np.float64)


def regular_polygon(cx: float, cy: float, radius: float, n: int = 16) -> np.ndarray:
    ang = np.arange(n) * (2 * math.pi / n)
    return np.stack([cx + radius * np.cos(ang), cy + radius * np.sin(ang)], axis=1)


@dataclass
class Convex:
    """A convex polygon (n, 2) in pixel coordinates with its edge half-planes."""

    pts: np.ndarray

    def __post_init__(self) -> None:
        p = np.asarray(self.pts, dtype=np.float64)
        q = np.concatenate([p[1:], p[:1]])
        if float(np.sum(p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0])) < 0:
            p = p[::-1]
            q = np.concatenate([p[1:], p[:1]])
        self.pts = p
        e = q - p
        length = np.hypot(e[:, 0], e[:, 1])
        keep = length > 1e-9
        e, o, length = e[keep], p[keep], length[keep]
        # outward normal of a counter-clockwise polygon: (e_y, -e_x)
        self.nx = (e[:, 1] / length).tolist()
        self.ny = (-e[:, 0] / length).tolist()
        self.c = (e[:, 1] / length * o[:, 0] - e[:, 0] / length * o[:, 1]).tolist()
        mn, mx = p.min(axis=0), p.max(axis=0)
        self.bbox = (float(mn[0]), float(mn[1]), float(mx[0]), float(mx[1]))

    def inside_margin(self, x0: float, y0: float, x1: float, y1: float) -> bool:
        """True when the whole rectangle lies at least half a pixel inside the polygon."""
        for nx, ny, c in zip(self.nx, self.ny, self.c):
            if max(nx * x0, nx * x1) + max(ny * y0, ny * y1) - c > -0.5:
                return False
        return True

    def coverage(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """Fraction (0..1) of each pixel (centres xs x ys) inside the polygon, anti-aliased."""
        if self.inside_margin(float(xs[0]), float(ys[0]), float(xs[-1]), float(ys[-1])):
            return np.ones((len(ys), len(xs)), np.float32)
        d = None
        for nx, ny, c in zip(self.nx, self.ny, self.c):
            di = (np.float32(nx) * xs)[None, :] + (np.float32(ny) * ys - np.float32(c + 0.5))[:, None]
            d = di if d is None else np.maximum(d, di, out=d)
        # d is now (distance outside - 0.5): coverage = clip(-d, 0, 1)
        np.negative(d, out=d)
        np.maximum(d, 0.0, out=d)
        return np.minimum(d, 1.0, out=d)

    def shifted(self, dx: float, dy: float) -> "Convex":
        return Convex(self.pts + np.array([dx, dy]))


def polygons_overlap(p: np.ndarray, q: np.ndarray) -> bool:
    """Separating-axis test for two convex polygons."""
    for poly in (p, q):
        e = np.roll(poly, -1, axis=0) - poly
        normals = np.stack([-e[:, 1], e[:, 0]], axis=1)
        pp = p @ normals.T
        qq = q @ normals.T
        if np.any((pp.max(axis=0) < qq.min(axis=0)) | (qq.max(axis=0) < pp.min(axis=0))):
            return False
    return True


def local_to_pixel(local_m: np.ndarray, cx: float, cy: float, heading_deg: float, gsd: float) -> np.ndarray:
    """Local object coordinates (along nose-ward, across to the right) in metres -> pixels."""
    t = math.radians(heading_deg)
    ax, ay = math.sin(t), -math.cos(t)  # along, in pixel space (y down)
    bx, by = math.cos(t), math.sin(t)  # across (right of the nose)
    a = local_m[:, 0] / gsd
    b = local_m[:, 1] / gsd
    return np.stack([cx + a * ax + b * bx, cy + a * ay + b * by], axis=1)


def clip_convex(subject: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman clip of a convex polygon by another (both any winding)."""
    def signed(p: np.ndarray) -> float:
        return float(np.dot(p[:, 0], np.roll(p[:, 1], -1)) - np.dot(p[:, 1], np.roll(p[:, 0], -1)))

    sign = 1.0 if signed(clip) > 0 else -1.0
    out = [tuple(v) for v in subject]
    for i in range(len(clip)):
        a, b = clip[i], clip[(i + 1) % len(clip)]
        inp, out = out, []
        if not inp:
            break

        def inside(p, a=a, b=b) -> bool:
            return sign * ((b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])) >= 0

        for j, cur in enumerate(inp):
            prev = inp[j - 1]
            if inside(cur) != inside(prev):
                dx, dy = cur[0] - prev[0], cur[1] - prev[1]
                ex, ey = b[0] - a[0], b[1] - a[1]
                den = dx * ey - dy * ex
                t = ((a[0] - prev[0]) * ey - (a[1] - prev[1]) * ex) / den if den else 0.0
                out.append((prev[0] + t * dx, prev[1] + t * dy))
            if inside(cur):
                out.append(cur)
    return np.array(out, dtype=np.float64).reshape(-1, 2)
