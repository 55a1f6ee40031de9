"""Generate (and re-open) a deterministic synthetic two-date scene of an air base."""
from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional, Union

import numpy as np
from osgeo import gdal, osr

from ..core.equipment.catalogue import load_catalogue
from ..core.equipment.detection import Detection
from ..core.errors import InputError
from ..core.gdal_scope import gdal_exceptions
from ..core.progress import Progress
from .capture import CaptureInfo, sun_position, write_imd
from .layout import Layout, build_layout, sun_shadow_vector
from .render import DateRenderer, change_prims, render_mask
from .shapes import clip_convex

log = logging.getLogger(__name__)

SITE_NAME = "Khmeimim air base (synthetic)"
CENTRE_LAT, CENTRE_LON = 35.401, 35.948
CRS_EPSG = 32636
GSD_M = 0.5
TILE = 512
CACHE_BYTES = 96 * 1024 * 1024
BAND_NAMES = ("red", "green", "blue", "nir")
BAND_INTERP = (gdal.GCI_RedBand, gdal.GCI_GreenBand, gdal.GCI_BlueBand, gdal.GCI_Undefined)
MANIFEST = "site.json"
SHIFT_CONVENTION = (
    "after.tif content is displaced by (+dx columns, +dy rows) relative to the ground: a ground point at "
    "before.tif pixel (c, r) appears at after.tif pixel (c + dx, r + dy). after.tif has the same geotransform "
    "as before.tif, so its apparent map coordinates are offset by (dx * gsd, -dy * gsd) metres. truth_after "
    "boxes are where objects appear in after.tif (apparent coordinates, shift included); each feature also "
    "carries ground_cx/ground_cy, its position on the before grid. change_mask is on the before (ground) grid; "
    "cloud_mask is on the after.tif pixel grid.")


@dataclass
class SampleSite:
    root: Path
    before: Path
    after: Path
    truth_before: Path
    truth_after: Path
    change_mask: Path
    cloud_mask: Path
    aoi: Path
    size_px: int
    gsd_m: float
    crs_epsg: int
    before_date: datetime
    after_date: datetime
    shift_px: tuple = (0.0, 0.0)  # (dx, dy) misregistration of after.tif, see SHIFT_CONVENTION
    manifest: Optional[dict] = None


def _utm_centre() -> tuple[float, float]:
    src, dst = osr.SpatialReference(), osr.SpatialReference()
    src.ImportFromEPSG(4326)
    dst.ImportFromEPSG(CRS_EPSG)
    for s in (src, dst):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    x, y, _ = osr.CoordinateTransformation(src, dst).TransformPoint(CENTRE_LON, CENTRE_LAT)
    return x, y


def _captures(seed: int, lat: float, lon: float) -> dict[str, CaptureInfo]:
    rng = np.random.default_rng([seed, 99])
    when_b = datetime(2024, 12, 9, 8, 31, 12, tzinfo=timezone.utc)
    when_a = datetime(2024, 12, 13, 9, 52, 27, tzinfo=timezone.utc)
    out = {}
    for name, when, sat, gains, offsets, haze, nadir in (
            ("before", when_b, "WV03", (1.0, 1.0, 1.0, 1.0), (55, 68, 92, 38), 0.0, 14.2),
            ("after", when_a, "WV02", (0.92, 0.97, 1.06, 1.10), (80, 95, 130, 45), 0.35, 22.7)):
        az, el = sun_position(when, lat, lon)
        cat = f"10{'3' if sat == 'WV03' else '4'}00100{int(rng.integers(0x10000000, 0xFFFFFFFF)):08X}"
        out[name] = CaptureInfo(name, when, sat, cat, 0.0, az, el, nadir, gains, offsets, haze)
    return out


def _shift(seed: int) -> tuple[float, float]:
    rng = np.random.default_rng([seed, 17])
    dx = float(rng.choice([-1, 1]) * (2 + rng.integers(0, 3) + rng.uniform(0.25, 0.75)))
    dy = float(rng.choice([-1, 1]) * (2 + rng.integers(0, 3) + rng.uniform(0.25, 0.75)))
    return round(dx, 2), round(dy, 2)


def _create(path: Path, n: int, bands: int, dtype: int, gt: tuple, wkt: str) -> gdal.Dataset:
    opts = ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "COMPRESS=DEFLATE", "ZLEVEL=1",
            "BIGTIFF=IF_SAFER", "NUM_THREADS=2"]
    if bands > 1:
        opts += ["PREDICTOR=2", "INTERLEAVE=PIXEL"]
    ds = gdal.GetDriverByName("GTiff").Create(str(path), n, n, bands, dtype, opts)
    if ds is None:
        raise InputError(f"Cannot create {path}: {gdal.GetLastErrorMsg()}")
    ds.SetGeoTransform(gt)
    ds.SetProjection(wkt)
    return ds


