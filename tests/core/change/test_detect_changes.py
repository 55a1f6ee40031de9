"""End-to-end change detection on small synthetic captures."""
from __future__ import annotations

import os

import numpy as np
import pytest
from osgeo import gdal, ogr

from change_helpers import assert_same_scores, textured, write_raster


def _run(before, after, out_dir, **kwargs):
    from sitewatch.plugin.core.change import ChangeParameters, detect_changes

    return detect_changes(ChangeParameters(before=before, after=after, output_dir=str(out_dir), **kwargs))


def test_default_method_finds_the_new_building(change_pair, tmp_path):
    from sitewatch.plugin.core.change import DEFAULT_METHOD

    before, after, truth = change_pair
    result = _run(before, after, tmp_path / "out")
    assert result.method == DEFAULT_METHOD
    # shift recovered (after features moved by +1.5, -0.75 px), in metres too (0.5 m pixels, y up)
    assert result.shift.dx_px == pytest.approx(1.5, abs=0.2)
    assert result.shift.dy_px == pytest.approx(-0.75, abs=0.2)
    assert result.shift.dx_m == pytest.approx(0.75, abs=0.1)
    assert result.shift.dy_m == pytest.approx(0.375, abs=0.1)
    assert result.shift.confidence > 0.3
    # normalisation maps the brighter, higher-contrast after capture back (gain < 1, r high);
    # the exact gain is checked in test_units (resampling smooths the after texture here)
    assert result.normalisation.applied
    assert all(0.7 < b.gain < 0.95 and b.correlation > 0.9 for b in result.normalisation.bands)
    mask = gdal.Open(result.mask_path).ReadAsArray()
    pred = mask == 1
    tp = (pred & truth).sum()
    assert tp / truth.sum() > 0.8 and tp / pred.sum() > 0.7
    # one region of about 20 m x 12 m with its attributes
    assert result.n_regions == 1 and len(result.regions) == 1
    region = result.regions[0]
    assert region.area_m2 == pytest.approx(240, rel=0.35)
    assert region.length_m == pytest.approx(20, abs=3) and region.width_m == pytest.approx(12, abs=3)
    assert region.mean_score > 0.5 and region.max_score >= region.mean_score
    assert 0.5 < region.compactness <= 1.0
    assert region.centroid_x == pytest.approx(500000 + 80 * 0.5, abs=2)
    assert region.centroid_y == pytest.approx(4000000 - 112 * 0.5, abs=2)
    assert result.changed_area_m2 == pytest.approx(region.area_m2)
    # outputs: tiled Float32 score with overviews, Byte mask, GeoPackage layer
    score = gdal.Open(result.score_path)
    band = score.GetRasterBand(1)
    assert band.DataType == gdal.GDT_Float32 and band.GetBlockSize() == [256, 256]
    assert band.GetOverviewCount() >= 1
    values = band.ReadAsArray()
    assert band.GetNoDataValue() == -1
    valid = values[values != -1]
    assert valid.size > 0.95 * values.size  # only the border the shift uncovers is nodata
    assert valid.min() >= 0 and valid.max() <= 1
    assert gdal.Open(result.mask_path).GetRasterBand(1).DataType == gdal.GDT_Byte
    regions_ds = ogr.Open(result.regions_path)
    layer = regions_ds.GetLayerByName("change_regions")
    assert layer.GetFeatureCount() == 1
    feature = layer.GetNextFeature()
    assert feature["area_m2"] == pytest.approx(region.area_m2)
    assert {"mean_score", "max_score", "length_m", "width_m", "compactness", "centroid_x", "centroid_y"} <= {
        layer.GetLayerDefn().GetFieldDefn(i).GetName() for i in range(layer.GetLayerDefn().GetFieldCount())}
    assert result.grid.width == 256 and result.grid.geotransform[1] == 0.5
    assert sorted(os.listdir(tmp_path / "out")) == ["change_mask.tif", "change_regions.gpkg", "change_score.tif"]


