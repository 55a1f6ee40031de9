"""The sample site over N capture dates, with the ground truth of every date.

    series = generate_site_series(out_dir, n_dates=5, size_px=1024, seed=7)
    series = load_site_series(out_dir)        # re-open from out_dir/series.json

Dates 1 and 2 are the two-date sample site exactly as `generate_sample_site` writes it
(before.tif, after.tif, truth_before/after.geojson: same pixels for the same seed and size).
Dates 3..N continue its story, every 5 days: more heavy transports arrive (as long as the
aprons have room), a helicopter is dismantled on date 3, from date 4 a vehicle convoy and a
few fighters leave. The launchers were packed up between dates 1 and 2 (the emptied
air-defence site). Files per later date k: capture_k.tif (+ .IMD sidecar) and
truth_k.geojson; series.json lists every capture with its date, file, truth and counts per
class and per category, and the events between consecutive dates.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Optional, Union

import numpy as np
from osgeo import gdal, osr

from ..core.equipment.catalogue import load_catalogue
from ..core.equipment.detection import Detection
from ..core.errors import InputError
from ..core.progress import Progress
from .capture import CaptureInfo, sun_position, write_imd
from .layout import (
    Layout, LayoutBuilder, ObjState, SceneObject, _Occupancy, build_layout_and_builder, sun_shadow_vector,
)
from .render import DateRenderer
from .shapes import local_to_pixel
from .site import (
    CENTRE_LAT, CENTRE_LON, CRS_EPSG, SITE_NAME, TILE, SampleSite, _bounds_ll, _captures, _collection, _create,
    _feature, _shift, describe_capture, generate_sample_site, load_sample_site, read_manifest,
)

SERIES_MANIFEST = "series.json"
DAYS_BETWEEN = 5
STORY = (
    "date 1 -> 2: the air-defence launchers are packed up; two heavy transports arrive; some objects move",
    "date 2 -> 3: one more heavy transport arrives; a helicopter is dismantled; fighters start to leave",
    "date 3 -> 4 and later: a transport arrives on each date while the aprons have room; fighters and a vehicle "
    "convoy leave",
)


@dataclass
class SeriesCapture:
    index: int  # 1-based date number
    when: datetime
    raster: Path
    truth: Path
    counts: dict[str, int]  # category label -> number of objects on this date
    class_counts: dict[str, int]  # class id -> number of objects


@dataclass
class SiteSeries:
    root: Path
    site: SampleSite  # dates 1 and 2
    captures: list[SeriesCapture]
    events: list[dict] = field(default_factory=list)  # date_from, date_to, category, arrived, departed
    story: tuple = STORY

    @property
    def rasters(self) -> list[Path]:
        return [c.raster for c in self.captures]


def _later_capture(seed: int, k: int, after: CaptureInfo) -> CaptureInfo:
    rng = np.random.default_rng([seed, 2323, k])
    when = after.when + timedelta(days=DAYS_BETWEEN * (k - 2), minutes=float(rng.uniform(-40, 40)))
    sat = "WV03" if k % 2 else "WV02"
    gains = tuple(round(float(g), 3) for g in rng.uniform(0.93, 1.07, 4))
    offsets = tuple(int(o) for o in rng.integers(50, 120, 4))
    az, el = sun_position(when, CENTRE_LAT, CENTRE_LON)
    cat = f"10{'3' if sat == 'WV03' else '4'}00100{int(rng.integers(0x10000000, 0xFFFFFFFF)):08X}"
    return CaptureInfo(f"date{k}", when, sat, cat, 0.0, az, el, float(rng.uniform(8, 25)), gains, offsets,
                       round(float(rng.uniform(0.0, 0.2)), 3))


def _later_shift(seed: int, k: int) -> tuple[float, float]:
    rng = np.random.default_rng([seed, 1717, k])
    return tuple(round(float(rng.choice([-1, 1]) * rng.uniform(0.5, 3.0)), 2) for _ in range(2))


def _category(obj: SceneObject) -> str:
    return load_catalogue().category_label(obj.cls)


def _occupancy(builder: LayoutBuilder, states: dict[int, Optional[ObjState]]) -> _Occupancy:
    """Keep-out areas of the objects present in `states` (a spot left by a departed object is free)."""
    occ = _Occupancy()
    for o in builder.objects:
        st = states.get(o.oid)
        if st is not None:
            half = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]]) * [o.length_m / 2, o.width_m / 2]
            box = local_to_pixel(half, st.x, st.y, st.heading, builder.gsd)
            occ.add(builder._keepout(box, o.height, 2.5 / builder.gsd))
    return occ


def _next_states(builder: LayoutBuilder, prev: dict[int, Optional[ObjState]], k: int,
                 rng: np.random.Generator) -> dict[int, Optional[ObjState]]:
    """Object states on date k (>= 3) from those of date k - 1: the series' story."""
    states = dict(prev)
    present = [o for o in builder.objects if states.get(o.oid) is not None]
    if k == 3:  # a helicopter dismantled
        helis = [o for o in present if _category(o) == "helicopters"]
        if helis:
            states[helis[0].oid] = None
    fighters = [o for o in present if _category(o) == "fighters and bombers"]
    for i in rng.permutation(len(fighters))[: max(1, len(fighters) // 5)]:  # fighters leave
        states[fighters[int(i)].oid] = None
    if k >= 4:  # a vehicle convoy leaves
        vehicles = [o for o in present if _category(o) == "vehicles"]
        for o in vehicles[: max(1, len(vehicles) // 4)]:
            states[o.oid] = None
    builder.obj_occ = _occupancy(builder, states)
    for cls in ("il76", "an124"):  # a heavy transport arrives where there is room
        obj = builder._new_object(cls, "heavy")
        pos = None
        for zone in ("heavy", "apron", "fighters"):
            pos = pos or builder._try_place(obj, builder.zones[zone], attempts=80)
        if pos:
            builder.objects.append(obj)
            states[obj.oid] = ObjState(*pos)
            break
    return states


def _date_layout(layout: Layout, objects: list[SceneObject], states: dict, sun: tuple,
                 shift: tuple) -> Layout:
    """The layout as a renderer of its 'after' date draws date k: the objects at their date-k states."""
    drawn = [dataclasses.replace(o, after=states[o.oid]) for o in objects if states.get(o.oid) is not None]
    return dataclasses.replace(layout, objects=drawn, cloud=None, shift=shift,
                               sun_vec={**layout.sun_vec, "after": sun})


def _truth_features(objects: list[SceneObject], states: dict, prev: dict, gt: tuple, shift: tuple,
                    cap: CaptureInfo, wkt: str) -> list[dict]:
    cat = load_catalogue()
    feats = []
    for obj in objects:
        st = states.get(obj.oid)
        if st is None:
            continue
        before = prev.get(obj.oid)
        if before is None:
            event = "arrived"
        else:
            same = abs(before.x - st.x) + abs(before.y - st.y) < 1e-6 and abs(before.heading - st.heading) < 1e-6
            event = "stayed" if same else "moved"
        gx, gy = gt[0] + st.x * gt[1], gt[3] + st.y * gt[5]
        cx, cy = gx + shift[0] * gt[1], gy + shift[1] * gt[5]
        det = Detection(cx, cy, obj.length_m, obj.width_m, st.heading % 360.0, obj.cls, 1.0, "truth",
                        capture=cap.when.isoformat(), crs_wkt=wkt, id=obj.oid)
        feats.append(_feature(det.polygon, {
            "id": obj.oid, "class": obj.cls, "detector_class": cat.detector_class(obj.cls),
            "category": cat.category_label(obj.cls), "length_m": obj.length_m, "width_m": obj.width_m,
            "heading_deg": round(st.heading % 360.0, 3), "event": event, "cx": round(cx, 3), "cy": round(cy, 3),
            "ground_cx": round(gx, 3), "ground_cy": round(gy, 3), "date": cap.day}))
    return feats


def _render(path: Path, renderer: DateRenderer, size_px: int, gt: tuple, wkt: str, progress: Progress) -> None:
    part = path.with_name(path.name + ".part.tif")
    ds = _create(part, size_px, 4, gdal.GDT_UInt16, gt, wkt)
    try:
        n_tiles, done = math.ceil(size_px / TILE) ** 2, 0
        for r0 in range(0, size_px, TILE):
            for c0 in range(0, size_px, TILE):
                h, w = min(TILE, size_px - r0), min(TILE, size_px - c0)
                ds.WriteRaster(c0, r0, w, h, np.ascontiguousarray(renderer.render(r0, c0, h, w)).tobytes(),
                               buf_type=gdal.GDT_UInt16, band_list=[1, 2, 3, 4])
                ds.FlushCache()
                done += 1
                progress.report(done / n_tiles, f"Rendering {path.name}: tile {done}/{n_tiles}")
        describe_capture(ds, renderer.info, renderer.info.name)
        ds.FlushCache()
        ds = None
        os.replace(part, path)
    finally:
        ds = None
        part.unlink(missing_ok=True)


def _counts(features: list[dict], key: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in features:
        name = f["properties"][key]
        out[name] = out.get(name, 0) + 1
    return dict(sorted(out.items()))


def site_frame(site: SampleSite, seed: int) -> tuple[tuple, str, dict[str, CaptureInfo], dict]:
    """What every later capture of a site shares: geotransform, CRS (WKT), the two dates'
    capture metadata and their sun-shadow vectors."""
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(CRS_EPSG)
    caps = _captures(seed, CENTRE_LAT, CENTRE_LON)
    sun_vec = {k: sun_shadow_vector(c.sun_azimuth, c.sun_elevation, site.gsd_m) for k, c in caps.items()}
    return tuple(site.manifest["geotransform"]), srs.ExportToWkt(), caps, sun_vec


def _existing_site(out: Path, size_px: int, seed: int) -> Optional[SampleSite]:
    """The two-date site already in `out` when it has this size and seed (generation is deterministic)."""
    try:
        site = load_sample_site(out)
    except InputError:
        return None
    return site if site.size_px == size_px and site.manifest.get("seed") == seed else None


def generate_site_series(out_dir: Union[str, Path], n_dates: int = 5, size_px: int = 1024, seed: int = 7,
                         progress: Optional[Progress] = None) -> SiteSeries:
    """Write the sample site over n_dates captures (dates 1 and 2: the two-date site, unchanged; a
    two-date site of the same size and seed already in out_dir is kept, not drawn again)."""
    if n_dates < 2:
        raise InputError(f"A site series needs at least 2 dates (got {n_dates}).")
    progress = progress or Progress()
    out = Path(out_dir)
    site = _existing_site(out, size_px, seed) or generate_sample_site(out, size_px, seed,
                                                                        progress.stage(0.0, 2.0 / n_dates))
    gt, wkt, caps, sun_vec = site_frame(site, seed)
    layout, builder = build_layout_and_builder(size_px, site.gsd_m, seed, load_catalogue(), sun_vec, _shift(seed))
    builder.rng = np.random.default_rng([seed, 5151])  # later dates draw from their own stream
    states = {o.oid: o.after for o in builder.objects}
    entries = []
    for k in range(3, n_dates + 1):
        prev = states
        states = _next_states(builder, prev, k, builder.rng)
        cap = _later_capture(seed, k, caps["after"])
        shift = _later_shift(seed, k)
        sun = sun_shadow_vector(cap.sun_azimuth, cap.sun_elevation, site.gsd_m)
        renderer = DateRenderer(_date_layout(layout, builder.objects, states, sun, shift), "after", cap, seed,
                                noise_key=k)
        raster = out / f"capture_{k}.tif"
        _render(raster, renderer, size_px, gt, wkt, progress.stage((k - 1.0) / n_dates, k / n_dates))
        write_imd(out / f"capture_{k}.IMD", cap, f"SAMPLE-{seed:04d}-DATE{k}", _bounds_ll(gt, size_px), size_px)
        feats = _truth_features(builder.objects, states, prev, gt, shift, cap, wkt)
        (out / f"truth_{k}.geojson").write_text(json.dumps(_collection(f"truth_{k}", feats)), encoding="utf-8")
        entries.append({"index": k, "datetime": cap.iso, "raster": raster.name, "truth": f"truth_{k}.geojson",
                        "satellite": cap.sat_id, "misregistration_px": list(shift)})
    manifest = {"format": "sitewatch-site-series", "version": 1, "name": SITE_NAME, "seed": seed,
                "size_px": size_px, "site": "site.json", "story": list(STORY),
                "captures": [{"index": 1, "datetime": site.manifest["captures"]["before"]["datetime"],
                              "raster": site.before.name, "truth": site.truth_before.name},
                             {"index": 2, "datetime": site.manifest["captures"]["after"]["datetime"],
                              "raster": site.after.name, "truth": site.truth_after.name}] + entries}
    for entry in manifest["captures"]:
        feats = json.loads((out / entry["truth"]).read_text(encoding="utf-8"))["features"]
        entry["counts"], entry["class_counts"] = _counts(feats, "category"), _counts(feats, "class")
    manifest["events"] = _events(out, manifest["captures"])
    (out / (SERIES_MANIFEST + ".part")).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    os.replace(out / (SERIES_MANIFEST + ".part"), out / SERIES_MANIFEST)
    progress.report(1.0, f"Site series of {n_dates} dates ready")
    return load_site_series(out)


def _events(root: Path, captures: list[dict]) -> list[dict]:
    """Arrivals and departures per category between consecutive dates (by the objects' ids)."""
    out = []
    for a, b in zip(captures, captures[1:]):
        ids = []
        for entry in (a, b):
            feats = json.loads((root / entry["truth"]).read_text(encoding="utf-8"))["features"]
            ids.append({f["properties"]["id"]: f["properties"]["category"] for f in feats})
        for category in sorted(set(ids[0].values()) | set(ids[1].values())):
            arrived = sum(1 for i, c in ids[1].items() if c == category and i not in ids[0])
            departed = sum(1 for i, c in ids[0].items() if c == category and i not in ids[1])
            if arrived or departed:
                out.append({"date_from": a["datetime"][:10], "date_to": b["datetime"][:10], "category": category,
                            "arrived": arrived, "departed": departed})
    return out


def load_site_series(out_dir: Union[str, Path]) -> SiteSeries:
    """Re-open a generated series from its series.json manifest."""
    root = Path(out_dir)
    m = read_manifest(root, SERIES_MANIFEST, "sitewatch-site-series", "site series")
    captures = []
    for c in m["captures"]:
        when = datetime.strptime(c["datetime"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        raster, truth = root / c["raster"], root / c["truth"]
        if not raster.exists() or not truth.exists():
            raise InputError(f"The site series in {root} is incomplete (missing {raster.name} or {truth.name}); "
                             "generate it again.")
        captures.append(SeriesCapture(int(c["index"]), when, raster, truth, dict(c["counts"]),
                                      dict(c["class_counts"])))
    return SiteSeries(root=root, site=load_sample_site(root), captures=captures, events=list(m.get("events", [])),
                      story=tuple(m.get("story", STORY)))