def describe_capture(ds: gdal.Dataset, cap: CaptureInfo, label: str) -> None:
    """Acquisition metadata (date, satellite, sun) and band names of a capture raster."""
    ds.SetMetadata({"TIFFTAG_DATETIME": cap.tiff_datetime, "ACQUISITION_DATE": cap.day,
                    "ACQUISITION_DATETIME": cap.iso, "SATELLITE": cap.sat_id, "CATALOG_ID": cap.cat_id,
                    "SUN_AZIMUTH": f"{cap.sun_azimuth:.2f}", "SUN_ELEVATION": f"{cap.sun_elevation:.2f}",
                    "CLOUD_COVER": f"{cap.cloud_cover:.4f}",
                    "TIFFTAG_IMAGEDESCRIPTION": f"{SITE_NAME}, {label} capture",
                    "TIFFTAG_SOFTWARE": "SiteWatch sample-site generator"})
    for i, (name, interp) in enumerate(zip(BAND_NAMES, BAND_INTERP), start=1):
        band = ds.GetRasterBand(i)
        band.SetDescription(name)
        band.SetColorInterpretation(interp)


def _feature(ring: np.ndarray, props: dict) -> dict:
    pts = [[round(float(x), 3), round(float(y), 3)] for x, y in ring]
    return {"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": [pts + [pts[0]]]}}


def _collection(name: str, features: list) -> dict:
    return {"type": "FeatureCollection", "name": name,
            "crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{CRS_EPSG}"}},
            "features": features}


def _truth(layout: Layout, date: str, gt: tuple, capture: CaptureInfo, wkt: str) -> dict:
    cat = load_catalogue()
    dx, dy = layout.shift if date == "after" else (0.0, 0.0)
    feats = []
    for obj in layout.objects:
        st = getattr(obj, date)
        if st is None:
            continue
        gx = gt[0] + st.x * gt[1]
        gy = gt[3] + st.y * gt[5]
        cx, cy = gx + dx * gt[1], gy + dy * gt[5]
        det = Detection(cx, cy, obj.length_m, obj.width_m, st.heading % 360.0, obj.cls, 1.0, "truth",
                        capture=capture.when.isoformat(), crs_wkt=wkt, id=obj.oid)
        props = {"id": obj.oid, "class": obj.cls, "detector_class": cat.detector_class(obj.cls),
                 "category": cat.category_label(obj.cls), "length_m": obj.length_m, "width_m": obj.width_m,
                 "heading_deg": round(st.heading % 360.0, 3), "event": obj.event(date),
                 "cx": round(cx, 3), "cy": round(cy, 3), "ground_cx": round(gx, 3), "ground_cy": round(gy, 3),
                 "date": capture.day}
        feats.append(_feature(det.polygon, props))
    return _collection(f"truth_{date}", feats)


def _px_to_map(gt: tuple, pts: np.ndarray) -> np.ndarray:
    return np.stack([gt[0] + pts[:, 0] * gt[1], gt[3] + pts[:, 1] * gt[5]], axis=1)