def test_stored_score_is_quantised_and_compresses(change_pair, tmp_path):
    from sitewatch.plugin.core.change.scoring import SCORE_STEPS

    before, after, _ = change_pair
    result = _run(before, after, tmp_path / "out")
    values = gdal.Open(result.score_path).ReadAsArray()
    steps = values[values != -1].astype(np.float64) * SCORE_STEPS
    assert np.array_equal(steps, np.round(steps)) and np.unique(steps).size > 20
    assert os.path.getsize(result.score_path) < values.nbytes / 3  # raw Float32 noise would not shrink


@pytest.mark.parametrize("method", ["cva", "irmad", "pcakmeans", "structure"])
def test_every_method_detects_the_building(change_pair, tmp_path, method):
    before, after, truth = change_pair
    result = _run(before, after, tmp_path / method, method=method)
    pred = gdal.Open(result.mask_path).ReadAsArray() == 1
    assert (pred & truth).sum() / truth.sum() > 0.7
    assert (pred & ~truth).sum() < truth.sum()  # few false alarms on the unchanged texture


def test_sensitivity_and_min_area(change_pair, tmp_path):
    before, after, _ = change_pair
    areas = [_run(before, after, tmp_path / f"s{s}", sensitivity=s, min_area_m2=0).changed_area_m2
             for s in (0.2, 0.5, 0.8)]
    assert areas[0] <= areas[1] <= areas[2] and areas[2] > areas[0]
    assert _run(before, after, tmp_path / "s0", sensitivity=0.0).n_regions == 0
    # a minimum area above the building's removes it
    assert _run(before, after, tmp_path / "big", min_area_m2=400).n_regions == 0


def test_block_size_does_not_change_the_result(change_pair, tmp_path):
    before, after, _ = change_pair
    a = _run(before, after, tmp_path / "a", block_size=512)
    b = _run(before, after, tmp_path / "b", block_size=48)
    sa = gdal.Open(a.score_path).ReadAsArray()
    sb = gdal.Open(b.score_path).ReadAsArray()
    assert_same_scores(sa, sb)


def test_score_pass_reads_each_input_on_a_thread_of_its_own(change_pair, tmp_path, monkeypatch):
    """The two inputs' strips are decoded at the same time, each dataset by one thread only
    (a GDAL dataset must not be read by two threads at once), neither by the writing thread."""
    import threading

    from sitewatch.plugin.core.change.grid import AlignedView

    before, after, _ = change_pair
    readers: dict[int, set[int]] = {}
    original = AlignedView.read_into

    def recording(self, data, valid, x, y):
        readers.setdefault(id(self), set()).add(threading.get_ident())
        return original(self, data, valid, x, y)

    monkeypatch.setattr(AlignedView, "read_into", recording)
    result = _run(before, after, tmp_path / "out", block_size=48)  # several strips
    assert result.n_regions == 1
    assert len(readers) == 2 and all(len(threads) == 1 for threads in readers.values())
    threads = set.union(*readers.values())
    assert len(threads) == 2 and threading.get_ident() not in threads


def test_aoi_and_reprojected_after(tmp_path):
    size = 256
    before = textured(size, 3)
    after = before.copy()
    after[:, 30:50, 30:60] = 250.0  # outside the AOI
    after[:, 150:180, 150:190] = 250.0  # inside
    b = write_raster(tmp_path / "b.tif", before)
    # the after capture in Web Mercator; warped back onto the before grid
    a_utm = write_raster(tmp_path / "a_utm.tif", after)
    a = str(tmp_path / "a.tif")
    gdal.Warp(a, a_utm, dstSRS="EPSG:3857", resampleAlg="bilinear")
    aoi = "POLYGON ((500060 3999900, 500120 3999900, 500120 3999960, 500060 3999960, 500060 3999900))"
    result = _run(b, a, tmp_path / "out", aoi_wkt=aoi, coregister=False, method="cva")
    gt = result.grid.geotransform
    assert gt[0] >= 500060 - 1e-6 and gt[0] + gt[1] * result.grid.width <= 500120 + 1e-6
    assert result.n_regions == 1
    assert 500075 <= result.regions[0].centroid_x <= 500095
    assert "32633" in result.grid.crs_wkt or "UTM zone 33N" in result.grid.crs_wkt


