"""The air-base layout (paved areas, buildings, sites) and the equipment on each date.

Everything is decided here, before any pixel is drawn, from one seeded random generator:
the infrastructure, the objects with their positions on both dates and their events, the
new structure and the cloud. Positions are ground pixel coordinates of the before grid.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..core.equipment.catalogue import Catalogue
from .shapes import Convex, convex_hull, local_to_pixel, polygons_overlap, regular_polygon
from .silhouettes import Part, height_of, parts_for

RUNWAY_HEADING = 354.0  # Khmeimim's runways run about 174/354 degrees
RUNWAY_LENGTH_M = 2800.0
BASE_SPAN_M = 2600.0  # the layout never grows beyond this; larger scenes add farmland


@dataclass
class Frame:
    """Base frame: u along the runway (towards 354 deg), v across (towards 84 deg), metres."""

    cx: float
    cy: float
    gsd: float
    heading: float = RUNWAY_HEADING

    def __post_init__(self) -> None:
        t = math.radians(self.heading)
        self.a = np.array([math.sin(t), -math.cos(t)])  # pixel-space unit vector of +u
        self.b = np.array([math.cos(t), math.sin(t)])  # pixel-space unit vector of +v

    def px(self, u: float, v: float) -> np.ndarray:
        return np.array([self.cx, self.cy]) + (u * self.a + v * self.b) / self.gsd

    def rect(self, u0: float, u1: float, v0: float, v1: float) -> np.ndarray:
        return np.array([self.px(u0, v0), self.px(u1, v0), self.px(u1, v1), self.px(u0, v1)])

    def uv(self, x: float, y: float) -> tuple[float, float]:
        d = (np.array([x, y]) - np.array([self.cx, self.cy])) * self.gsd
        return float(d @ self.a), float(d @ self.b)


@dataclass
class Feature:
    """A static feature: a convex footprint drawn with a material; tall ones cast shadows."""

    shape: Convex
    material: str
    height: float = 0.0  # metres; > 0 casts a shadow
    arch: Optional[tuple] = None  # (across unit vector px, half width px) for an arched roof
    dates: tuple = ("before", "after")
    slabs: bool = False


@dataclass
class Zone:
    name: str
    u0: float
    u1: float
    v0: float
    v1: float
    classes: list  # [(class_id, weight)]
    heading: float  # preferred heading (deg)
    jitter: float  # heading spread (deg); >= 180 means any heading
    pitch: float = 0.0  # row spacing along v (m); 0 = free placement
    count: int = 0


@dataclass
class ObjState:
    x: float
    y: float
    heading: float


@dataclass
class SceneObject:
    oid: int
    cls: str
    length_m: float
    width_m: float
    paint: np.ndarray
    paint2: Optional[np.ndarray]
    accent: np.ndarray
    parts: list[Part]
    zone: str
    before: Optional[ObjState] = None
    after: Optional[ObjState] = None

    @property
    def height(self) -> float:
        return height_of(self.parts)

    def event(self, date: str) -> str:
        if self.before and self.after:
            moved = abs(self.before.x - self.after.x) + abs(self.before.y - self.after.y) > 1e-6 or \
                abs(self.before.heading - self.after.heading) > 1e-6
            return "moved" if moved else "stayed"
        return "departed" if date == "before" else "arrived"


@dataclass
class Cloud:
    x: float  # centre, after-image pixel coordinates
    y: float
    radius: float  # px
    shadow_dx: float  # px offset of its shadow on the after image
    shadow_dy: float


@dataclass
class Layout:
    size_px: int
    gsd: float
    extent_m: float
    frame: Frame
    features: list[Feature]
    objects: list[SceneObject]
    ad_site: tuple  # (x, y, radius px) of the emptied air-defence site
    new_structure: Optional[Feature]
    cloud: Optional[Cloud]
    sun_vec: dict  # date -> (sx, sy) shadow offset in px per metre of height
    shift: tuple  # (dx, dy) px: after-image content offset
    farm_angle: float = 0.0
    zones: list = field(default_factory=list)


PAINTS = {
    "transport": [(0.47, 0.48, 0.50, 0.47), (0.56, 0.57, 0.59, 0.56), (0.40, 0.42, 0.44, 0.41)],
    "fighter": [(0.27, 0.32, 0.37, 0.33), (0.40, 0.42, 0.45, 0.42), (0.17, 0.18, 0.20, 0.21)],
    "su24": [(0.30, 0.26, 0.18, 0.33), (0.35, 0.36, 0.37, 0.36)],
    "heli": [(0.12, 0.13, 0.09, 0.25), (0.22, 0.20, 0.14, 0.29), (0.30, 0.31, 0.32, 0.32)],
    "vehicle": [(0.10, 0.12, 0.07, 0.24), (0.07, 0.09, 0.06, 0.20), (0.14, 0.15, 0.12, 0.22)],
    "car": [(0.55, 0.55, 0.56, 0.55), (0.08, 0.08, 0.09, 0.10), (0.35, 0.10, 0.08, 0.33),
            (0.20, 0.22, 0.26, 0.24), (0.40, 0.40, 0.41, 0.40)],
}
CAMO2 = {"su24": (0.12, 0.15, 0.09, 0.25), "heli": (0.24, 0.20, 0.12, 0.28), "vehicle": (0.24, 0.20, 0.13, 0.28)}


def _paint_family(cls: str, category: str) -> str:
    if category in ("heavy_transport", "transport", "special_aircraft"):
        return "transport"
    if cls == "su24":
        return "su24"
    if category == "combat_aircraft":
        return "fighter"
    if category == "helicopter":
        return "heli"
    if cls == "car":
        return "car"
    return "vehicle"


class _Occupancy:
    """Keep-out polygons (pixel space) with a vectorised bounding-box prefilter."""

    def __init__(self) -> None:
        self.polys: list[np.ndarray] = []
        self.boxes = np.zeros((0, 4))

    def free(self, poly: np.ndarray) -> bool:
        if not self.polys:
            return True
        x0, y0 = poly.min(axis=0)
        x1, y1 = poly.max(axis=0)
        b = self.boxes
        hits = np.nonzero((b[:, 0] <= x1) & (b[:, 2] >= x0) & (b[:, 1] <= y1) & (b[:, 3] >= y0))[0]
        return not any(polygons_overlap(poly, self.polys[i]) for i in hits)

    def add(self, poly: np.ndarray) -> None:
        self.polys.append(poly)
        box = np.r_[poly.min(axis=0), poly.max(axis=0)][None, :]
        self.boxes = np.vstack([self.boxes, box])


def sun_shadow_vector(azimuth: float, elevation: float, gsd: float) -> tuple[float, float]:
    """Shadow offset (px per metre of height) pointing away from the sun, in pixel space."""
    t = math.radians(azimuth + 180.0)
    k = 1.0 / math.tan(math.radians(elevation)) / gsd
    return math.sin(t) * k, -math.cos(t) * k


class LayoutBuilder:
    def __init__(self, size_px: int, gsd: float, seed: int, catalogue: Catalogue,
                 sun_vec: dict, shift: tuple) -> None:
        self.n = size_px
        self.gsd = gsd
        self.rng = np.random.default_rng([seed, 4242])
        self.cat = catalogue
        self.sun_vec = sun_vec
        self.shift = shift
        self.S = size_px * gsd
        self.ext = min(self.S, BASE_SPAN_M)
        self.frame = Frame(size_px / 2.0, size_px / 2.0, gsd)
        self.features: list[Feature] = []
        self.static_occ = _Occupancy()
        self.obj_occ = _Occupancy()
        self.objects: list[SceneObject] = []
        self.zones: dict[str, Zone] = {}
        self.margin_px = 8.0 + max(abs(shift[0]), abs(shift[1]))

    # ---------------------------------------------------------------- infrastructure
    def _add(self, poly: np.ndarray, material: str, **kw) -> Feature:
        f = Feature(Convex(poly), material, **kw)
        self.features.append(f)
        return f

    def infrastructure(self) -> None:
        ext, fr = self.ext, self.frame
        ulim = max(0.48 * ext, RUNWAY_LENGTH_M / 2 + 60) if self.S > BASE_SPAN_M else 0.6 * self.S
        self.ulim = ulim
        rw = float(np.clip(0.022 * ext, 10, 45))
        tw = float(np.clip(0.011 * ext, 6, 23))
        v_rw = -0.34 * ext
        v_tw = v_rw + max(0.09 * ext, rw / 2 + tw / 2 + 6)
        half_rw = RUNWAY_LENGTH_M / 2
        self._add(fr.rect(-half_rw - 30, half_rw + 30, v_rw - 0.65 * rw, v_rw + 0.65 * rw), "asphalt_old")
        self._add(fr.rect(-half_rw, half_rw, v_rw - rw / 2, v_rw + rw / 2), "runway", slabs=True)
        # markings: centre-line dashes, edge lines, threshold bars at both ends
        dash = float(np.clip(0.015 * ext, 6, 30))
        u = -half_rw + 4 * dash
        while u < half_rw - 4 * dash:
            self._add(fr.rect(u, u + dash, v_rw - 0.45, v_rw + 0.45), "marking")
            u += dash * 1.7
        for side in (-1, 1):
            self._add(fr.rect(-half_rw, half_rw, v_rw + side * (rw / 2 - 1.2), v_rw + side * (rw / 2 - 0.3)), "marking")
        for end in (-1, 1):
            n_bars = 8
            for k in range(n_bars):
                b0 = v_rw - rw / 2 + 1.5 + k * (rw - 3) / n_bars
                uu = end * (half_rw - 6)
                self._add(fr.rect(min(uu, uu - end * 30), max(uu, uu - end * 30), b0 + 0.4, b0 + (rw - 3) / n_bars - 0.4),
                          "marking")
        self._add(fr.rect(-min(ulim, half_rw + 80), min(ulim, half_rw + 80), v_tw - tw / 2, v_tw + tw / 2), "asphalt")
        self._add(fr.rect(-min(ulim, half_rw + 80), min(ulim, half_rw + 80), v_tw - 0.2, v_tw + 0.2), "marking_yellow")
        for uk in (-0.3 * ext, 0.0, 0.3 * ext):
            self._add(fr.rect(uk - tw / 2, uk + tw / 2, v_rw + rw / 2, v_tw - tw / 2 + 0.5), "asphalt")
        # aprons
        a1 = (-0.44 * ext, 0.10 * ext, v_tw + tw / 2 + 0.02 * ext, -0.02 * ext)
        shelters = ext >= 700
        d_sh = 30.0
        a2 = (0.14 * ext, 0.44 * ext, a1[2], -0.02 * ext - (d_sh + 10 if shelters else 0))
        for zu0, zu1, zv0, zv1 in (a1, a2):
            self._add(fr.rect(zu0, zu1, zv0, zv1), "concrete", slabs=True)
            for uk in np.linspace(zu0 + 0.15 * (zu1 - zu0), zu1 - 0.15 * (zu1 - zu0), 2):
                self._add(fr.rect(uk - tw / 2, uk + tw / 2, v_tw, zv0 + 0.5), "asphalt")
        # hardened shelters along the east edge of the fighter apron, doors facing it
        self.shelter_fronts = []
        if shelters:
            w_sh = 24.0
            n_sh = int((a2[1] - a2[0]) // (w_sh + 14))
            for k in range(n_sh):
                uc = a2[0] + (k + 0.5) * (a2[1] - a2[0]) / n_sh
                v0 = a2[3] + 6
                self._add(fr.rect(uc - w_sh / 2 - 3, uc + w_sh / 2 + 3, a2[3], v0 + 2), "concrete", slabs=True)
                poly = fr.rect(uc - w_sh / 2, uc + w_sh / 2, v0, v0 + d_sh)
                self._add(poly, "shelter", height=8.0, arch=(tuple(fr.a), w_sh / 2 / self.gsd))
                self._add(fr.rect(uc - w_sh / 2 + 2, uc + w_sh / 2 - 2, v0, v0 + 0.8), "dark")
                self.static_occ.add(self._keepout(fr.rect(uc - w_sh / 2 - 3, uc + w_sh / 2 + 3, v0, v0 + d_sh + 4),
                                                  8.0, 1.0))
                self.shelter_fronts.append(uc)
        hz = (-0.44 * ext, -0.12 * ext, 0.02 * ext, 0.16 * ext)
        vz = (-0.08 * ext, 0.14 * ext, 0.03 * ext, 0.16 * ext)
        self._add(fr.rect(hz[0], hz[1], hz[2], hz[3]), "concrete", slabs=True)
        self._add(fr.rect(vz[0], vz[1], vz[2], vz[3]), "gravel")
        rd = float(np.clip(0.0025 * ext, 2.5, 4.0))
        v_rd = 0.18 * ext
        self._add(fr.rect(-ulim, ulim, v_rd - rd, v_rd + rd), "asphalt")
        self.road = (v_rd, rd)
        for zz in (hz, vz):  # access roads from the aprons to the main road
            um = 0.5 * (zz[0] + zz[1])
            self._add(fr.rect(um - rd, um + rd, zz[3] - 0.5, v_rd), "asphalt")
        # helipads: painted circles on the helicopter apron
        n_pads = max(1, int((hz[1] - hz[0]) // 40))
        for k in range(n_pads):
            c = fr.px(hz[0] + (k + 0.5) * (hz[1] - hz[0]) / n_pads, (hz[2] + hz[3]) / 2)
            self._add(regular_polygon(c[0], c[1], 6.5 / self.gsd, 20), "marking_yellow")
            self._add(regular_polygon(c[0], c[1], 6.0 / self.gsd, 20), "concrete", slabs=True)
        self.zones = {
            "heavy": Zone("heavy", a1[0], a1[1], a1[2], a1[2] + min(90.0, a1[3] - a1[2]),
                          [("il76", 3), ("an124", 1)], RUNWAY_HEADING - 90, 4, pitch=90),
            "apron": Zone("apron", a1[0], a1[1], a1[2], a1[3], [("su24", 2), ("su34", 2), ("su35", 2), ("an26", 1)],
                          RUNWAY_HEADING - 90, 6, pitch=32),
            "fighters": Zone("fighters", a2[0], a2[1], a2[2], a2[3], [("su34", 2), ("su35", 3), ("su24", 1)],
                             RUNWAY_HEADING - 90, 6, pitch=28),
            "helicopters": Zone("helicopters", *hz, [("mi8", 3), ("mi24", 2), ("ka52", 2)],
                                RUNWAY_HEADING - 90, 30, pitch=26),
            "vehicles": Zone("vehicles", *vz, [("truck", 5), ("fuel_truck", 2), ("pantsir", 1), ("car", 1)],
                             RUNWAY_HEADING + 90, 8, pitch=13),
            "road": Zone("road", -ulim, ulim, v_rd - 1.5, v_rd + 1.5, [("truck", 3), ("fuel_truck", 1), ("car", 2)],
                         RUNWAY_HEADING, 2),
            "buildings": Zone("buildings", -0.44 * ext, 0.20 * ext, 0.21 * ext, 0.44 * ext, [("car", 3), ("truck", 1)],
                              RUNWAY_HEADING, 200),
        }
        area = {k: (z.u1 - z.u0) * (z.v1 - z.v0) for k, z in self.zones.items()}
        self.zones["heavy"].count = max(1, int((a1[1] - a1[0]) // 150))
        self.zones["apron"].count = max(2, int(area["apron"] / 20000))
        self.zones["fighters"].count = max(1, int(area["fighters"] / 10000))
        self.zones["helicopters"].count = max(2, int(area["helicopters"] / 12000))
        self.zones["vehicles"].count = max(3, int(area["vehicles"] / 3000))
        self.zones["road"].count = max(1, int(2 * ulim / 160))
        self.zones["buildings"].count = max(1, int(area["buildings"] / 15000))
        self._buildings()
        self._ad_site()
        self._perimeter()

    def _buildings(self) -> None:
        """Blocks of buildings on a street grid, aligned with the base, some lots left empty."""
        z = (-0.44 * self.ext, 0.20 * self.ext, 0.21 * self.ext, 0.44 * self.ext)
        fr, rng = self.frame, self.rng
        lot_u, lot_v = 55.0, 42.0
        n_u = max(1, int((z[1] - z[0]) // lot_u))
        n_v = max(1, int((z[3] - z[2]) // lot_v))
        lot_u, lot_v = (z[1] - z[0]) / n_u, (z[3] - z[2]) / n_v
        street = 3.0
        for i in range(1, n_u):  # cross streets every other lot
            if i % 2 == 0:
                uu = z[0] + i * lot_u
                self._add(fr.rect(uu - street, uu + street, z[2], z[3]), "asphalt")
        for j in range(0, n_v + 1, 2):
            vv = z[2] + j * lot_v
            self._add(fr.rect(z[0], z[1], vv - street, vv + street), "asphalt")
        mats = ["roof_metal", "roof_metal", "roof_concrete", "roof_dark", "roof_tile", "roof_concrete"]
        reserved = (int(rng.integers(n_u)), int(rng.integers(n_v)))  # the lot built on between the dates
        for i in range(n_u):
            for j in range(n_v):
                u0, v0 = z[0] + i * lot_u + street + 4, z[2] + j * lot_v + street + 4
                u1, v1 = u0 + lot_u - 2 * street - 8, v0 + lot_v - 2 * street - 8
                if (i, j) == reserved:
                    self.reserved_lot = (u0, u1, v0, v1)
                    self.static_occ.add(fr.rect(u0 - 4, u1 + 4, v0 - 4, v1 + 4))
                    continue
                if rng.random() < 0.25 or u1 - u0 < 6 or v1 - v0 < 6:
                    continue
                if rng.random() < 0.5:  # one large building
                    lu, lv = rng.uniform(0.5, 1.0) * (u1 - u0), rng.uniform(0.4, 0.9) * (v1 - v0)
                    boxes = [(u0 + rng.uniform(0, u1 - u0 - lu), v0 + rng.uniform(0, v1 - v0 - lv), lu, lv)]
                else:  # two barracks side by side
                    lu, lv = rng.uniform(0.3, 0.45) * (u1 - u0), rng.uniform(0.6, 0.95) * (v1 - v0)
                    boxes = [(u0, v0, lu, lv), (u1 - lu, v0, lu, lv)]
                mat = mats[int(rng.integers(len(mats)))]
                height = float(rng.uniform(3.5, 9))
                for bu, bv, lu, lv in boxes:
                    poly = fr.rect(bu, bu + lu, bv, bv + lv)
                    if not self._inside(poly):
                        continue
                    self._add(poly, mat, height=height)
                    self.static_occ.add(self._keepout(poly, height, 3.0 / self.gsd))  # with its shadows
        self.building_zone = z

    def _ad_site(self) -> None:
        ext, fr, rng = self.ext, self.frame, self.rng
        rad = float(np.clip(0.07 * ext, 32, 110))
        cu, cv = 0.31 * ext, 0.30 * ext
        c = fr.px(cu, cv)
        self.ad_centre = (cu, cv, rad)
        v_rd, rd = self.road
        self._add(fr.rect(cu - rd, cu + rd, v_rd, cv - rad + 2), "asphalt")  # access road
        self._add(regular_polygon(c[0], c[1], rad / self.gsd, 28), "soil_dark")
        self._add(regular_polygon(c[0], c[1], (rad - 3.0) / self.gsd, 28), "gravel")
        self.ad_positions = []
        n = int(np.clip(2 * math.pi * 0.62 * rad // 26, 2, 8))
        a0 = float(rng.uniform(0, 2 * math.pi))
        lcls = self.cat.get("s400_launcher")
        for k in range(n):
            ang = a0 + k * 2 * math.pi / n
            pu, pv = cu + 0.62 * rad * math.cos(ang), cv + 0.62 * rad * math.sin(ang)
            p = fr.px(pu, pv)
            # the launcher points outwards; a U-shaped earth berm shelters it, open to the centre
            heading = (RUNWAY_HEADING + math.degrees(ang)) % 360
            lng, wid = lcls.length_m + 8, lcls.width_m + 8
            for poly in (np.array([[lng / 2, -wid / 2 - 2.5], [lng / 2 + 2.5, -wid / 2 - 2.5], [lng / 2 + 2.5, wid / 2 + 2.5],
                                   [lng / 2, wid / 2 + 2.5]]),
                         np.array([[lng / 2 + 2.5, wid / 2], [lng / 2 + 2.5, wid / 2 + 2.5], [-lng / 4, wid / 2 + 2.5],
                                   [-lng / 4, wid / 2]]),
                         np.array([[lng / 2 + 2.5, -wid / 2], [lng / 2 + 2.5, -wid / 2 - 2.5], [-lng / 4, -wid / 2 - 2.5],
                                   [-lng / 4, -wid / 2]])):
                self._add(local_to_pixel(poly, p[0], p[1], heading, self.gsd), "berm", height=2.2)
            self.ad_positions.append((p[0], p[1], heading))

    def _perimeter(self) -> None:
        fr, ext = self.frame, self.ext
        if self.S <= BASE_SPAN_M * 0.8:
            return
        ul, v0, v1 = self.ulim, -0.45 * ext, 0.47 * ext
        for poly in (fr.rect(-ul, ul, v0 - 4, v0), fr.rect(-ul, ul, v1, v1 + 4), fr.rect(-ul - 4, -ul, v0, v1),
                     fr.rect(ul, ul + 4, v0, v1)):
            self._add(poly, "track")

    # ---------------------------------------------------------------- equipment
    def _inside(self, poly: np.ndarray) -> bool:
        m = self.margin_px
        return bool(poly.min() >= m and poly.max() <= self.n - m)

    def _keepout(self, box_px: np.ndarray, height: float, margin_px: float) -> np.ndarray:
        c = box_px.mean(axis=0)
        d = box_px - c
        d = d + margin_px * d / np.maximum(np.hypot(d[:, 0:1], d[:, 1:2]), 1e-9)
        pts = [c + d]
        for sx, sy in self.sun_vec.values():
            pts.append(c + d + np.array([sx, sy]) * height)
        return convex_hull(np.vstack(pts))

    def _try_place(self, obj: SceneObject, zone: Zone, attempts: int = 40,
                   fixed: Optional[tuple] = None) -> Optional[tuple]:
        fr, rng = self.frame, self.rng
        lng, wid = obj.length_m, obj.width_m
        for _ in range(attempts if fixed is None else 1):
            if fixed is not None:
                x, y, heading = fixed
            else:
                if zone.u1 - zone.u0 < 2 * min(lng, wid) * 0.5:
                    return None
                u = float(rng.uniform(zone.u0 + 0.5 * min(lng, wid), zone.u1 - 0.5 * min(lng, wid)))
                if zone.pitch > 0:
                    n_rows = max(1, int((zone.v1 - zone.v0) // zone.pitch))
                    v = zone.v0 + (int(rng.integers(n_rows)) + 0.5) * zone.pitch + float(rng.normal(0, 0.6))
                else:
                    v = float(rng.uniform(zone.v0, zone.v1))
                if zone.jitter >= 180 or (zone.name != "road" and rng.random() < 0.12):
                    heading = float(rng.uniform(0, 360))  # parked askew, towed, turning
                else:
                    heading = (zone.heading + float(rng.normal(0, zone.jitter)) + (180 if zone.name == "road"
                               and rng.random() < 0.5 else 0)) % 360
                x, y = fr.px(u, v)
                # the whole box must stay inside the zone (zone edges in u/v)
                corners_uv = [fr.uv(*p) for p in local_to_pixel(
                    np.array([[lng / 2, wid / 2], [lng / 2, -wid / 2], [-lng / 2, wid / 2], [-lng / 2, -wid / 2]]), x, y, heading, self.gsd)]
                cu = [c[0] for c in corners_uv]
                cv = [c[1] for c in corners_uv]
                inset = -2.0 if zone.name == "road" else 2.0  # keep clear of the zone's edges
                if min(cu) < zone.u0 + max(inset, 0) or max(cu) > zone.u1 - max(inset, 0) or \
                        min(cv) < zone.v0 + inset or max(cv) > zone.v1 - inset:
                    continue
            box = local_to_pixel(np.array([[lng / 2, wid / 2], [lng / 2, -wid / 2], [-lng / 2, -wid / 2], [-lng / 2, wid / 2]]),
                                 x, y, heading, self.gsd)
            keep = self._keepout(box, obj.height, 2.5 / self.gsd)
            if not self._inside(box) or not self.static_occ.free(box) or not self.obj_occ.free(keep):
                continue
            self.obj_occ.add(keep)
            return float(x), float(y), float(heading)
        return None

    def _new_object(self, cls: str, zone: str) -> SceneObject:
        rng = self.rng
        c = self.cat.get(cls)
        fam = _paint_family(cls, c.category)
        paints = PAINTS[fam]
        base = np.array(paints[int(rng.integers(len(paints)))], dtype=np.float32)
        base = base * np.float32(rng.uniform(0.85, 1.15))
        p2 = CAMO2.get(fam) if rng.random() < 0.6 else None
        accent = base * np.float32(0.8) if fam != "vehicle" else np.array([0.09, 0.10, 0.07, 0.20], np.float32)
        parts = parts_for(cls, c.length_m, c.width_m, float(rng.uniform(0, 2 * math.pi)))
        obj = SceneObject(len(self.objects) + 1, cls, c.length_m, c.width_m, base,
                          None if p2 is None else np.array(p2, np.float32) * np.float32(rng.uniform(0.9, 1.1)),
                          accent.astype(np.float32), parts, zone)
        return obj

    def _pick_class(self, zone: Zone) -> str:
        names = [c for c, _ in zone.classes]
        w = np.array([w for _, w in zone.classes], dtype=float)
        return names[int(self.rng.choice(len(names), p=w / w.sum()))]

    def _populate(self, zone: Zone, count: int, date: str, cls: Optional[str] = None) -> list[SceneObject]:
        placed = []
        for _ in range(count):
            obj = self._new_object(cls or self._pick_class(zone), zone.name)
            pos = self._try_place(obj, zone)
            if pos is None:
                continue
            setattr(obj, date, ObjState(*pos))
            self.objects.append(obj)
            placed.append(obj)
        return placed

    def equipment(self) -> None:
        rng, z = self.rng, self.zones
        # air-defence site: launchers around the engagement radar (Pantsirs come with the vehicles zone)
        cu, cv, rad = self.ad_centre
        self.ad_objects = []
        for x, y, heading in self.ad_positions:
            obj = self._new_object("s400_launcher", "ad_site")
            pos = self._try_place(obj, z["apron"], fixed=(x, y, heading))
            if pos:
                obj.before = ObjState(*pos)
                self.objects.append(obj)
                self.ad_objects.append(obj)
        radar = self._new_object("s400_radar", "ad_site")
        pos = self._try_place(radar, z["apron"], fixed=(*self.frame.px(cu, cv), float(rng.uniform(0, 360))))
        if pos:
            radar.before = ObjState(*pos)
            self.objects.append(radar)
            self.ad_objects.append(radar)
        # the two heavy transports that arrive by the after date get their spots before the rest
        got = 0
        for cls in ("an124", "il76", "il76", "an124"):
            if got >= 2:
                break
            got += len(self._populate(z["heavy"], 1, "after", cls=cls) or
                       self._populate(z["apron"], 1, "after", cls=cls))
        # fighters pulled out in front of some shelters
        for uc in self.shelter_fronts:
            if rng.random() < 0.5:
                obj = self._new_object(self._pick_class(z["fighters"]), "fighters")
                x, y = self.frame.px(uc, z["fighters"].v1 - obj.length_m / 2 - 2)
                pos = self._try_place(obj, z["fighters"], fixed=(x, y, (RUNWAY_HEADING - 90 + rng.normal(0, 3)) % 360))
                if pos:
                    obj.before = ObjState(*pos)
                    self.objects.append(obj)
        for name in ("heavy", "apron", "fighters", "helicopters", "vehicles", "road", "buildings"):
            self._populate(z[name], z[name].count, "before")

    def events(self) -> None:
        """Decide what stays, leaves, moves and arrives between the two dates."""
        rng, z = self.rng, self.zones
        ad = set(id(o) for o in self.ad_objects)
        others = [o for o in self.objects if id(o) not in ad and o.before is not None]
        order = rng.permutation(len(others))
        n_dep = max(1, int(round(0.12 * len(others))))
        n_mov = max(1, int(round(0.10 * len(others))))
        departed = [others[i] for i in order[:n_dep]]
        for o in others:
            if o not in departed:
                o.after = ObjState(o.before.x, o.before.y, o.before.heading)
        moved = 0
        for i in order[n_dep:]:  # move some of the others (those that find a free spot)
            if moved >= n_mov:
                break
            o = others[i]
            zone = z.get(o.zone, z["apron"])
            alt = [zone] + [zz for zz in z.values() if zz is not zone and any(c == o.cls for c, _ in zz.classes)]
            for zz in alt:
                pos = self._try_place(o, zz, attempts=60)
                if pos:
                    o.after = ObjState(*pos)
                    moved += 1
                    break
        # arrivals: the two heavy transports were given their spots first; now a few of everything
        n_arr = max(2, int(round(0.10 * len(others))))
        names = ["apron", "fighters", "helicopters", "vehicles", "road", "helicopters", "vehicles"]
        for k in range(n_arr * 3):
            if n_arr <= 0:
                break
            name = names[k % len(names)]
            n_arr -= len(self._populate(z[name], 1, "after"))

    def new_structure(self) -> Optional[Feature]:
        """A building that appears on the after date, on the lot kept free for it."""
        fr, rng = self.frame, self.rng
        u0, u1, v0, v1 = self.reserved_lot
        lu, lv = float(min(34.0, u1 - u0)), float(min(18.0, v1 - v0))
        for _ in range(50):
            u = float(rng.uniform(u0 + lu / 2, max(u1 - lu / 2, u0 + lu / 2 + 1e-6)))
            v = float(rng.uniform(v0 + lv / 2, max(v1 - lv / 2, v0 + lv / 2 + 1e-6)))
            poly = fr.rect(u - lu / 2, u + lu / 2, v - lv / 2, v + lv / 2)
            keep = self._keepout(poly, 7.0, 3.0 / self.gsd)
            if self._inside(keep) and self.obj_occ.free(keep):
                self.obj_occ.add(keep)
                f = Feature(Convex(poly), "roof_new", height=7.0, dates=("after",))
                self.features.append(f)
                return f
            lu, lv = lu * 0.9, lv * 0.9
        return None

    def cloud(self) -> Optional[Cloud]:
        rng = self.rng
        r = float(np.clip(0.03 * self.S, 10.0, 120.0)) / self.gsd
        sx, sy = self.sun_vec["after"]
        k = 1.7 * r / math.hypot(sx, sy)  # cloud height (m) that puts its shadow 1.7 radii away
        off = np.array([sx * k, sy * k])
        dx, dy = self.shift
        blocked = _Occupancy()
        for p in self.obj_occ.polys:
            blocked.add(p)
        cu, cv, rad = self.ad_centre
        c = self.frame.px(cu, cv)
        blocked.add(regular_polygon(c[0], c[1], rad / self.gsd + 10, 16))
        for scale in (1.0, 0.75, 0.5, 0.35):
            rr = r * scale
            cands = rng.uniform(1.3 * rr, self.n - 1.3 * rr, size=(400, 2))
            for x, y in cands:
                sh = np.array([x, y]) + off * scale
                if not (1.3 * rr <= sh[0] <= self.n - 1.3 * rr and 1.3 * rr <= sh[1] <= self.n - 1.3 * rr):
                    continue
                # cloud and shadow discs, in ground coordinates, with a safety margin
                hull = convex_hull(np.vstack([regular_polygon(x - dx, y - dy, 1.3 * rr + 4, 16),
                                              regular_polygon(sh[0] - dx, sh[1] - dy, 1.3 * rr + 4, 16)]))
                if blocked.free(hull):
                    return Cloud(float(x), float(y), float(rr), float(off[0] * scale), float(off[1] * scale))
        return None


def build_layout(size_px: int, gsd: float, seed: int, catalogue: Catalogue, sun_vec: dict,
                 shift: tuple) -> Layout:
    return build_layout_and_builder(size_px, gsd, seed, catalogue, sun_vec, shift)[0]


def build_layout_and_builder(size_px: int, gsd: float, seed: int, catalogue: Catalogue, sun_vec: dict,
                             shift: tuple) -> tuple[Layout, LayoutBuilder]:
    """The layout and the builder that made it (its free-space bookkeeping places later arrivals)."""
    b = LayoutBuilder(size_px, gsd, seed, catalogue, sun_vec, shift)
    b.infrastructure()
    b.equipment()
    b.events()
    ns = b.new_structure()
    cloud = b.cloud()
    cu, cv, rad = b.ad_centre
    c = b.frame.px(cu, cv)
    layout = Layout(size_px, gsd, b.ext, b.frame, b.features, b.objects, (float(c[0]), float(c[1]), rad / gsd), ns,
                    cloud, sun_vec, shift, farm_angle=RUNWAY_HEADING + 13.0, zones=list(b.zones.values()))
    return layout, b
