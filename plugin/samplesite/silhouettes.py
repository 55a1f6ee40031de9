"""Plan-view silhouettes of equipment, built to fill exactly their catalogue box.

Each part is a convex polygon in local metres: column 0 along the object (nose or cab
positive), column 1 across (to the right of the nose). Every part lies inside
[-lng/2, lng/2] x [-wid/2, wid/2], with the extreme points (nose, tail, wing tips, bumpers)
on the box edges, so the drawn object matches its ground-truth box.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

TRANSPORTS = {"il76", "an124", "an26", "an30", "il20", "a50"}
TWIN_FIN_FIGHTERS = {"su34", "su35", "su25", "mig29"}
SINGLE_FIN_JETS = {"su24", "tu22m3"}
HELICOPTERS = {"ka52", "mi8", "mi24", "mi28"}


@dataclass
class Part:
    poly: np.ndarray  # (n, 2) local metres: along, across
    colour: str = "paint"  # paint | accent | dark | light | canopy
    z_lo: float = 0.0  # heights (m) of the part's bottom and top, for its shadow
    z_hi: float = 1.0


def _mirror(poly: np.ndarray) -> np.ndarray:
    return poly * np.array([1.0, -1.0])


def _rect(a0: float, a1: float, b0: float, b1: float) -> np.ndarray:
    return np.array([[a1, b0], [a1, b1], [a0, b1], [a0, b0]], dtype=float)


def _disc(a: float, b: float, r: float, n: int = 12) -> np.ndarray:
    t = np.arange(n) * 2 * math.pi / n
    return np.stack([a + r * np.cos(t), b + r * np.sin(t)], axis=1)


def _bar(a: float, b: float, angle: float, length: float, width: float, r0: float = 0.0) -> np.ndarray:
    """A thin bar from radius r0 to `length` at `angle` (radians from the along axis)."""
    ca, sa = math.cos(angle), math.sin(angle)
    pa, pb = -sa * width / 2, ca * width / 2
    p0 = (a + ca * r0, b + sa * r0)
    p1 = (a + ca * length, b + sa * length)
    return np.array([[p0[0] + pa, p0[1] + pb], [p1[0] + pa, p1[1] + pb],
                     [p1[0] - pa, p1[1] - pb], [p0[0] - pa, p0[1] - pb]])


def transport(lng: float, wid: float) -> list[Part]:
    r = 0.047 * wid  # fuselage radius
    top = 0.13 * lng
    fus = np.array([[lng / 2, 0], [lng / 2 - 0.6 * r, 0.75 * r], [lng / 2 - 2.2 * r, r], [-lng / 2 + 0.22 * lng, r],
                    [-lng / 2, 0.3 * r], [-lng / 2, -0.3 * r], [-lng / 2 + 0.22 * lng, -r], [lng / 2 - 2.2 * r, -r],
                    [lng / 2 - 0.6 * r, -0.75 * r]])
    sweep = math.tan(math.radians(25))
    le_root, c_root, c_tip = 0.10 * lng, 0.17 * lng, 0.065 * lng
    le_tip = le_root - sweep * (wid / 2 - r) * 0.9
    wing = np.array([[le_root, r * 0.5], [le_tip, wid / 2], [le_tip - c_tip, wid / 2], [le_root - c_root, r * 0.5]])
    parts = [Part(fus, "paint", 1.2, top)]
    for w in (wing, _mirror(wing)):
        parts.append(Part(w, "paint", top - 1.0, top))
    # four engines hanging ahead of the leading edge
    for frac in (0.22, 0.40):
        b = frac * wid
        le = le_root - sweep * (b - r) * 0.9
        eng = _rect(le - 0.05 * lng, le + 0.045 * lng, b - 0.018 * wid, b + 0.018 * wid)
        for e in (eng, _mirror(eng)):
            parts.append(Part(e, "accent", top - 3.0, top - 1.0))
    # T-tail: fin seen edge-on, tailplane on top of it
    fin_top = 0.30 * lng
    parts.append(Part(_rect(-lng / 2 + 0.02 * lng, -lng / 2 + 0.2 * lng, -0.25, 0.25), "accent", top, fin_top))
    t_sweep = math.tan(math.radians(30))
    tle = -lng / 2 + 0.17 * lng
    span = 0.17 * wid
    tail = np.array([[tle, 0], [tle - t_sweep * span, span], [tle - t_sweep * span - 0.04 * lng, span],
                     [tle - 0.11 * lng, 0]])
    for t in (tail, _mirror(tail)):
        parts.append(Part(t, "paint", fin_top - 0.5, fin_top))
    return parts


def jet(lng: float, wid: float, twin_fin: bool, canards: bool = False) -> list[Part]:
    body = 0.12 * wid
    nose = np.array([[lng / 2, 0], [0.36 * lng, 0.045 * wid], [0.18 * lng, 0.07 * wid], [0.18 * lng, -0.07 * wid],
                     [0.36 * lng, -0.045 * wid]])
    centre = np.array([[0.2 * lng, 0.07 * wid], [0.05 * lng, body], [-0.44 * lng, body], [-lng / 2, 0.08 * wid],
                       [-lng / 2, -0.08 * wid], [-0.44 * lng, -body], [0.05 * lng, -body], [0.2 * lng, -0.07 * wid]])
    parts = [Part(nose, "paint", 1.0, 3.0), Part(centre, "paint", 1.0, 3.2)]
    lerx = np.array([[0.2 * lng, 0.07 * wid], [0.02 * lng, body + 0.06 * wid], [0.02 * lng, body * 0.6]])
    sweep = math.tan(math.radians(42))
    le_root = 0.05 * lng
    le_tip = le_root - sweep * (wid / 2 - body)
    le_tip = max(le_tip, -0.3 * lng)
    wing = np.array([[le_root, body * 0.8], [le_tip, wid / 2], [le_tip - 0.07 * lng, wid / 2], [-0.3 * lng, body * 0.8]])
    tail = np.array([[-0.3 * lng, body * 0.8], [-0.43 * lng, 0.33 * wid], [-0.47 * lng, 0.33 * wid], [-0.47 * lng, body * 0.8]])
    for shape in (lerx, wing, tail):
        for s in (shape, _mirror(shape)):
            parts.append(Part(s, "paint", 1.8, 2.4))
    if canards:
        can = np.array([[0.24 * lng, 0.07 * wid], [0.19 * lng, 0.2 * wid], [0.17 * lng, 0.2 * wid], [0.16 * lng, 0.07 * wid]])
        parts += [Part(can, "paint", 2.0, 2.4), Part(_mirror(can), "paint", 2.0, 2.4)]
    parts.append(Part(_rect(0.22 * lng, 0.33 * lng, -0.03 * wid, 0.03 * wid), "canopy", 2.5, 3.3))
    fins = [0.09 * wid, -0.09 * wid] if twin_fin else [0.0]
    for b in fins:
        parts.append(Part(_rect(-0.45 * lng, -0.26 * lng, b - 0.2, b + 0.2), "accent", 3.0, 5.9))
    return parts


def helicopter(lng: float, wid: float, blades: int, blade_angle: float, stub_wings: bool, wide_cab: bool) -> list[Part]:
    rad = wid / 2
    hub = 0.08 * lng
    cab = 0.09 * lng if wide_cab else 0.075 * lng
    body = np.array([[lng / 2, 0], [0.45 * lng, cab], [-0.08 * lng, cab], [-0.14 * lng, 0.035 * lng],
                     [-0.14 * lng, -0.035 * lng], [-0.08 * lng, -cab], [0.45 * lng, -cab]])
    boom = _rect(-lng / 2, -0.12 * lng, -0.02 * lng, 0.02 * lng)
    fin = _rect(-lng / 2, -0.43 * lng, -0.05 * lng, 0.05 * lng)
    parts = [Part(body, "paint", 0.6, 3.2), Part(boom, "paint", 1.5, 2.5), Part(fin, "accent", 1.5, 3.8)]
    if stub_wings:
        wing = _rect(-0.06 * lng, 0.04 * lng, cab, 0.19 * wid)
        parts += [Part(wing, "paint", 1.6, 2.0), Part(_mirror(wing), "paint", 1.6, 2.0)]
    parts.append(Part(_rect(0.3 * lng, 0.46 * lng, -0.6 * cab, 0.6 * cab), "canopy", 2.5, 3.2))
    z_rotor = 3.6 + 0.05 * lng
    for k in range(blades):
        ang = blade_angle + k * 2 * math.pi / blades
        ca = math.cos(ang)
        reach = rad
        if ca > 1e-6:
            reach = min(reach, (lng / 2 - hub) / ca)
        elif ca < -1e-6:
            reach = min(reach, (lng / 2 + hub) / -ca)
        reach = min(reach, (wid / 2) / max(abs(math.sin(ang)), 1e-6))
        parts.append(Part(_bar(hub, 0.0, ang, reach - 0.05, 0.55, 0.3), "dark", z_rotor, z_rotor + 0.2))
    parts.append(Part(_disc(hub, 0.0, 0.6), "dark", z_rotor, z_rotor + 0.5))
    return parts


def vehicle(kind: str, lng: float, wid: float) -> list[Part]:
    cab_len = min(2.5, 0.25 * lng)
    cab = _rect(lng / 2 - cab_len, lng / 2, -wid / 2 + 0.1, wid / 2 - 0.1)
    rear = (-lng / 2, lng / 2 - cab_len - 0.3)
    if kind == "car":
        return [Part(_rect(-lng / 2, lng / 2, -wid / 2, wid / 2), "paint", 0.2, 1.5),
                Part(_rect(-0.2 * lng, 0.2 * lng, -wid / 2 + 0.2, wid / 2 - 0.2), "canopy", 1.3, 1.5)]
    parts = [Part(cab, "accent", 0.5, 3.0)]
    if kind == "fuel_truck":
        parts.append(Part(_rect(rear[0], rear[1], -wid / 2, wid / 2), "light", 0.8, 3.0))
        parts.append(Part(_rect(rear[0], rear[1], -0.12 * wid, 0.12 * wid), "paint", 0.8, 3.1))
    elif kind == "s400_launcher":
        parts.append(Part(_rect(rear[0], rear[1], -wid / 2, wid / 2), "paint", 0.8, 3.2))
        for b in (-0.25 * wid, 0.25 * wid):  # two pairs of canisters lying along the chassis
            parts.append(Part(_rect(rear[0], rear[1] - 0.3, b - 0.2 * wid, b + 0.2 * wid), "accent", 2.8, 3.8))
    elif kind == "s400_radar":
        parts.append(Part(_rect(rear[0], rear[1], -wid / 2, wid / 2), "paint", 0.8, 3.0))
        parts.append(Part(_rect(rear[0] + 0.5, rear[0] + 0.5 + 0.45 * lng, -wid / 2, wid / 2), "light", 3.0, 4.5))
    elif kind == "pantsir":
        parts.append(Part(_rect(rear[0], rear[1], -wid / 2, wid / 2), "paint", 0.8, 3.0))
        parts.append(Part(_disc(-0.15 * lng, 0.0, 0.42 * wid), "light", 3.0, 4.5))
        parts.append(Part(_rect(-0.15 * lng, -0.15 * lng + 0.3 * lng, -0.05 * wid, 0.05 * wid), "dark", 4.0, 4.3))
    else:  # truck with a canvas cargo body
        parts.append(Part(_rect(rear[0], rear[1], -wid / 2, wid / 2), "light", 0.8, 3.2))
    return parts


def parts_for(class_id: str, lng: float, wid: float, rng_angle: float) -> list[Part]:
    """Silhouette parts for a catalogue class (rng_angle: parked rotor blade angle)."""
    if class_id in TRANSPORTS:
        return transport(lng, wid)
    if class_id in TWIN_FIN_FIGHTERS:
        return jet(lng, wid, twin_fin=True, canards=class_id == "su34")
    if class_id in SINGLE_FIN_JETS:
        return jet(lng, wid, twin_fin=False)
    if class_id in HELICOPTERS:
        blades = 3 if class_id == "ka52" else 5
        parts = helicopter(lng, wid, blades, rng_angle, stub_wings=class_id in ("mi24", "ka52", "mi28"),
                           wide_cab=class_id == "ka52")
        if class_id == "ka52":  # coaxial: a second blade set offset by 60 degrees
            parts += helicopter(lng, wid, 3, rng_angle + math.pi / 3, False, True)[-4:]
        return parts
    return vehicle(class_id, lng, wid)


def height_of(parts: list[Part]) -> float:
    return max(p.z_hi for p in parts)