def test_hole_in_the_aoi_is_left_out(change_pair, tmp_path):
    # the site less an area left out around the new building (a cloud, say): no change there
    before, after, truth = change_pair
    outer = "500000 3999872, 500128 3999872, 500128 4000000, 500000 4000000, 500000 3999872"
    hole = "500025 3999935, 500025 3999955, 500055 3999955, 500055 3999935, 500025 3999935"
    result = _run(before, after, tmp_path / "out", aoi_wkt=f"POLYGON (({outer}), ({hole}))")
    assert result.n_regions == 0
    mask = gdal.Open(result.mask_path).ReadAsArray()
    assert (mask[92:126, 52:108] == 255).all()  # the hole (rows 90-130, columns 50-110) is nodata
    assert (mask[:80] != 255).mean() > 0.95


def test_png_pair_without_georeferencing(tmp_path):
    before = textured(128, 5)
    after = before.copy()
    after[:, 40:70, 40:80] = 250
    b = write_raster(tmp_path / "b.png", before)
    a = write_raster(tmp_path / "a.png", after)
    result = _run(b, a, tmp_path / "out", coregister=False, pixel_size_m=0.5, method="cva")
    assert result.grid.crs_wkt == "" and result.grid.width == 128
    assert result.n_regions == 1
    assert result.regions[0].area_m2 == pytest.approx(30 * 40 * 0.25, rel=0.3)


@pytest.mark.parametrize("half", [False, True])
def test_nodata_and_cloud_masks_are_excluded(change_pair, tmp_path, half):
    before, after, truth = change_pair
    cloud = np.zeros((256, 256), np.uint8)
    cloud[90:130, 50:110] = 1  # hides the building
    cloud_path = write_raster(tmp_path / "cloud.tif", cloud, data_type=gdal.GDT_Byte)
    result = _run(before, after, tmp_path / "out", cloud_mask_after=cloud_path, half_resolution=half)
    mask = gdal.Open(result.mask_path).ReadAsArray()
    assert (mask[95:125, 55:105] == 255).all()
    assert (mask[:80] != 255).mean() > 0.95  # clear sky stays valid
    assert result.n_regions == 0


def test_same_result_without_scipy(change_pair, tmp_path, monkeypatch):
    from sitewatch.plugin.core.change import filters

    before, after, _ = change_pair
    with_scipy = _run(before, after, tmp_path / "a")
    monkeypatch.setattr(filters, "_UNIFORM", None)
    without = _run(before, after, tmp_path / "b")
    np.testing.assert_allclose(gdal.Open(with_scipy.score_path).ReadAsArray(),
                               gdal.Open(without.score_path).ReadAsArray(), atol=1e-3)
    assert without.n_regions == with_scipy.n_regions


def test_region_scores_are_the_score_statistics_over_the_region(change_pair, tmp_path):
    before, after, _ = change_pair
    result = _run(before, after, tmp_path / "out")
    assert result.n_regions == 1
    mask = gdal.Open(result.mask_path).ReadAsArray() == 1
    score = gdal.Open(result.score_path).ReadAsArray()
    region = result.regions[0]
    assert region.mean_score == pytest.approx(float(score[mask].mean()), abs=1e-5)
    assert region.max_score == pytest.approx(float(score[mask].max()), abs=1e-6)
    assert result.changed_area_m2 == pytest.approx(mask.sum() * 0.25)