@gdal_exceptions()
def generate_sample_site(out_dir: Union[str, Path], size_px: int = 4096, seed: int = 7,
                         progress: Optional[Progress] = None) -> SampleSite:
    """Write a synthetic two-date scene of Khmeimim air base with exact ground truth.

    Files in out_dir: before.tif, after.tif (4-band uint16 R, G, B, NIR, 0.5 m, EPSG:32636),
    before.IMD/after.IMD sidecars, truth_before.geojson, truth_after.geojson, change_mask.tif,
    cloud_mask.tif, aoi.geojson and the site.json manifest. Rendering streams tile by tile, so
    memory stays bounded whatever size_px is. Same seed and size give identical pixels.
    """
    if size_px < 256:
        raise InputError(f"The sample site needs at least 256 pixels a side (got {size_px}).")
    progress = progress or Progress()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    progress.report(0.0, "Planning the sample site")
    ex, ny = _utm_centre()
    scene_m = size_px * GSD_M
    gt = (round(ex) - scene_m / 2, GSD_M, 0.0, round(ny) + scene_m / 2, 0.0, -GSD_M)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(CRS_EPSG)
    wkt = srs.ExportToWkt()
    caps = _captures(seed, CENTRE_LAT, CENTRE_LON)
    sun_vec = {k: sun_shadow_vector(c.sun_azimuth, c.sun_elevation, GSD_M) for k, c in caps.items()}
    shift = _shift(seed)
    layout = build_layout(size_px, GSD_M, seed, load_catalogue(), sun_vec, shift)

    tmp = Path(tempfile.mkdtemp(prefix=".samplesite-", dir=out))
    ds: dict = {}
    cache_max = gdal.GetCacheMax()
    gdal.SetCacheMax(min(cache_max, CACHE_BYTES))  # written blocks must not pile up in GDAL's cache
    try:
        paths = {k: tmp / f"{k}.tif" for k in ("before", "after", "change_mask", "cloud_mask")}
        ds = {k: _create(p, size_px, 4 if k in ("before", "after") else 1,
                         gdal.GDT_UInt16 if k in ("before", "after") else gdal.GDT_Byte, gt, wkt)
              for k, p in paths.items()}
        renderers = {k: DateRenderer(layout, k, caps[k], seed) for k in ("before", "after")}
        cprims = change_prims(layout)
        n_cloud = 0
        n_tiles = math.ceil(size_px / TILE) ** 2
        done = 0
        with ThreadPoolExecutor(max_workers=2) as pool:
            for r0 in range(0, size_px, TILE):
                h = min(TILE, size_px - r0)
                for c0 in range(0, size_px, TILE):
                    w = min(TILE, size_px - c0)
                    # the two dates render side by side (numpy releases the GIL); GDAL writes stay here
                    jobs = {k: pool.submit(renderers[k].render, r0, c0, h, w) for k in ("before", "after")}
                    ds["change_mask"].GetRasterBand(1).WriteArray(render_mask(cprims, r0, c0, h, w), c0, r0)
                    for k in ("before", "after"):
                        ds[k].WriteRaster(c0, r0, w, h, np.ascontiguousarray(jobs[k].result()).tobytes(),
                                          buf_type=gdal.GDT_UInt16, band_list=[1, 2, 3, 4])
                    a, sh = renderers["after"].cloud_alpha(r0, c0, h, w)
                    cm = ((a > 0.02) | (sh > 0.02)).astype(np.uint8)
                    n_cloud += int(cm.sum())
                    ds["cloud_mask"].GetRasterBand(1).WriteArray(cm, c0, r0)
                    for d in ds.values():  # complete blocks go to disk now: memory stays O(tile)
                        d.FlushCache()
                    done += 1
                    progress.report(0.05 + 0.9 * done / n_tiles, f"Rendering tile {done}/{n_tiles}")
        caps["after"].cloud_cover = n_cloud / float(size_px * size_px)
        for k in ("before", "after"):
            describe_capture(ds[k], caps[k], k)
        ds["change_mask"].GetRasterBand(1).SetDescription("change (1 = real change)")
        ds["cloud_mask"].GetRasterBand(1).SetDescription("cloud or cloud shadow on the after capture")
        for k in list(ds):
            ds[k].FlushCache()
            ds[k] = None
        ds.clear()
        progress.report(0.96, "Writing ground truth")
        lat_lon_bounds = _bounds_ll(gt, size_px)
        for k in ("before", "after"):
            write_imd(tmp / f"{k}.IMD", caps[k], f"SAMPLE-{seed:04d}-{k.upper()}", lat_lon_bounds, size_px)
            (tmp / f"truth_{k}.geojson").write_text(json.dumps(_truth(layout, k, gt, caps[k], wkt)), encoding="utf-8")
        aoi_px = clip_convex(layout.frame.rect(-0.47 * layout.extent_m, 0.47 * layout.extent_m,
                                               -0.45 * layout.extent_m, 0.47 * layout.extent_m),
                             np.array([[0, 0], [size_px, 0], [size_px, size_px], [0, size_px]], float))
        (tmp / "aoi.geojson").write_text(json.dumps(_collection("aoi", [_feature(
            _px_to_map(gt, aoi_px), {"name": SITE_NAME})])), encoding="utf-8")
        manifest = _manifest(layout, caps, gt, size_px, seed, shift)
        (out / MANIFEST).unlink(missing_ok=True)  # no manifest while old and new files mix
        for f in sorted(tmp.iterdir()):
            os.replace(f, out / f.name)
        (out / (MANIFEST + ".part")).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        os.replace(out / (MANIFEST + ".part"), out / MANIFEST)
    finally:
        ds.clear()  # close any dataset still open (cancel, error) before removing the partial files
        gdal.SetCacheMax(cache_max)
        shutil.rmtree(tmp, ignore_errors=True)
    progress.report(1.0, "Sample site ready")
    return load_sample_site(out)


