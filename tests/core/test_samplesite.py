"""The sample-site generator: deterministic, georeferenced, and its ground truth is real."""
from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, osr

from sitewatch.plugin.core.equipment.catalogue import load_catalogue
from sitewatch.plugin.core.errors import Cancelled, InputError
from sitewatch.plugin.core.progress import Progress
from sitewatch.plugin.samplesite import SampleSite, generate_sample_site, load_sample_site

SIZE = 512
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> SampleSite:
    return generate_sample_site(tmp_path_factory.mktemp("site") / "khmeimim", SIZE, seed=7)


def _read(path: Path) -> np.ndarray:
    return gdal.Open(str(path)).ReadAsArray().astype(np.float64)


def _truth(path: Path) -> dict:
    return {f["properties"]["id"]: f for f in json.loads(path.read_text())["features"]}


def _ring_px(feature: dict, gt: tuple, shift_m: tuple = (0.0, 0.0)) -> np.ndarray:
    """Box corners in pixel coordinates (x = column, y = row), optionally moved by shift_m."""
    ring = np.array(feature["geometry"]["coordinates"][0][:4], dtype=float) + np.array(shift_m)
    return np.stack([(ring[:, 0] - gt[0]) / gt[1], (ring[:, 1] - gt[3]) / gt[5]], axis=1)


def _poly_mask(corners: np.ndarray, shape: tuple, grow: float = 0.0) -> np.ndarray:
    """Pixels whose centre lies inside the convex polygon grown by `grow` pixels."""
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]] + 0.5
    c = corners.mean(axis=0)
    inside = np.ones(shape, bool)
    for i in range(len(corners)):
        p, q = corners[i], corners[(i + 1) % len(corners)]
        n = np.array([q[1] - p[1], p[0] - q[0]])
        n /= np.hypot(*n)
        if np.dot(c - p, n) > 0:
            n = -n
        inside &= (xs - p[0]) * n[0] + (ys - p[1]) * n[1] <= grow
    return inside


def _contrast(img: np.ndarray, corners: np.ndarray) -> float:
    """How much a box stands out from a ring around it: the share of its pixels more than 10 %
    away (in some band) from the ring's median colour, less the same share within the ring."""
    box = _poly_mask(corners, img.shape[1:])
    ring = _poly_mask(corners, img.shape[1:], 7) & ~_poly_mask(corners, img.shape[1:], 3)
    bg = np.median(img[:, ring], axis=1)[:, None]
    odd_box = ((np.abs(img[:, box] - bg) / bg).max(axis=0) > 0.1).mean()
    odd_ring = ((np.abs(img[:, ring] - bg) / bg).max(axis=0) > 0.1).mean()
    return float(odd_box - odd_ring)


def _shift_m(site: SampleSite) -> tuple:
    m = site.manifest["misregistration"]
    return m["dx_m"], m["dy_m"]


def test_same_seed_same_bytes_other_seed_other_scene(site, tmp_path):
    again = generate_sample_site(tmp_path / "again", SIZE, seed=7)
    for name in ("before", "after", "change_mask", "cloud_mask"):
        assert np.array_equal(_read(getattr(site, name)), _read(getattr(again, name))), name
    assert site.truth_before.read_text() == again.truth_before.read_text()
    assert site.truth_after.read_text() == again.truth_after.read_text()
    other = generate_sample_site(tmp_path / "other", SIZE, seed=8)
    assert not np.array_equal(_read(site.before), _read(other.before))