def test_direct_window_reads_match_the_aligned_vrt(tmp_path):
    """A grid that is a plain window of the source is read from the file itself: same pixels
    and validity as through the VRT, in the source type on request, outside parts invalid."""
    from sitewatch.plugin.core.change.grid import AlignedView, align_pair

    data = textured(96, 4)
    b = write_raster(tmp_path / "b.tif", data, nodata=0)
    shifted_gt = (500000.0 + 8 * 0.5, 0.5, 0.0, 4000000.0 - 4 * 0.5, 0.0, -0.5)  # overlap is a window of b
    a = write_raster(tmp_path / "a.tif", data[:, 4:, 8:], geotransform=shifted_gt)
    pair = align_pair(b, a)
    try:
        assert pair.before.source is not None and pair.before.source_offset == (8, 4)
        vrt_view = AlignedView(pair.before.ds, pair.before.bands)
        for window in ((0, 0, 40, 30), (-5, -7, 50, 60), (60, 70, 40, 40)):
            direct, ok = pair.before.read(*window)
            through_vrt, ok_vrt = vrt_view.read(*window)
            np.testing.assert_array_equal(direct, through_vrt)
            np.testing.assert_array_equal(ok, ok_vrt)
        native, _ = pair.before.read(0, 0, 16, 16, native=True)
        assert native.dtype == np.uint16
        _, ok = pair.before.read(-5, -7, 50, 60)
        assert not ok[:7].any() and not ok[:, :5].any() and ok[7:, 5:].any()
    finally:
        pair.close()


def test_local_shift_field_resampling_matches_bilinear_sampling():
    from sitewatch.plugin.core.change.coregistration import ShiftModel
    from sitewatch.plugin.core.change.filters import bilinear_sample

    rng = np.random.default_rng(3)
    cx = cy = np.linspace(64, 960, 4)
    gdx, gdy = rng.normal(1.0, 0.6, (4, 4)), rng.normal(-0.5, 0.6, (4, 4))
    model = ShiftModel(1.0, -0.5, (cx, cy, gdx, gdy))
    m, (x0, y0, w, h) = model.margin, (300, 500, 90, 70)
    data = rng.normal(100, 20, (3, h + 2 * m, w + 2 * m)).astype(np.float32)
    valid = rng.random((h + 2 * m, w + 2 * m)) > 0.02
    out, ok = model.resample(data, valid, x0, y0, w, h)
    # reference: the field bilinearly interpolated at every pixel, then bilinear sampling
    fx = np.interp(np.arange(x0, x0 + w), cx, np.arange(4))
    fy = np.interp(np.arange(y0, y0 + h), cy, np.arange(4))
    gx, gy = np.meshgrid(fx, fy)
    field = bilinear_sample(np.stack([gdx, gdy]).astype(np.float32), gx, gy)
    xs = np.arange(w)[None, :] + m + field[0]
    ys = np.arange(h)[:, None] + m + field[1]
    np.testing.assert_allclose(out, bilinear_sample(data, xs, ys), atol=1e-3)
    expected_ok = bilinear_sample(valid[None].astype(np.float32), xs, ys)[0] > 0.999
    assert (ok == expected_ok).mean() > 0.999 and not ok[~expected_ok].all()