def _bounds_ll(gt: tuple, n: int) -> tuple:
    src, dst = osr.SpatialReference(), osr.SpatialReference()
    src.ImportFromEPSG(CRS_EPSG)
    dst.ImportFromEPSG(4326)
    for s in (src, dst):
        s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    ct = osr.CoordinateTransformation(src, dst)
    x0, y0 = ct.TransformPoint(gt[0], gt[3] + n * gt[5])[:2]
    x1, y1 = ct.TransformPoint(gt[0] + n * gt[1], gt[3])[:2]
    return x0, y0, x1, y1


def _manifest(layout: Layout, caps: dict, gt: tuple, n: int, seed: int, shift: tuple) -> dict:
    counts: dict = {}
    for obj in layout.objects:
        for date in ("before", "after"):
            if getattr(obj, date) is not None:
                key = f"{date}_{obj.event(date)}"
                counts[key] = counts.get(key, 0) + 1
    changes = []
    if layout.new_structure is not None:
        changes.append({"kind": "new_structure", "date": "after",
                        "polygon": _px_to_map(gt, layout.new_structure.shape.pts).round(3).tolist()})
    ax, ay, ar = layout.ad_site
    changes.append({"kind": "emptied_air_defence_site", "centre": [round(gt[0] + ax * gt[1], 3),
                                                                   round(gt[3] + ay * gt[5], 3)],
                    "radius_m": round(ar * gt[1], 2)})
    cl = layout.cloud
    return {
        "format": "sitewatch-sample-site", "version": 1, "name": SITE_NAME, "seed": seed,
        "size_px": n, "gsd_m": gt[1], "crs_epsg": CRS_EPSG, "geotransform": list(gt),
        "centre_lat_lon": [CENTRE_LAT, CENTRE_LON],
        "files": {"before": "before.tif", "after": "after.tif", "truth_before": "truth_before.geojson",
                  "truth_after": "truth_after.geojson", "change_mask": "change_mask.tif",
                  "cloud_mask": "cloud_mask.tif", "aoi": "aoi.geojson", "before_imd": "before.IMD",
                  "after_imd": "after.IMD"},
        "bands": list(BAND_NAMES),
        "captures": {k: {"datetime": c.iso, "satellite": c.sat_id, "catalog_id": c.cat_id,
                         "sun_azimuth_deg": round(c.sun_azimuth, 3), "sun_elevation_deg": round(c.sun_elevation, 3),
                         "gains": list(c.gains), "offsets_dn": list(c.offsets), "haze": c.haze,
                         "cloud_cover": round(c.cloud_cover, 5)} for k, c in caps.items()},
        "misregistration": {"dx_px": shift[0], "dy_px": shift[1], "dx_m": round(shift[0] * gt[1], 4),
                            "dy_m": round(-shift[1] * gt[1], 4), "convention": SHIFT_CONVENTION},
        "cloud": None if cl is None else {"centre_px": [round(cl.x, 2), round(cl.y, 2)],
                                          "radius_m": round(cl.radius * gt[1], 2),
                                          "shadow_offset_px": [round(cl.shadow_dx, 2), round(cl.shadow_dy, 2)]},
        "object_counts": dict(sorted(counts.items())),
        "changes": changes,
    }


def read_manifest(root: Path, name: str, fmt: str, what: str) -> dict:
    """The JSON manifest root/name of format `fmt`; InputError naming `what` otherwise."""
    try:
        m = json.loads((root / name).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"No {what} in {root} (cannot read {name}: {exc}). Generate one first.") from exc
    if m.get("format") != fmt:
        raise InputError(f"{root / name} is not a SiteWatch {what} manifest.")
    return m


@gdal_exceptions()
def load_sample_site(out_dir: Union[str, Path]) -> SampleSite:
    """Re-open a generated site from its site.json manifest."""
    root = Path(out_dir)
    m = read_manifest(root, MANIFEST, "sitewatch-sample-site", "sample site")
    f = m["files"]
    missing = [name for name in f.values() if not (root / name).exists()]
    if missing:
        raise InputError(f"The sample site in {root} is incomplete (missing {', '.join(missing)}); "
                         "generate it again.")

    def when(k: str) -> datetime:
        return datetime.strptime(m["captures"][k]["datetime"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)

    return SampleSite(root=root, before=root / f["before"], after=root / f["after"],
                      truth_before=root / f["truth_before"], truth_after=root / f["truth_after"],
                      change_mask=root / f["change_mask"], cloud_mask=root / f["cloud_mask"], aoi=root / f["aoi"],
                      size_px=int(m["size_px"]), gsd_m=float(m["gsd_m"]), crs_epsg=int(m["crs_epsg"]),
                      before_date=when("before"), after_date=when("after"),
                      shift_px=(m["misregistration"]["dx_px"], m["misregistration"]["dy_px"]), manifest=m)