def test_georeferencing_bands_and_capture_metadata(site):
    assert (site.size_px, site.gsd_m, site.crs_epsg) == (SIZE, 0.5, 32636)
    for path, when in ((site.before, site.before_date), (site.after, site.after_date)):
        ds = gdal.Open(str(path))
        assert (ds.RasterXSize, ds.RasterYSize, ds.RasterCount) == (SIZE, SIZE, 4)
        assert ds.GetRasterBand(1).DataType == gdal.GDT_UInt16
        gt = ds.GetGeoTransform()
        assert (gt[1], gt[5], gt[2], gt[4]) == (0.5, -0.5, 0.0, 0.0)
        srs = osr.SpatialReference(wkt=ds.GetProjection())
        assert srs.GetAuthorityCode(None) == "32636"
        # the scene centre is Khmeimim air base
        wgs = osr.SpatialReference()
        wgs.ImportFromEPSG(4326)
        wgs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        lon, lat, _ = osr.CoordinateTransformation(srs, wgs).TransformPoint(gt[0] + SIZE / 4, gt[3] - SIZE / 4)
        assert abs(lat - 35.401) < 0.001 and abs(lon - 35.948) < 0.001
        assert [ds.GetRasterBand(i).GetDescription() for i in range(1, 5)] == ["red", "green", "blue", "nir"]
        assert [ds.GetRasterBand(i).GetColorInterpretation() for i in range(1, 4)] == \
            [gdal.GCI_RedBand, gdal.GCI_GreenBand, gdal.GCI_BlueBand]
        assert ds.GetMetadataItem("COMPRESSION", "IMAGE_STRUCTURE") == "DEFLATE"
        assert ds.GetRasterBand(1).GetBlockSize() == [256, 256]
        md = ds.GetMetadata()
        assert re.fullmatch(r"\d{4}:\d\d:\d\d \d\d:\d\d:\d\d", md["TIFFTAG_DATETIME"])
        assert datetime.strptime(md["TIFFTAG_DATETIME"], "%Y:%m:%d %H:%M:%S").replace(tzinfo=timezone.utc) == when
        assert md["ACQUISITION_DATE"] == when.strftime("%Y-%m-%d")
        # GDAL's own DigitalGlobe reader parses the sidecar, as for a real product
        assert ds.GetMetadataItem("ACQUISITIONDATETIME", "IMAGERY") == when.strftime("%Y-%m-%d %H:%M:%S")
        imd = path.with_suffix(".IMD").read_text()
        assert f"firstLineTime = {when.strftime('%Y-%m-%dT%H:%M:%S')}.000000Z;" in imd
        assert re.search(r'satId = "WV0\d";', imd) and re.search(r"cloudCover = [0-9.]+;", imd)
    assert 1 <= (site.after_date - site.before_date).days <= 10
    for mask in (site.change_mask, site.cloud_mask):
        ds = gdal.Open(str(mask))
        assert ds.GetGeoTransform() == gdal.Open(str(site.before)).GetGeoTransform()
        assert set(np.unique(ds.ReadAsArray())) <= {0, 1}
    aoi = json.loads(site.aoi.read_text())
    assert aoi["crs"]["properties"]["name"].endswith("32636")
    assert aoi["features"][0]["geometry"]["type"] == "Polygon"
    assert load_sample_site(site.root) == site


