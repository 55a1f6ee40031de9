"""Synthetic scenes for equipment tests: aircraft shapes drawn at chosen headings on a noisy apron."""
from __future__ import annotations

import math

import numpy as np
from osgeo import gdal, osr

GSD = 0.5
ORIGIN = (400000.0, 3600000.0)


def aircraft_mask(h: int, w: int, cx: float, cy: float, heading_deg: float, length_px: float,
                  span: float = 1.0) -> np.ndarray:
    """Boolean mask of a simple aircraft (fuselage, swept wings, tailplane), nose along heading."""
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    t = math.radians(heading_deg)
    dx, dy = xx - cx, yy - cy
    a = dx * math.sin(t) - dy * math.cos(t)  # along the nose (screen: up = heading 0)
    c = dx * math.cos(t) + dy * math.sin(t)  # across, to the right
    length = length_px
    fuselage = (np.abs(a) <= length / 2) & (np.abs(c) <= length * 0.06)
    wing = (np.abs(c) <= length * 0.5 * span) & (a <= length * 0.1 - np.abs(c) * 0.35) & (a >= -length * 0.08 - np.abs(c) * 0.35)
    tail = (np.abs(c) <= length * 0.18) & (a <= -length * 0.36) & (a >= -length * 0.46)
    return fuselage | wing | tail


def make_scene(path, objects, size=(600, 600), seed=0, clutter=12, span=1.0):
    """GeoTIFF (3 bands, uint8, 0.5 m, EPSG:32636) with aircraft at (cx, cy, heading, length_px);
    `span` is the wingspan relative to the length."""
    h, w = size
    rng = np.random.default_rng(seed)
    img = 90 + rng.normal(0, 6, size=(h, w))
    for _ in range(clutter):  # buildings and markings the engine must not confuse with aircraft
        x0, y0 = rng.integers(0, w - 40), rng.integers(0, h - 40)
        img[y0:y0 + rng.integers(8, 40), x0:x0 + rng.integers(8, 40)] += rng.choice([-40, 50])
    for cx, cy, heading, length in objects:
        img[aircraft_mask(h, w, cx, cy, heading, length, span)] = 200
    img = np.clip(img, 0, 255).astype(np.uint8)
    ds = gdal.GetDriverByName("GTiff").Create(str(path), w, h, 3, gdal.GDT_Byte)
    ds.SetGeoTransform((ORIGIN[0], GSD, 0, ORIGIN[1], 0, -GSD))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32636)
    ds.SetProjection(srs.ExportToWkt())
    for b in range(3):
        ds.GetRasterBand(b + 1).WriteArray(img)
    ds = None
    return str(path)


def to_map(px: float, py: float) -> tuple[float, float]:
    return ORIGIN[0] + px * GSD, ORIGIN[1] - py * GSD


# aircraft of the exemplar scenes: (cx, cy, heading, length) in pixels; wingspan 0.6 x length
OBJECTS = [(100, 100, 0, 60), (300, 120, 90, 60), (480, 140, 135, 60), (150, 420, 200, 60),
           (430, 430, 300, 60), (300, 300, 45, 60)]


def exemplar_at(px: float, py: float, heading: float, cls: str = "su24"):
    """A user's example box (30 x 18 m) centred on pixel (px, py)."""
    from sitewatch.plugin.core.equipment.detection import Detection

    x, y = to_map(px, py)
    return Detection(cx=x, cy=y, length_m=30.0, width_m=18.0, heading_deg=heading % 180, class_name=cls,
                     score=1.0, engine="user")
