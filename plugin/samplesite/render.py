"""Tile renderer: ground, infrastructure, equipment, shadows, then the sensor (gain, haze,
cloud, noise). Every value depends on absolute coordinates, so any tile can be drawn alone."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .capture import CaptureInfo
from .layout import Layout, SceneObject
from .noise import fbm, hash01, value_noise
from .shapes import Convex, convex_hull, local_to_pixel

DN_SCALE = 2000.0  # DN per unit reflectance at gain 1
SHADOW = np.array([0.36, 0.39, 0.46, 0.28], np.float32)[:, None, None]  # diffuse fraction left in shadow
HAZE_COLOUR = np.array([0.05, 0.06, 0.075, 0.025], np.float32)[:, None, None]
CLOUD_COLOUR = np.array([0.62, 0.63, 0.65, 0.60], np.float32)[:, None, None]

MATERIALS = {  # reflectance R, G, B, NIR and texture style
    "runway": ((0.30, 0.29, 0.27, 0.31), "concrete"),
    "concrete": ((0.34, 0.33, 0.31, 0.35), "concrete"),
    "asphalt": ((0.11, 0.11, 0.11, 0.14), "asphalt"),
    "asphalt_old": ((0.17, 0.16, 0.15, 0.20), "asphalt"),
    "marking": ((0.62, 0.62, 0.61, 0.60), "flat"),
    "marking_yellow": ((0.50, 0.42, 0.12, 0.50), "flat"),
    "gravel": ((0.28, 0.25, 0.21, 0.31), "asphalt"),
    "soil_dark": ((0.21, 0.16, 0.12, 0.27), "asphalt"),
    "shelter": ((0.37, 0.36, 0.34, 0.38), "concrete"),
    "dark": ((0.05, 0.05, 0.05, 0.06), "flat"),
    "roof_metal": ((0.46, 0.47, 0.47, 0.46), "roof"),
    "roof_concrete": ((0.30, 0.29, 0.27, 0.32), "roof"),
    "roof_dark": ((0.14, 0.14, 0.15, 0.17), "roof"),
    "roof_tile": ((0.34, 0.16, 0.11, 0.37), "roof"),
    "roof_new": ((0.55, 0.56, 0.57, 0.55), "roof"),
    "berm": ((0.25, 0.19, 0.14, 0.30), "asphalt"),
    "track": ((0.31, 0.27, 0.22, 0.34), "asphalt"),
}
TERRAIN = {
    "soil_light": (0.30, 0.26, 0.21, 0.35),
    "soil_red": (0.24, 0.16, 0.11, 0.30),
    "grass_green": (0.07, 0.11, 0.05, 0.38),
    "grass_dry": (0.18, 0.17, 0.11, 0.31),
    "crop": (0.05, 0.10, 0.04, 0.46),
    "ploughed": (0.19, 0.13, 0.09, 0.24),
    "tree": (0.045, 0.075, 0.045, 0.33),
    "plastic": (0.55, 0.57, 0.58, 0.56),
}
DARK = np.array([0.05, 0.05, 0.06, 0.07], np.float32)
TANK = np.array([0.42, 0.43, 0.44, 0.42], np.float32)
CANVAS = np.array([0.18, 0.18, 0.115, 0.28], np.float32)
CANOPY = np.array([0.04, 0.05, 0.07, 0.05], np.float32)


def _col(v) -> np.ndarray:
    return np.asarray(v, np.float32)[:, None, None]


@dataclass
class Prim:
    shapes: list  # of Convex, drawn as their union
    kind: str  # "fill" | "shadow"
    colour: Optional[np.ndarray] = None  # (4,)
    colour2: Optional[np.ndarray] = None  # camouflage second colour
    texture: str = "flat"
    arch: Optional[tuple] = None  # (cx, cy, ux, uy, half width px, sun dot, sin elev)
    slabs: bool = False

    def __post_init__(self) -> None:
        b = np.array([s.bbox for s in self.shapes])
        self.bbox = (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())


def _shadow_of(poly: np.ndarray, sun: tuple, z_lo: float, z_hi: float) -> Convex:
    s = np.array(sun)
    return Convex(convex_hull(np.vstack([poly + s * z_lo, poly + s * z_hi])))


def object_prims(obj: SceneObject, state, sun: tuple, gsd: float) -> tuple[Prim, list[Prim]]:
    """The shadow (one union) and the painted parts of one object at one position."""
    shadows, fills = [], []
    for part in obj.parts:
        px = local_to_pixel(part.poly, state.x, state.y, state.heading, gsd)
        shadows.append(_shadow_of(px, sun, part.z_lo, part.z_hi))
        if part.colour == "paint":
            col, col2 = obj.paint, obj.paint2
        elif part.colour == "accent":
            col, col2 = obj.accent, None
        elif part.colour == "light" and obj.cls == "truck":
            col, col2 = CANVAS, None
        elif part.colour == "light" and obj.cls == "fuel_truck":
            col, col2 = TANK, None
        elif part.colour == "light":
            col, col2 = np.minimum(obj.paint * np.float32(1.35) + np.float32(0.03), 0.8), None
        elif part.colour == "canopy":
            col, col2 = CANOPY, None
        else:
            col, col2 = DARK, None
        fills.append(Prim([Convex(px)], "fill", col, col2, "paint"))
    return Prim(shadows, "shadow"), fills


class DateRenderer:
    """Draws one capture date of a layout, tile by tile."""

    def __init__(self, layout: Layout, date: str, info: CaptureInfo, seed: int,
                 noise_key: Optional[int] = None) -> None:
        self.layout, self.date, self.info, self.seed = layout, date, info, seed
        # sensor noise stream: 0 before, 1 after; later dates of a series give their own number
        self.noise_key = noise_key if noise_key is not None else (0 if date == "before" else 1)
        self.gsd = layout.gsd
        self.shift = layout.shift if date == "after" else (0.0, 0.0)
        self.sun = layout.sun_vec[date]
        self.sin_el = math.sin(math.radians(info.sun_elevation))
        sun_h = -np.array(self.sun) / max(math.hypot(*self.sun), 1e-9)  # towards the sun, px space
        self.cos_el = math.cos(math.radians(info.sun_elevation))
        prims: list[Prim] = []
        for f in layout.features:
            if date not in f.dates:
                continue
            col, tex = MATERIALS[f.material]
            if f.height > 0:
                if f.arch is not None:  # a vault: its shadow starts from the ridge line
                    prims.append(Prim([_shadow_of(f.shape.pts, self.sun, 0.0, f.height * 0.85)], "shadow"))
                else:
                    prims.append(Prim([_shadow_of(f.shape.pts, self.sun, 0.0, f.height)], "shadow"))
            arch = None
            if f.arch is not None:
                (ux, uy), hw = f.arch
                c = f.shape.pts.mean(axis=0)
                arch = (c[0], c[1], ux, uy, hw, float(ux * sun_h[0] + uy * sun_h[1]) * self.cos_el, self.sin_el)
            prims.append(Prim([f.shape], "fill", np.array(col, np.float32), None, tex, arch, f.slabs))
        bodies: list[Prim] = []
        for obj in layout.objects:
            state = getattr(obj, date)
            if state is None:
                continue
            shadow, fills = object_prims(obj, state, self.sun, self.gsd)
            prims.append(shadow)
            bodies.extend(fills)
        self.prims = prims + bodies
        self.boxes = np.array([p.bbox for p in self.prims]) if self.prims else np.zeros((0, 4))
        fa = math.radians(layout.farm_angle)
        self.farm_a = (math.sin(fa), -math.cos(fa))
        self.farm_b = (math.cos(fa), math.sin(fa))

    # ------------------------------------------------------------------ ground
    def _frame_uv(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Base-frame coordinates (metres along / across the runway) of a tile's pixels."""
        fr, g = self.layout.frame, np.float32(self.gsd)
        xm = ((xs - fr.cx) * g).astype(np.float32)[None, :]
        ym = ((ys - fr.cy) * g).astype(np.float32)[:, None]
        return xm * np.float32(fr.a[0]) + ym * np.float32(fr.a[1]), xm * np.float32(fr.b[0]) + ym * np.float32(fr.b[1])

    def _terrain(self, xs: np.ndarray, ys: np.ndarray, uu: np.ndarray, vv: np.ndarray,
                 nl: np.ndarray, nm: np.ndarray, nf: np.ndarray) -> np.ndarray:
        lay = self.layout
        ext = lay.extent_m
        ulim = max(0.48 * ext, 1460.0) if lay.size_px * self.gsd > 2600 else 1e9
        farm_px = (np.abs(uu) >= ulim) | (vv <= -0.45 * ext) | (vv >= 0.47 * ext)
        img = np.empty((4,) + nl.shape, np.float32)
        if not farm_px.all():
            self._infield(img, uu, vv, nl, nm, nf, ~farm_px)
        if farm_px.any():
            self._farmland(img, xs, ys, nm, nf, farm_px)
        return img

    def _infield(self, img: np.ndarray, uu: np.ndarray, vv: np.ndarray, nl: np.ndarray, nm: np.ndarray,
                 nf: np.ndarray, base: np.ndarray) -> None:
        """Inside the base: soil of two colours, grass where the noise is high, scattered trees."""
        t_red = np.minimum(np.maximum((nl - np.float32(0.35)) * np.float32(3.3), 0), 1)
        grass_amt = np.minimum(np.maximum((np.float32(0.55) * nm + np.float32(0.45) * nl - np.float32(0.47))
                                          * np.float32(5.0), 0), 1)
        green = np.minimum(np.maximum((nl - np.float32(0.45)) * np.float32(4.0), 0), 1)
        grain = np.float32(0.88) + np.float32(0.24) * nf
        g_soil = (1 - grass_amt) * grain
        g_grass = grass_amt * grain
        for k in range(4):
            sl, sr = TERRAIN["soil_light"][k], TERRAIN["soil_red"][k]
            gd, gg = TERRAIN["grass_dry"][k], TERRAIN["grass_green"][k]
            img[k] = (np.float32(sl) + np.float32(sr - sl) * t_red) * g_soil + \
                (np.float32(gd) + np.float32(gg - gd) * green) * g_grass
        # trees and shrubs where the grass is green (NIR-bright), with their shadows
        dens = np.minimum(np.maximum((grass_amt * green - np.float32(0.2)) * np.float32(1.6), 0), 0.7)
        rows, cols = np.nonzero((dens > 0) & base)
        if len(rows):
            fr = self.layout.frame
            gx, gy = self.sun
            su = (gx * fr.a[0] + gy * fr.a[1]) * self.gsd * 5.0  # 5 m tall trees
            sv = (gx * fr.b[0] + gy * fr.b[1]) * self.gsd * 5.0
            ut, vt, dt = uu[rows, cols], vv[rows, cols], dens[rows, cols]
            cov = self._trees(ut, vt, 9.0, dt, 40)
            shade = self._trees(ut - np.float32(su), vt - np.float32(sv), 9.0, dt, 40)
            veg = img[:, rows, cols] * (1 - shade * (1 - SHADOW[:, :, 0]))
            tree = np.array(TERRAIN["tree"], np.float32)[:, None] * (0.85 + 0.3 * nf[rows, cols])
            img[:, rows, cols] = veg + (tree - veg) * cov

    def _farmland(self, img: np.ndarray, xs: np.ndarray, ys: np.ndarray, nm: np.ndarray, nf: np.ndarray,
                  farm_px: np.ndarray) -> None:
        """Outside the base: parcels in their own frame, each with one land use."""
        lay, g = self.layout, self.gsd
        full = bool(farm_px.all())
        idx = None if full else np.flatnonzero(farm_px)

        def pick(a: np.ndarray) -> np.ndarray:
            return a.ravel() if full else a.ravel()[idx]

        xm = ((xs - lay.frame.cx) * g).astype(np.float32)[None, :]
        ym = ((ys - lay.frame.cy) * g).astype(np.float32)[:, None]
        pp = pick(xm * np.float32(self.farm_a[0]) + ym * np.float32(self.farm_a[1]))
        qq = pick(xm * np.float32(self.farm_b[0]) + ym * np.float32(self.farm_b[1]))
        nmv, nfv = pick(nm), pick(nf)
        qw = np.float32(70.0)
        iq = np.floor(qq / qw).astype(np.int64)
        pw = np.float32(45.0) + np.float32(60.0) * hash01(iq, 7, self.seed + 11)
        offs = np.float32(200.0) * hash01(iq, 3, self.seed + 12)
        ip = np.floor((pp + offs) / pw).astype(np.int64)
        # land-use shares: ploughed, crop, orchard, greenhouses, fallow, young crop
        kind = np.searchsorted(np.array([0.25, 0.5, 0.7, 0.76, 0.9], np.float32),
                               hash01(ip, iq, self.seed + 13), side="right").astype(np.int32)
        fp = (pp + offs) / pw - ip
        fq = qq / qw - iq
        edge = np.minimum(np.minimum(fp, 1 - fp) * pw, np.minimum(fq, 1 - fq) * qw)
        tone = np.float32(0.85) + np.float32(0.3) * hash01(ip, iq, self.seed + 14)
        # 0 ploughed, 1 crop, 2 orchard, 3 greenhouses, 4 fallow grass, 5 young crop in rows
        lut = np.array([TERRAIN[k] for k in ("ploughed", "crop", "grass_dry", "soil_light", "grass_dry", "crop")],
                       np.float32).T
        farm = lut[:, kind] * np.where(kind == 0, np.float32(0.9) + np.float32(0.2) * nmv, tone)
        sub = np.flatnonzero(kind == 5)
        if sub.size:
            sub = sub[np.sin(pp[sub] * np.float32(2 * math.pi / 3.0)) > 0]
            farm[:, sub] = np.array(TERRAIN["soil_red"], np.float32)[:, None]
        sub = np.flatnonzero(kind == 3)  # greenhouses: long plastic tunnels with soil between them
        if sub.size:
            qm = qq[sub] % np.float32(9.0)
            tunnel = (qm < 7.0) & (edge[sub] > 3)
            plastic = np.array(TERRAIN["plastic"], np.float32)[:, None] * \
                (0.9 + 0.15 * np.cos(qm / 7.0 * math.pi - math.pi / 2)).astype(np.float32)
            farm[:, sub] = np.where(tunnel[None], plastic, farm[:, sub])
        sub = np.flatnonzero(kind == 2)  # orchards: trees on a jittered grid, with their shadows
        if sub.size:
            sun = self.sun
            sp = (sun[0] * self.farm_a[0] + sun[1] * self.farm_a[1]) * g
            sq = (sun[0] * self.farm_b[0] + sun[1] * self.farm_b[1]) * g
            ps, qs = pp[sub], qq[sub]
            cov = self._trees(ps, qs)
            shade = self._trees(ps - np.float32(sp * 4.0), qs - np.float32(sq * 4.0))
            ground = farm[:, sub] * (1 - shade * (1 - SHADOW[:, :, 0]))
            tree = np.array(TERRAIN["tree"], np.float32)[:, None] * (0.85 + 0.3 * nfv[sub])
            farm[:, sub] = ground + (tree - ground) * cov
        sub = np.flatnonzero(edge < 1.5)
        farm[:, sub] = np.array(MATERIALS["track"][0], np.float32)[:, None]
        farm *= np.float32(0.84) + np.float32(0.14) * nfv + np.float32(0.16) * nmv
        if full:
            img[:] = farm.reshape(img.shape)
        else:
            img.reshape(4, -1)[:, idx] = farm

    def _trees(self, pp: np.ndarray, qq: np.ndarray, cell: float = 7.0, density: np.ndarray | None = None,
               salt: int = 20) -> np.ndarray:
        """Tree-crown coverage (1, n) of points (metres) on a jittered grid; `density` thins it."""
        cell = np.float32(cell)
        ip, iq = np.floor(pp / cell).astype(np.int64), np.floor(qq / cell).astype(np.int64)
        cp = (ip + 0.5 + 0.3 * (hash01(ip, iq, self.seed + salt + 1) - 0.5)) * cell
        cq = (iq + 0.5 + 0.3 * (hash01(ip, iq, self.seed + salt + 2) - 0.5)) * cell
        r = 1.4 + 1.0 * hash01(ip, iq, self.seed + salt + 3)
        cov = np.clip((r - np.hypot(pp - cp, qq - cq)) / self.gsd + 0.5, 0, 1)
        if density is not None:
            cov = np.where(hash01(ip, iq, self.seed + salt + 4) < density, cov, 0)
        return cov[None].astype(np.float32)

    # ------------------------------------------------------------------ drawing
    def _slabs(self, uu: np.ndarray, vv: np.ndarray) -> np.ndarray:
        """Concrete slabs (5 m) with darker joints and a per-slab tone."""
        u, v = uu / np.float32(5.0), vv / np.float32(5.0)
        iu, iv = np.floor(u), np.floor(v)
        slab = np.float32(0.97) + np.float32(0.06) * hash01(iu.astype(np.int64), iv.astype(np.int64), self.seed + 31)
        fu, fv = u - iu, v - iv
        j = np.minimum(np.minimum(fu, 1 - fu), np.minimum(fv, 1 - fv)) * np.float32(5.0 / self.gsd)
        return slab * (np.minimum(j, 1) * np.float32(0.06) + np.float32(0.94))

    def ground_reflectance(self, r0: int, c0: int, h: int, w: int) -> np.ndarray:
        """Scene reflectance (4, h, w) of a tile of this date's image (before the sensor)."""
        dx, dy = self.shift
        xs = (c0 + np.arange(w) + 0.5 - dx).astype(np.float64)
        ys = (r0 + np.arange(h) + 0.5 - dy).astype(np.float64)
        s = self.seed
        nl = fbm(xs, ys, 420.0, 3, s + 1)
        nm = fbm(xs, ys, 36.0, 3, s + 2)
        nf = value_noise(xs, ys, 1.6, s + 3)
        uu, vv = self._frame_uv(xs, ys)
        img = self._terrain(xs, ys, uu, vv, nl, nm, nf)
        xs32, ys32 = xs.astype(np.float32), ys.astype(np.float32)
        b = self.boxes
        hit = np.nonzero((b[:, 0] <= xs[-1] + 1) & (b[:, 2] >= xs[0] - 1) &
                         (b[:, 1] <= ys[-1] + 1) & (b[:, 3] >= ys[0] - 1))[0] if len(b) else []
        slabs = None
        for i in hit:
            p = self.prims[i]
            x0, y0, x1, y1 = p.bbox
            ca = max(0, int(math.floor(x0 - xs[0])) - 1)
            cb = min(w, int(math.ceil(x1 - xs[0])) + 2)
            ra = max(0, int(math.floor(y0 - ys[0])) - 1)
            rb = min(h, int(math.ceil(y1 - ys[0])) + 2)
            if ca >= cb or ra >= rb:
                continue
            wx, wy = xs32[ca:cb], ys32[ra:rb]
            cov = p.shapes[0].coverage(wx, wy)
            for sh in p.shapes[1:]:
                cov = np.maximum(cov, sh.coverage(wx, wy))
            if not cov.any():
                continue
            win = img[:, ra:rb, ca:cb]
            if p.kind == "shadow":
                win *= 1 - cov[None] * (1 - SHADOW)
                continue
            col = _col(p.colour)
            if p.colour2 is not None:
                camo = (nm[ra:rb, ca:cb] > 0.5)[None]
                col = np.where(camo, _col(p.colour2), col)
            if p.texture == "concrete":
                col = col * (0.93 + 0.1 * nm[ra:rb, ca:cb] + 0.08 * (nf[ra:rb, ca:cb] - 0.5))[None]
            elif p.texture == "asphalt":
                col = col * (0.88 + 0.2 * nm[ra:rb, ca:cb] + 0.25 * (nf[ra:rb, ca:cb] - 0.5))[None]
            elif p.texture == "roof":
                col = col * (0.97 + 0.06 * nm[ra:rb, ca:cb])[None]
            elif p.texture == "paint":
                col = col * (0.97 + 0.06 * nf[ra:rb, ca:cb])[None]
            if p.slabs:
                if slabs is None:
                    slabs = self._slabs(uu, vv)
                col = col * slabs[None, ra:rb, ca:cb]
            if p.arch is not None:
                cx, cy, ux, uy, hw, sdot, sel = p.arch
                t = np.clip(((wx - cx) * ux)[None, :] + ((wy - cy) * uy)[:, None], -hw, hw) / hw
                lam = np.maximum(0.0, t * sdot + np.sqrt(1 - t * t) * sel)
                col = col * ((0.35 + 0.65 * lam / sel) / 1.0)[None].astype(np.float32)
            win += cov[None] * (col - win)
        return img

    def cloud_alpha(self, r0: int, c0: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        """Cloud opacity and cloud-shadow strength (h, w) on this date's image pixels."""
        cl = self.layout.cloud
        if self.date != "after" or cl is None:
            z = np.zeros((h, w), np.float32)
            return z, z
        xs = (c0 + np.arange(w) + 0.5).astype(np.float64)
        ys = (r0 + np.arange(h) + 0.5).astype(np.float64)

        def blob(cx: float, cy: float) -> np.ndarray:
            out = np.zeros((h, w), np.float32)
            r = 1.4 * cl.radius
            ca, cb = max(0, int(cx - r - xs[0])), min(w, int(cx + r - xs[0]) + 2)
            ra, rb = max(0, int(cy - r - ys[0])), min(h, int(cy + r - ys[0]) + 2)
            if ca >= cb or ra >= rb:
                return out
            wx, wy = xs[ca:cb], ys[ra:rb]
            n = fbm(wx - cx, wy - cy, max(cl.radius / 2.5, 3.0), 4, self.seed + 41)
            d = np.hypot((wx - cx)[None, :], (wy - cy)[:, None]) / cl.radius
            a = np.clip((1.0 - d + 0.9 * (n - 0.5)) * 1.6, 0, 1)
            out[ra:rb, ca:cb] = a * a * (3 - 2 * a)
            return out

        a = blob(cl.x, cl.y) * np.float32(0.92)
        sh = blob(cl.x + cl.shadow_dx, cl.y + cl.shadow_dy) * np.float32(0.6)
        return a, sh

    def render(self, r0: int, c0: int, h: int, w: int) -> np.ndarray:
        """uint16 DN (4, h, w) of one tile: scene, illumination, haze, cloud, noise."""
        refl = self.ground_reflectance(r0, c0, h, w)
        info = self.info
        a, sh = self.cloud_alpha(r0, c0, h, w)
        if sh.any():
            refl *= 1 - sh[None] * (1 - SHADOW)
        if info.haze > 0:
            xs = (c0 + np.arange(w) + 0.5).astype(np.float64)
            ys = (r0 + np.arange(h) + 0.5).astype(np.float64)
            hz = np.float32(info.haze) * (0.55 + 0.45 * fbm(xs, ys, 900.0, 2, self.seed + 51))[None]
            refl = refl * (1 - 0.35 * hz) + HAZE_COLOUR * hz * 2.0
        if a.any():
            cn = fbm((c0 + np.arange(w) + 0.5).astype(np.float64), (r0 + np.arange(h) + 0.5).astype(np.float64),
                     6.0, 2, self.seed + 61)
            refl = refl + a[None] * (CLOUD_COLOUR * (0.85 + 0.25 * cn)[None] - refl)
        gains = _col(info.gains) * np.float32(DN_SCALE)
        dn = refl * gains + _col(info.offsets)
        rng = np.random.default_rng([self.seed, self.noise_key, r0, c0])
        noise = rng.standard_normal(dn.shape, dtype=np.float32)
        dn += noise * np.sqrt(np.float32(9.0) + np.float32(0.35) * dn)
        return np.clip(np.rint(dn), 1, 65535).astype(np.uint16)


def change_prims(layout: Layout) -> list[Prim]:
    """Shapes whose union is the real change, on the ground (before) grid."""
    prims: list[Prim] = []
    for obj in layout.objects:
        ev_b = obj.event("before") if obj.before else None
        if ev_b in ("departed", "moved"):
            sh, fills = object_prims(obj, obj.before, layout.sun_vec["before"], layout.gsd)
            prims.append(Prim(sh.shapes + [f.shapes[0] for f in fills], "fill"))
        if obj.after is not None and obj.event("after") in ("arrived", "moved"):
            sh, fills = object_prims(obj, obj.after, layout.sun_vec["after"], layout.gsd)
            prims.append(Prim(sh.shapes + [f.shapes[0] for f in fills], "fill"))
    ns = layout.new_structure
    if ns is not None:
        prims.append(Prim([ns.shape, _shadow_of(ns.shape.pts, layout.sun_vec["after"], 0.0, ns.height)], "fill"))
    return prims


def render_mask(prims: list[Prim], r0: int, c0: int, h: int, w: int, threshold: float = 0.5) -> np.ndarray:
    """Byte mask (h, w) of a tile: 1 where any prim covers at least `threshold` of a pixel."""
    xs = (c0 + np.arange(w) + 0.5).astype(np.float32)
    ys = (r0 + np.arange(h) + 0.5).astype(np.float32)
    out = np.zeros((h, w), np.uint8)
    for p in prims:
        x0, y0, x1, y1 = p.bbox
        ca, cb = max(0, int(math.floor(x0 - xs[0])) - 1), min(w, int(math.ceil(x1 - xs[0])) + 2)
        ra, rb = max(0, int(math.floor(y0 - ys[0])) - 1), min(h, int(math.ceil(y1 - ys[0])) + 2)
        if ca >= cb or ra >= rb:
            continue
        for s in p.shapes:
            out[ra:rb, ca:cb] |= (s.coverage(xs[ca:cb], ys[ra:rb]) >= threshold).astype(np.uint8)
    return out
