"""Detections: georeferenced oriented boxes with class, score, engine and capture."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .geometry import box_corners


@dataclass
class Detection:
    """One object on one capture, in the capture's map coordinates (metres for projected CRS).

    The box is oriented: centre, length along the long axis, width across, heading clockwise
    from north in degrees (0..180, a box has no front; 0..360 when the engine knows the nose).
    """

    cx: float
    cy: float
    length_m: float
    width_m: float
    heading_deg: float
    class_name: str
    score: float
    engine: str
    capture: str = ""
    crs_wkt: str = ""
    attributes: dict = field(default_factory=dict)
    id: Optional[int] = None  # noqa: A003
    # map units per metre of the box: 1, or 1 / pixel size in the shown frame of a raster
    # without georeferencing (metric.PixelFrame); sizes stay in metres
    units_per_m: float = 1.0

    @property
    def polygon(self) -> np.ndarray:
        """Corners (4, 2) in map coordinates."""
        k = self.units_per_m
        return box_corners(self.cx, self.cy, self.length_m * k, self.width_m * k, self.heading_deg)

    @property
    def area_m2(self) -> float:
        return self.length_m * self.width_m

    def wkt(self) -> str:
        pts = list(self.polygon) + [self.polygon[0]]
        return "POLYGON((" + ", ".join(f"{x:.3f} {y:.3f}" for x, y in pts) + "))"

    @classmethod
    def from_corners(cls, corners: np.ndarray, **kwargs) -> "Detection":
        """Build from four corners (any order around the box): the longer side sets the heading."""
        c = np.asarray(corners, dtype=float)[:4]
        centre = c.mean(axis=0)
        e1, e2 = c[1] - c[0], c[2] - c[1]
        l1, l2 = float(np.hypot(*e1)), float(np.hypot(*e2))
        along = e1 if l1 >= l2 else e2
        heading = math.degrees(math.atan2(along[0], along[1])) % 180.0
        return cls(cx=float(centre[0]), cy=float(centre[1]), length_m=max(l1, l2), width_m=min(l1, l2),
                   heading_deg=heading, **kwargs)