def test_truth_is_consistent_across_dates(site):
    cat = load_catalogue()
    before, after = _truth(site.truth_before), _truth(site.truth_after)
    for doc in (site.truth_before, site.truth_after):
        assert json.loads(doc.read_text())["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::32636"
    events_b = {p["properties"]["event"] for p in before.values()}
    events_a = {p["properties"]["event"] for p in after.values()}
    assert events_b == {"stayed", "moved", "departed"} and events_a == {"stayed", "moved", "arrived"}
    assert len(before) >= 8 and len(after) >= 8
    for fid, f in before.items():
        p = f["properties"]
        c = cat.get(p["class"])
        assert (p["length_m"], p["width_m"]) == (c.length_m, c.width_m)
        assert p["detector_class"] == cat.detector_class(p["class"])
        assert (fid in after) == (p["event"] != "departed")
        if fid in after:
            assert after[fid]["properties"]["class"] == p["class"]
            assert after[fid]["properties"]["event"] == p["event"]
    for fid, f in after.items():
        assert (fid in before) == (f["properties"]["event"] != "arrived")
    # the emptied air-defence site: every launcher left
    assert any(f["properties"]["class"] == "s400_launcher" for f in before.values())
    assert all(f["properties"]["event"] == "departed" for f in before.values()
               if f["properties"]["class"] == "s400_launcher")


def test_boxes_match_their_size_and_heading(site):
    for doc in (site.truth_before, site.truth_after):
        for f in _truth(doc).values():
            p = f["properties"]
            ring = np.array(f["geometry"]["coordinates"][0])
            assert np.allclose(ring[0], ring[-1])
            e1, e2 = ring[1] - ring[0], ring[2] - ring[1]
            assert math.isclose(np.hypot(*e1), p["width_m"], abs_tol=1e-2)
            assert math.isclose(np.hypot(*e2), p["length_m"], abs_tol=1e-2)
            heading = math.degrees(math.atan2(*(ring[0] - ring[3]) * 1)) % 180  # along the length edge
            assert min(abs(heading - p["heading_deg"] % 180), 180 - abs(heading - p["heading_deg"] % 180)) < 0.1


def test_objects_said_to_be_there_are_there(site):
    """Each box stands out from the ground around it (aircraft and helicopters always; vehicles,
    small, with their shadow in the ring, in revetments or on narrow roads, mostly)."""
    gt = gdal.Open(str(site.before)).GetGeoTransform()
    for path, doc in ((site.before, site.truth_before), (site.after, site.truth_after)):
        img = _read(path)
        contrast = {f["properties"]["id"]: (_contrast(img, _ring_px(f, gt)), f["properties"]["detector_class"])
                    for f in _truth(doc).values()}
        assert all(c > 0.1 for c, kind in contrast.values() if kind in ("aircraft", "helicopter")), contrast
        assert np.mean([c > 0.05 for c, _ in contrast.values()]) >= 0.75, contrast


def test_drawn_objects_fill_their_boxes(site):
    """The sunlit ends of each object (no shadow there) reach the box edges within 2 px."""
    gt = gdal.Open(str(site.before)).GetGeoTransform()
    img = _read(site.before)
    az = math.radians(site.manifest["captures"]["before"]["sun_azimuth_deg"])
    to_sun = np.array([math.sin(az), -math.cos(az)])  # pixel space (rows grow southwards)
    checked = 0
    for f in _truth(site.truth_before).values():
        p = f["properties"]
        corners = _ring_px(f, gt)
        ring = _poly_mask(corners, img.shape[1:], 10) & ~_poly_mask(corners, img.shape[1:], 4)
        bg = np.median(img[:, ring], axis=1)[:, None, None]
        obj = (np.abs(img - bg) / bg).max(axis=0) > 0.15
        near = _poly_mask(corners, img.shape[1:], 2.0) & obj
        ys, xs = np.nonzero(near)
        pts = np.stack([xs + 0.5, ys + 0.5], axis=1) - corners.mean(axis=0)
        t = math.radians(p["heading_deg"])
        along, across = np.array([math.sin(t), -math.cos(t)]), np.array([math.cos(t), math.sin(t)])
        axes = [(along, p["length_m"] / 2 / 0.5)]
        if p["detector_class"] != "helicopter":  # parked rotor blades need not point sideways
            axes.append((across, p["width_m"] / 2 / 0.5))
        for axis, half in axes:
            if abs(axis @ to_sun) < 0.3:
                continue  # the shadow falls sideways: no clean sunlit end on this axis
            side = 1.0 if axis @ to_sun > 0 else -1.0
            reach = (pts @ (axis * side)).max()
            assert abs(reach - half) <= 2.0, (p["class"], p["id"], reach, half)
            checked += 1
    assert checked >= 8


def _after_on_before_grid(site: SampleSite) -> np.ndarray:
    """after.tif moved back onto the before grid by the recorded sub-pixel shift (Fourier)."""
    after = _read(site.after)
    dx, dy = site.shift_px
    fy, fx = np.fft.fftfreq(after.shape[1])[:, None], np.fft.fftfreq(after.shape[2])[None, :]
    ramp = np.exp(2j * np.pi * (fx * dx + fy * dy))
    return np.real(np.fft.ifft2(np.fft.fft2(after, axes=(1, 2)) * ramp, axes=(1, 2)))


def test_departed_objects_are_gone_and_stayed_ones_remain(site):
    """Pixel patterns inside each before box, correlated with the same ground on the after date
    (insensitive to the gain, offset and haze changes): high where the object stayed, low where
    it left (departed, or moved elsewhere)."""
    gt = gdal.Open(str(site.before)).GetGeoTransform()
    before, after = _read(site.before), _after_on_before_grid(site)
    corr = {}
    for f in _truth(site.truth_before).values():
        p = f["properties"]
        box = _poly_mask(_ring_px(f, gt), before.shape[1:])
        corr[p["id"]] = (max(np.corrcoef(before[k][box], after[k][box])[0, 1] for k in range(4)), p["event"])
    gone = [c for c, ev in corr.values() if ev in ("departed", "moved")]
    kept = [c for c, ev in corr.values() if ev == "stayed"]
    assert len(gone) >= 3 and len(kept) >= 3
    assert max(gone) < 0.7 < min(kept), corr


def test_change_mask_covers_changes_not_stayed_objects(site):
    gt = gdal.Open(str(site.before)).GetGeoTransform()
    mask = _read(site.change_mask)[None] > 0
    cloud = _read(site.cloud_mask) > 0
    shift = _shift_m(site)
    back = (-shift[0], -shift[1])
    checked = {"departed": 0, "arrived": 0, "moved": 0}
    for doc, date in ((site.truth_before, "before"), (site.truth_after, "after")):
        for f in _truth(doc).values():
            ev = f["properties"]["event"]
            box = _poly_mask(_ring_px(f, gt, back if date == "after" else (0, 0)), mask.shape[1:])
            frac = mask[0][box].mean()
            if ev == "stayed":
                assert frac == 0.0, f["properties"]
            else:
                assert frac > 0.3, (f["properties"], frac)
                checked[ev] += 1
            # nothing sits under the cloud (cloud mask is on the after pixel grid)
            apparent = _poly_mask(_ring_px(f, gt, shift if date == "before" else (0, 0)), mask.shape[1:]) \
                if date == "before" else _poly_mask(_ring_px(f, gt), mask.shape[1:])
            assert not (cloud & apparent).any(), f["properties"]
    assert all(checked.values()), checked
    assert cloud.any(), "the after date should have a small cloud"
    assert not (cloud & mask[0]).any(), "the cloud must lie away from real changes"
    assert 0.001 < mask.mean() < 0.2


def _phase_correlation(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Sub-pixel (dx, dy) that moves image a onto image b (peak + parabolic refinement)."""
    win = np.outer(np.hanning(a.shape[0]), np.hanning(a.shape[1]))
    fa, fb = np.fft.fft2((a - a.mean()) * win), np.fft.fft2((b - b.mean()) * win)
    r = np.conj(fa) * fb
    corr = np.real(np.fft.ifft2(r / np.maximum(np.abs(r), 1e-9)))
    iy, ix = np.unravel_index(np.argmax(corr), corr.shape)
    row = corr[iy, [(ix - 1) % corr.shape[1], ix, (ix + 1) % corr.shape[1]]]
    col = corr[[(iy - 1) % corr.shape[0], iy, (iy + 1) % corr.shape[0]], ix]
    out = []
    for (cm, c0, cp), i, n in ((row, ix, corr.shape[1]), (col, iy, corr.shape[0])):
        v = i + 0.5 * (cm - cp) / (cm - 2 * c0 + cp)
        out.append(v - n if v > n / 2 else v)
    return out[0], out[1]


def test_misregistration_is_recorded_and_measurable(site):
    m = site.manifest["misregistration"]
    dx, dy = m["dx_px"], m["dy_px"]
    assert site.shift_px == (dx, dy)
    assert 2.0 <= abs(dx) <= 5.0 and 2.0 <= abs(dy) <= 5.0
    assert abs(dx - round(dx)) > 0.2 and abs(dy - round(dy)) > 0.2  # a sub-pixel part
    assert (m["dx_m"], m["dy_m"]) == pytest.approx((dx * 0.5, -dy * 0.5))
    before, after = _read(site.before)[3], _read(site.after)[3]  # NIR: texture-rich
    ex, ey = _phase_correlation(before, after)
    assert abs(ex - dx) < 0.35 and abs(ey - dy) < 0.35, (ex, ey, dx, dy)
    # truth follows the same convention: after boxes of stayed objects are shifted by it
    before_t, after_t = _truth(site.truth_before), _truth(site.truth_after)
    for fid, f in after_t.items():
        if f["properties"]["event"] == "stayed":
            pb, pa = before_t[fid]["properties"], f["properties"]
            assert (pa["cx"] - pb["cx"], pa["cy"] - pb["cy"]) == pytest.approx((m["dx_m"], m["dy_m"]), abs=2e-3)
            assert (pa["ground_cx"], pa["ground_cy"]) == pytest.approx((pb["cx"], pb["cy"]), abs=2e-3)


def test_bad_size_and_cancel_leave_nothing_behind(tmp_path):
    with pytest.raises(InputError):
        generate_sample_site(tmp_path / "tiny", 100)
    with pytest.raises(Cancelled):
        generate_sample_site(tmp_path / "cancelled", 1024, progress=Progress(lambda f, m: f < 0.3))
    assert not list((tmp_path / "cancelled").iterdir())
    with pytest.raises(InputError):
        load_sample_site(tmp_path / "cancelled")


def test_command_line_tool(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "make_sample_site.py"), str(tmp_path / "s"),
                          "--size", "256", "--seed", "3"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert load_sample_site(tmp_path / "s").size_px == 256


def test_generation_streams_with_bounded_memory(tmp_path):
    """A 2048 px scene (a full float32 4-band copy of one date alone is 64 MiB) adds far less than that."""
    code = f"""
import resource, sys
sys.path.insert(0, {str(ROOT / 'tools')!r})
import pkgpath
import numpy as np
from osgeo import gdal
from sitewatch.plugin.samplesite import generate_sample_site
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
generate_sample_site({str(tmp_path / 'big')!r}, 2048, 7)
print(base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    base_kb, peak_kb = map(int, out.stdout.split()[-2:])
    assert (peak_kb - base_kb) / 1024 < 120, (base_kb, peak_kb)


def test_cloud_polygons_cover_the_cloud_mask(site, tmp_path):
    from osgeo import ogr

    from sitewatch.plugin.samplesite.clouds import CLOUD_MARGIN_M, write_cloud_polygons

    path = write_cloud_polygons(site, tmp_path / "clouds.geojson")
    mask_ds = gdal.Open(str(site.cloud_mask))
    mask = mask_ds.ReadAsArray() > 0
    assert mask.any() and path is not None
    source = ogr.Open(str(path))
    layer = source.GetLayer(0)
    assert layer.GetFeatureCount() == 1 and "32636" in layer.GetSpatialRef().ExportToWkt()
    feature = layer.GetNextFeature()  # kept: the geometry belongs to it
    cloud = feature.GetGeometryRef()
    # every cloud pixel centre lies inside; the outline adds about the margin, not more
    x0, dx, _, y0, _, dy = mask_ds.GetGeoTransform()
    rows, cols = np.nonzero(mask)
    pick = np.random.default_rng(0).choice(len(rows), min(len(rows), 400), replace=False)
    for r, c in zip(rows[pick], cols[pick]):
        point = ogr.Geometry(ogr.wkbPoint)
        point.AddPoint_2D(x0 + (c + 0.5) * dx, y0 + (r + 0.5) * dy)
        assert cloud.Contains(point)
    mask_m2 = mask.sum() * dx * dx
    assert mask_m2 < cloud.GetArea() < mask_m2 + cloud.Boundary().Length() * CLOUD_MARGIN_M * 1.5


def test_runs_are_compared_in_each_category_their_engine_knows(site):
    from sitewatch.plugin.samplesite.examples import EXAMPLE_CATEGORIES, compared_categories

    present = {f["properties"]["category"] for path in (site.truth_before, site.truth_after)
               for f in _truth(path).values()}
    examples = [c for c in EXAMPLE_CATEGORIES if c in present]
    learned = compared_categories(present, "learned")
    assert "vehicles" in present and learned[:len(examples)] == examples
    assert sorted(learned) == sorted(present)  # the site's model learned every category
    assert compared_categories(present, "exemplar") == examples  # one example box for each of these
