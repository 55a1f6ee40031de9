"""Earlier captures of the sample site with every object reviewed: the site's own examples.

    refs = generate_reference_captures(out_dir, size_px=4096, seed=7)   # REFERENCE_CAPTURES of them
    refs[0].raster, refs[0].truth     # reference_1.tif (+ .IMD), truth_reference_1.geojson

The same airfield (runways, buildings, shelters, the air-defence site's berms) three, six and nine
weeks before date 1 and in the same weeks a year earlier, each under its own sun and sensor, with
its own population drawn afresh: other airframes, vehicles and air-defence equipment at other spots
and headings (fixed emplacements, the launchers' berms and the shelter fronts, are used again, as
on a real base). Launchers come and go between captures: each reference leaves some berms empty and
every other one has no engagement radar, so the history shows empty emplacements as well as
occupied ones. It stands for an analyst's reviewed history of the site: `make demo` trains the
learned engine on it and then analyses dates 1 and 2, which it never saw; capture
REFERENCE_CAPTURES + 1 (58 weeks before) is kept out of its training to choose the score threshold.
Needs the two-date site in out_dir (same size, seed).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..core.equipment.catalogue import load_catalogue
from ..core.errors import InputError
from ..core.progress import Progress
from .capture import CaptureInfo, sun_position, write_imd
from .layout import RUNWAY_HEADING, Layout, LayoutBuilder, sun_shadow_vector
from .series import _counts, _render, _truth_features, site_frame
from .site import CENTRE_LAT, CENTRE_LON, _bounds_ll, _collection, _shift, load_sample_site

REFERENCE_CAPTURES = 5  # the reviewed history: this many earlier captures
# the recent captures, every three weeks before date 1, then the same weeks a year earlier: a
# history of autumn only showed the objects under a higher sun than December's (shorter shadows),
# and the detector trained on it found date 2's Pantsirs, long shadows beside them, off their
# centres or took them for trucks
RECENT_CAPTURES = 3
WEEKS_APART = 3
YEAR_WEEKS = 52


def weeks_before(k: int) -> int:
    """How many weeks reference capture k (1-based) lies before date 1: 3, 6, 9, then 52, 55, 58."""
    if k <= RECENT_CAPTURES:
        return WEEKS_APART * k
    return YEAR_WEEKS + WEEKS_APART * (k - RECENT_CAPTURES - 1)


def _names(k: int) -> tuple[str, str, str]:
    return f"reference_{k}.tif", f"truth_reference_{k}.geojson", f"reference_{k}.IMD"


@dataclass
class ReferenceCapture:
    raster: Path
    truth: Path
    date: str  # ISO date
    counts: dict[str, int]  # category label -> objects


def _reference_info(seed: int, k: int, before: CaptureInfo) -> CaptureInfo:
    rng = np.random.default_rng([seed, 6060, k])
    when = before.when - timedelta(weeks=weeks_before(k), minutes=float(rng.uniform(-50, 50)))
    gains = tuple(round(float(g), 3) for g in rng.uniform(0.93, 1.07, 4))
    offsets = tuple(int(o) for o in rng.integers(50, 120, 4))
    az, el = sun_position(when, CENTRE_LAT, CENTRE_LON)
    cat = f"10400100{int(rng.integers(0x10000000, 0xFFFFFFFF)):08X}"
    return CaptureInfo(f"reference{k}", when, "WV02" if k % 2 else "WV03", cat, 0.0, az, el, float(rng.uniform(8, 25)), gains, offsets,
                       round(float(rng.uniform(0.05, 0.25)), 3))


def _vary_air_defence(builder: LayoutBuilder, rng: np.random.Generator, radar: bool) -> None:
    """At least half of the berms keep their launcher and at least one is empty; the engagement
    radar stays only when `radar`."""
    launchers = [o for o in builder.ad_objects if o.cls == "s400_launcher"]
    n = len(launchers)
    keep = int(rng.integers(max(1, n // 2), max(1, n - 1) + 1))
    gone = {launchers[i].oid for i in rng.permutation(n)[keep:]}
    if not radar:
        gone |= {o.oid for o in builder.ad_objects if o.cls == "s400_radar"}
    builder.objects = [o for o in builder.objects if o.oid not in gone]
    builder.ad_objects = [o for o in builder.ad_objects if o.oid not in gone]


def load_reference_capture(out_dir: Union[str, Path], k: int = 1) -> Optional[ReferenceCapture]:
    """Reference capture k (1-based) already in out_dir, or None."""
    out = Path(out_dir)
    raster, truth = out / _names(k)[0], out / _names(k)[1]
    if not raster.exists() or not truth.exists():
        return None
    feats = json.loads(truth.read_text(encoding="utf-8"))["features"]
    date = feats[0]["properties"]["date"] if feats else ""
    return ReferenceCapture(raster, truth, date, _counts(feats, "category"))


def generate_reference_captures(out_dir: Union[str, Path], size_px: int, seed: int,
                                n: int = REFERENCE_CAPTURES,
                                progress: Optional[Progress] = None) -> list[ReferenceCapture]:
    """Write reference captures 1..n beside the two-date site in out_dir (those already there are
    kept: generation is deterministic)."""
    progress = progress or Progress()
    return [generate_reference_capture(out_dir, size_px, seed, k, progress.stage((k - 1) / n, k / n))
            for k in range(1, n + 1)]


def generate_reference_capture(out_dir: Union[str, Path], size_px: int, seed: int, k: int = 1,
                               progress: Optional[Progress] = None) -> ReferenceCapture:
    """Write reference capture k (reference_k.tif, truth_reference_k.geojson) beside the two-date
    site in out_dir (kept when already there with the date this version gives it; one of another
    date, from an earlier version, is drawn again)."""
    out = Path(out_dir)
    site = load_sample_site(out)
    if site.size_px != size_px or site.manifest.get("seed") != seed:
        raise InputError(f"The sample site in {out} is not {size_px} px with seed {seed}; generate it first.")
    gt, wkt, caps, sun_vec = site_frame(site, seed)
    cap = _reference_info(seed, k, caps["before"])
    existing = load_reference_capture(out, k)
    if existing is not None and existing.date == cap.day:
        return existing
    progress = progress or Progress()
    # the airfield as the series draws it (same builder stream up to the infrastructure) ...
    builder = LayoutBuilder(size_px, site.gsd_m, seed, load_catalogue(), sun_vec, _shift(seed))
    builder.infrastructure()
    # ... then a population of its own
    builder.rng = np.random.default_rng([seed, 6161, k])
    builder.equipment()
    _vary_air_defence(builder, np.random.default_rng([seed, 6262, k]), radar=k % 2 == 1)
    sun = sun_shadow_vector(cap.sun_azimuth, cap.sun_elevation, site.gsd_m)
    cu, cv, rad = builder.ad_centre
    c = builder.frame.px(cu, cv)
    layout = Layout(size_px, site.gsd_m, builder.ext, builder.frame, builder.features,
                    [o for o in builder.objects if o.before is not None], (float(c[0]), float(c[1]), rad / site.gsd_m),
                    None, None, {**sun_vec, "before": sun}, (0.0, 0.0), farm_angle=RUNWAY_HEADING + 13.0,
                    zones=list(builder.zones.values()))
    from .render import DateRenderer

    renderer = DateRenderer(layout, "before", cap, seed, noise_key=100 + k)
    raster_name, truth_name, imd_name = _names(k)
    _render(out / raster_name, renderer, size_px, gt, wkt, progress.stage(0.0, 0.95))
    write_imd(out / imd_name, cap, f"SAMPLE-{seed:04d}-REFERENCE{k}", _bounds_ll(gt, size_px), size_px)
    states = {o.oid: o.before for o in layout.objects}
    feats = _truth_features(layout.objects, states, states, gt, (0.0, 0.0), cap, wkt)
    for f in feats:
        f["properties"]["event"] = "reviewed"
    part = out / (truth_name + ".part")
    part.write_text(json.dumps(_collection(f"truth_reference_{k}", feats)), encoding="utf-8")
    part.replace(out / truth_name)
    progress.report(1.0, f"Reference capture {k} ready")
    return load_reference_capture(out, k)
