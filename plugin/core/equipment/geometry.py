"""Oriented boxes: corners, polygon IoU and rotated non-maximum suppression (numpy only)."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def box_corners(cx: float, cy: float, length: float, width: float, heading_deg: float) -> np.ndarray:
    """Four corners (4, 2) of a box centred at (cx, cy), long axis along heading_deg.

    Heading is measured clockwise from north (map y up), as analysts read it; coordinates are
    map units with y growing northwards.
    """
    theta = math.radians(heading_deg)
    ux, uy = math.sin(theta), math.cos(theta)  # along the long axis
    vx, vy = uy, -ux  # across
    hl, hw = length / 2.0, width / 2.0
    return np.array(
        [
            [cx + ux * hl + vx * hw, cy + uy * hl + vy * hw],
            [cx + ux * hl - vx * hw, cy + uy * hl - vy * hw],
            [cx - ux * hl - vx * hw, cy - uy * hl - vy * hw],
            [cx - ux * hl + vx * hw, cy - uy * hl + vy * hw],
        ]
    )


def polygon_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _clip(subject: list, a: np.ndarray, b: np.ndarray, sign: float) -> list:
    def inside(p) -> bool:
        return sign * ((b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])) >= 0

    def intersect(p, q):
        dx, dy = q[0] - p[0], q[1] - p[1]
        ex, ey = b[0] - a[0], b[1] - a[1]
        denom = dx * ey - dy * ex
        if denom == 0:
            return q
        t = ((a[0] - p[0]) * ey - (a[1] - p[1]) * ex) / denom
        return (p[0] + t * dx, p[1] + t * dy)

    out = []
    for i, cur in enumerate(subject):
        prev = subject[i - 1]
        if inside(cur):
            if not inside(prev):
                out.append(intersect(prev, cur))
            out.append(cur)
        elif inside(prev):
            out.append(intersect(prev, cur))
    return out


def convex_intersection_area(p: np.ndarray, q: np.ndarray) -> float:
    """Area of the intersection of two convex polygons (Sutherland-Hodgman)."""
    sign = 1.0 if _signed_area(q) > 0 else -1.0
    poly = [tuple(v) for v in p]
    for i in range(len(q)):
        if not poly:
            return 0.0
        poly = _clip(poly, q[i], q[(i + 1) % len(q)], sign)
    return polygon_area(np.array(poly)) if len(poly) >= 3 else 0.0


def _signed_area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def polygon_iou(p: np.ndarray, q: np.ndarray) -> float:
    """Intersection over union of two convex polygons."""
    if (p[:, 0].max() < q[:, 0].min() or q[:, 0].max() < p[:, 0].min()
            or p[:, 1].max() < q[:, 1].min() or q[:, 1].max() < p[:, 1].min()):
        return 0.0
    inter = convex_intersection_area(p, q)
    union = polygon_area(p) + polygon_area(q) - inter
    return inter / union if union > 0 else 0.0


def rotated_nms(polygons: Sequence[np.ndarray], scores: Sequence[float], iou_threshold: float = 0.3) -> list[int]:
    """Indices kept by greedy NMS over oriented boxes, best score first."""
    order = list(np.argsort(-np.asarray(scores, dtype=float)))
    bounds = np.array([[p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()] for p in polygons]) \
        if len(polygons) else np.zeros((0, 4))
    keep: list[int] = []
    for i in order:
        ok = True
        for j in keep:
            if (bounds[i, 0] > bounds[j, 2] or bounds[j, 0] > bounds[i, 2]
                    or bounds[i, 1] > bounds[j, 3] or bounds[j, 1] > bounds[i, 3]):
                continue
            if polygon_iou(polygons[i], polygons[j]) > iou_threshold:
                ok = False
                break
        if ok:
            keep.append(int(i))
    return keep