def test_overviews_written_during_the_pass_match_gdal_average(tmp_path):
    from sitewatch.plugin.core.change.model import GridInfo
    from sitewatch.plugin.core.change.outputs import OverviewWriter, build_overviews, create_raster

    rng = np.random.default_rng(5)
    height, width, block = 384, 1024, 128
    values = rng.random((height, width)).astype(np.float32)
    values[rng.random(values.shape) < 0.1] = -1.0
    values[:40, :70] = -1.0
    grid = GridInfo("", (0.0, 1.0, 0.0, 0.0, 0.0, -1.0), width, height)
    ds = create_raster(str(tmp_path / "streamed.tif"), grid, 1, gdal.GDT_Float32, -1.0, predictor=3)
    overviews = OverviewWriter(ds, -1.0, block)
    for y in range(0, height, block):
        for x in range(0, width, block):
            ds.GetRasterBand(1).WriteArray(values[y:y + block, x:x + block], x, y)
            overviews.add(values[y:y + block, x:x + block], x, y)
    overviews.finish()
    ds = overviews = None
    reference = create_raster(str(tmp_path / "reference.tif"), grid, 1, gdal.GDT_Float32, -1.0, predictor=3)
    reference.GetRasterBand(1).WriteArray(values)
    reference = None
    build_overviews(str(tmp_path / "reference.tif"))
    a, b = gdal.Open(str(tmp_path / "streamed.tif")), gdal.Open(str(tmp_path / "reference.tif"))
    np.testing.assert_array_equal(a.ReadAsArray(), values)
    assert a.GetRasterBand(1).GetOverviewCount() == b.GetRasterBand(1).GetOverviewCount() == 3
    for i in range(3):
        np.testing.assert_allclose(a.GetRasterBand(1).GetOverview(i).ReadAsArray(),
                                   b.GetRasterBand(1).GetOverview(i).ReadAsArray(), atol=1e-6)


@pytest.mark.parametrize("block_size,columns", [(64, 8192), (300, 128), (4096, 8192)])
def test_mask_clean_up_does_not_depend_on_the_strips(tmp_path, monkeypatch, block_size, columns):
    from sitewatch.plugin.core.change import regions
    from sitewatch.plugin.core.change.filters import binary_open_close
    from sitewatch.plugin.core.change.model import GridInfo
    from sitewatch.plugin.core.progress import Progress

    monkeypatch.setattr(regions, "STRIP_COLUMNS", columns)
    rng = np.random.default_rng(6)
    height, width, radius = 600, 333, 2
    raw = (box_blur_noise(rng, height, width) > 0.55).astype(np.uint8)
    raw[:30, :50] = 255  # nodata
    grid = GridInfo("", (0.0, 1.0, 0.0, 0.0, 0.0, -1.0), width, height)
    raw_path = write_raster(tmp_path / "raw.tif", raw, geotransform=grid.geotransform, epsg=None,
                            nodata=255, data_type=gdal.GDT_Byte)
    out, changed = str(tmp_path / "mask.tif"), str(tmp_path / "changed.tif")
    n = regions.clean_mask(raw_path, out, grid, radius, 0, block_size, Progress(), changed)
    cleaned = binary_open_close(raw == 1, radius)
    expected = np.where(raw != 255, cleaned.astype(np.uint8), 255)
    np.testing.assert_array_equal(gdal.Open(out).ReadAsArray(), expected)
    np.testing.assert_array_equal(gdal.Open(changed).ReadAsArray(), (expected == 1).astype(np.uint8))
    assert n == int((expected == 1).sum()) > 0


def box_blur_noise(rng, height: int, width: int) -> np.ndarray:
    from sitewatch.plugin.core.change.filters import box_mean

    return box_mean(rng.random((1, height, width)).astype(np.float32), 3)[0]


def test_half_resolution_scores_on_averaged_pixels_and_keeps_the_grid(change_pair, tmp_path):
    before, after, truth = change_pair
    full = _run(before, after, tmp_path / "full")
    half = _run(before, after, tmp_path / "half", half_resolution=True)
    score = gdal.Open(half.score_path).ReadAsArray()
    assert score.shape == (256, 256) and half.grid.geotransform[1] == 0.5
    pred = gdal.Open(half.mask_path).ReadAsArray() == 1
    tp = (pred & truth).sum()
    assert tp / truth.sum() > 0.8 and tp / pred.sum() > 0.6
    assert half.n_regions == 1 and half.regions[0].area_m2 == pytest.approx(240, rel=0.5)
    # a different computation, not a copy of the full-resolution one
    assert np.abs(score - gdal.Open(full.score_path).ReadAsArray()).max() > 0.05
    # blocks join without seams at half resolution too
    other = _run(before, after, tmp_path / "half48", half_resolution=True, block_size=48)
    assert_same_scores(gdal.Open(other.score_path).ReadAsArray(), score)
