"""Zone-by-zone clean-up and polygons equal the full-raster clean_mask + polygonise."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal, ogr

from change_helpers import write_raster
from test_detect_changes import box_blur_noise

GT = (500000.0, 0.5, 0.0, 4000000.0, 0.0, -0.5)


def _grid(height: int, width: int):
    from sitewatch.plugin.core.change.model import GridInfo
    from sitewatch.plugin.core.change.outputs import srs_of

    from osgeo import osr

    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    grid = GridInfo(srs.ExportToWkt(), GT, width, height)
    assert srs_of(grid) is not None
    return grid


def _inputs(tmp_path, raw: np.ndarray, seed: int = 0):
    rng = np.random.default_rng(seed)
    score = rng.random(raw.shape).astype(np.float32)
    score[raw == 255] = -1.0
    score[rng.random(raw.shape) < 0.02] = -1.0  # some score nodata inside changes too
    raw_path = write_raster(tmp_path / "raw.tif", raw, GT, 32633, 255, gdal.GDT_Byte)
    score_path = write_raster(tmp_path / "score.tif", score, GT, 32633, -1.0, gdal.GDT_Float32)
    return raw_path, score_path


def _old(tmp_path, raw_path, score_path, grid, radius, min_area):
    from sitewatch.plugin.core.change.regions import clean_mask, polygonise
    from sitewatch.plugin.core.progress import Progress

    mask, changed, gpkg = (str(tmp_path / n) for n in ("old_mask.tif", "old_changed.tif", "old.gpkg"))
    clean_mask(raw_path, mask, grid, radius, min_area, 512, Progress(), changed)
    result = polygonise(changed, score_path, gpkg, "change_regions", grid, 1.0, Progress(), changed_only=True)
    return gdal.Open(mask).ReadAsArray(), result, gpkg


def _new(tmp_path, raw_path, score_path, grid, radius, min_area, tag="new"):
    from sitewatch.plugin.core.change.zones import clean_and_polygonise
    from sitewatch.plugin.core.progress import Progress

    mask, gpkg = str(tmp_path / f"{tag}_mask.tif"), str(tmp_path / f"{tag}.gpkg")
    seen = []
    result = clean_and_polygonise(raw_path, score_path, mask, gpkg, "change_regions", grid, radius, min_area, 1.0,
                                  Progress(lambda f, m: seen.append(f)))
    assert seen and all(0.0 <= a <= b <= 1.0 for a, b in zip(seen, seen[1:]))  # monotone progress
    ds = gdal.Open(mask)
    assert ds.GetRasterBand(1).GetNoDataValue() == 255
    assert "COMPRESSION" in ds.GetMetadata("IMAGE_STRUCTURE")
    return ds.ReadAsArray(), result, gpkg


def _layer_rows(gpkg: str) -> list[tuple]:
    from sitewatch.plugin.core.change.regions import REGION_FIELDS

    ds = ogr.Open(gpkg)
    layer = ds.GetLayerByName("change_regions")
    assert [layer.GetLayerDefn().GetFieldDefn(i).GetName() for i in range(layer.GetLayerDefn().GetFieldCount())] == \
        [name for name, _ in REGION_FIELDS]
    rows = [tuple(f.GetField(name) for name, _ in REGION_FIELDS) + (f.GetGeometryRef().ExportToWkt(),) for f in layer]
    return sorted(rows, key=lambda r: (round(r[6], 6), round(r[7], 6)))


def _assert_same(old, new):
    old_mask, (old_regions, old_n, old_area), old_gpkg = old
    new_mask, (new_regions, new_n, new_area), new_gpkg = new
    np.testing.assert_array_equal(new_mask, old_mask)
    assert new_n == old_n == len(new_regions)
    assert new_area == pytest.approx(old_area, rel=1e-9)
    key = lambda r: (round(r.centroid_x, 6), round(r.centroid_y, 6))  # noqa: E731
    for a, b in zip(sorted(old_regions, key=key), sorted(new_regions, key=key)):
        for name in ("area_m2", "mean_score", "max_score", "length_m", "width_m", "compactness",
                     "centroid_x", "centroid_y"):
            assert getattr(b, name) == pytest.approx(getattr(a, name), rel=1e-9, abs=1e-9), name
        assert ogr.CreateGeometryFromWkt(b.wkt).Equals(ogr.CreateGeometryFromWkt(a.wkt))
    old_rows, new_rows = _layer_rows(old_gpkg), _layer_rows(new_gpkg)
    assert len(old_rows) == len(new_rows) == old_n
    for a, b in zip(old_rows, new_rows):
        assert b[:8] == pytest.approx(a[:8], rel=1e-9, abs=1e-9)
        assert ogr.CreateGeometryFromWkt(b[8]).Equals(ogr.CreateGeometryFromWkt(a[8]))


def _sparse_raw(seed: int, height: int = 420, width: int = 520) -> np.ndarray:
    """Separate blobs (some on the raster edges, one ring with a small and a large hole),
    speckle everywhere, nodata patches (one cutting a blob, one on the raster edge)."""
    rng = np.random.default_rng(seed)
    noise = box_blur_noise(rng, height, width)
    raw = np.zeros((height, width), np.uint8)
    for cy, cx in ((0, 0), (30, width - 25), (height - 20, 170), (200, 60), (70, 260), (height - 1, width - 1)):
        y0, x0 = max(cy - 28, 0), max(cx - 28, 0)
        raw[y0:cy + 28, x0:cx + 28] |= noise[y0:cy + 28, x0:cx + 28] > 0.47
    yy, xx = np.mgrid[:height, :width]
    ring = np.hypot(yy - 240.0, xx - 330.0)
    raw[(ring < 30)] = 1
    raw[(ring < 3)] = 0  # small hole
    raw[(np.abs(yy - 240) < 6) & (np.abs(xx - 342) < 9)] = 0  # larger hole
    raw[rng.random(raw.shape) < 0.01] = 1  # speckle the opening removes
    raw[:25, 230:290] = 255
    raw[180:230, 50:70] = 255
    raw[height - 12:, :40] = 255
    return raw


@pytest.mark.parametrize("radius,min_area", [(1, 0), (1, 60), (2, 400), (0, 12), (3, 150), (5, 300), (6, 300)])
def test_zones_equal_the_full_raster_path(tmp_path, monkeypatch, radius, min_area):
    from sitewatch.plugin.core.change import zones

    raw = _sparse_raw(radius * 10 + min_area)
    if radius == 0:
        raw[raw == 1] = np.where(np.random.default_rng(1).random(int((raw == 1).sum())) < 0.9, 1, 0)
    raw_path, score_path = _inputs(tmp_path, raw)
    grid = _grid(*raw.shape)
    old = _old(tmp_path, raw_path, score_path, grid, radius, min_area)
    full_calls, found = [], []
    monkeypatch.setattr(zones, "clean_mask", lambda *a, **k: full_calls.append(a))
    find_zones = zones.find_zones
    monkeypatch.setattr(zones, "find_zones", lambda *a: found.append(find_zones(*a)[1]) or find_zones(*a))
    new = _new(tmp_path, raw_path, score_path, grid, radius, min_area)
    assert not full_calls  # the zone path, not the fallback
    assert len(found[0]) >= (1 if radius == 0 else 3)  # speckle without opening: one zone
    _assert_same(old, new)
    assert old[1][1] >= 2
    if min_area > 1:  # the sieve did something: some cleaned region or hole was removed
        from sitewatch.plugin.core.change.filters import binary_open_close

        cleaned = np.where(raw != 255, binary_open_close(raw == 1, radius).astype(np.uint8), 255)
        assert (cleaned != new[0]).any()


def test_zone_path_finds_several_zones_and_edge_regions(tmp_path):
    from sitewatch.plugin.core.change.zones import TILE, opening_tiles, find_zones
    from sitewatch.plugin.core.progress import Progress

    raw = _sparse_raw(3)
    raw_path, _ = _inputs(tmp_path, raw)
    grid = _grid(*raw.shape)
    tiles = opening_tiles(raw_path, grid, 1, 256, Progress())
    _, found = find_zones(tiles, 1, grid)
    assert find_zones(tiles, 1, grid)[1] == found
    assert len(found) >= 3
    assert any(z.window[0] == 0 and z.window[1] == 0 for z in found)
    assert tiles.sum() < tiles.size / 2  # the speckle alone marks no tile
    assert TILE * tiles.shape[0] >= grid.height


def test_dense_change_falls_back_to_the_full_raster(tmp_path, monkeypatch):
    from sitewatch.plugin.core.change import regions, zones

    rng = np.random.default_rng(6)
    raw = (box_blur_noise(rng, 300, 260) > 0.52).astype(np.uint8)
    raw[:30, :50] = 255
    raw_path, score_path = _inputs(tmp_path, raw, 2)
    grid = _grid(*raw.shape)
    old = _old(tmp_path, raw_path, score_path, grid, 1, 30)
    calls = []

    def spy(*args, **kwargs):
        calls.append(args)
        return regions.clean_mask(*args, **kwargs)

    monkeypatch.setattr(zones, "clean_mask", spy)
    monkeypatch.setattr(zones, "ZONE_BUDGET_PX", 5_000)
    new = _new(tmp_path, raw_path, score_path, grid, 1, 30)
    assert len(calls) == 1
    _assert_same(old, new)


def test_dense_random_mask_through_zones(tmp_path, monkeypatch):
    """Many holes, regions and nodata, all in large zones: no fallback needed, same result."""
    from sitewatch.plugin.core.change import zones

    rng = np.random.default_rng(8)
    raw = (box_blur_noise(rng, 260, 300) > 0.53).astype(np.uint8)
    raw[100:140, 40:90] = 255
    raw_path, score_path = _inputs(tmp_path, raw, 3)
    grid = _grid(*raw.shape)
    old = _old(tmp_path, raw_path, score_path, grid, 1, 40)
    calls = []
    monkeypatch.setattr(zones, "clean_mask", lambda *a, **k: calls.append(a))
    new = _new(tmp_path, raw_path, score_path, grid, 1, 40)
    assert not calls and old[1][1] > 10
    _assert_same(old, new)


def test_small_background_piece_leaving_a_zone_falls_back(tmp_path, monkeypatch):
    """Valid data only in a thin band: the unchanged band left of a change is a small piece
    running out of the zone; the sieve merges it into the change, far outside the zone."""
    from sitewatch.plugin.core.change import regions, zones

    raw = np.full((128, 600), 255, np.uint8)
    raw[60:66, :] = 0
    raw[60:66, 150:350] = 1  # 1200 px; the band beside it: 6 x 150 px left, 6 x 250 px right
    raw_path, score_path = _inputs(tmp_path, raw, 4)
    grid = _grid(*raw.shape)
    calls = []

    def spy(*args, **kwargs):
        calls.append(args)
        return regions.clean_mask(*args, **kwargs)

    old = _old(tmp_path, raw_path, score_path, grid, 1, 1000)
    monkeypatch.setattr(zones, "clean_mask", spy)
    new = _new(tmp_path, raw_path, score_path, grid, 1, 1000)
    assert len(calls) == 1
    _assert_same(old, new)
    assert old[1][1] == 1 and (new[0][60:66, :350] == 1).all()  # the left piece joined the change


def test_no_change_writes_the_whole_mask_and_an_empty_layer(tmp_path):
    raw = np.zeros((70, 90), np.uint8)
    raw[:10] = 255
    raw[40, 40] = 1  # one speck: removed by the opening
    raw_path, score_path = _inputs(tmp_path, raw)
    grid = _grid(*raw.shape)
    mask, (regions_, n, area), gpkg = _new(tmp_path, raw_path, score_path, grid, 1, 10)
    assert (regions_, n, area) == ([], 0, 0.0)
    np.testing.assert_array_equal(mask, np.where(raw == 255, 255, 0))
    assert ogr.Open(gpkg).GetLayerByName("change_regions").GetFeatureCount() == 0


def test_cancel_raises_cancelled(tmp_path):
    from sitewatch.plugin.core.change.zones import clean_and_polygonise
    from sitewatch.plugin.core.errors import Cancelled
    from sitewatch.plugin.core.progress import Progress

    raw = _sparse_raw(5)
    raw_path, score_path = _inputs(tmp_path, raw)
    grid = _grid(*raw.shape)
    calls = []

    def cancel_after_a_few(fraction, message):
        calls.append(fraction)
        return len(calls) < 4

    with pytest.raises(Cancelled):
        clean_and_polygonise(raw_path, score_path, str(tmp_path / "m.tif"), str(tmp_path / "r.gpkg"),
                             "change_regions", grid, 1, 20, 1.0, Progress(cancel_after_a_few))
    assert len(calls) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw.tif", "score.tif"]  # nothing half-written


def test_zones_equal_the_full_raster_path_without_scipy(tmp_path, monkeypatch):
    from sitewatch.plugin.core import deps
    from sitewatch.plugin.core.change import filters

    is_available = deps.is_available
    monkeypatch.setattr(deps, "is_available", lambda name: name != "scipy" and is_available(name))
    monkeypatch.setattr(filters, "_UNIFORM", None)
    raw = _sparse_raw(11)
    raw_path, score_path = _inputs(tmp_path, raw)
    grid = _grid(*raw.shape)
    _assert_same(_old(tmp_path, raw_path, score_path, grid, 1, 60), _new(tmp_path, raw_path, score_path, grid, 1, 60))


@pytest.mark.parametrize("seed", [0, 1])
def test_numpy_labelling_equals_scipy(seed):
    from scipy.ndimage import label

    from sitewatch.plugin.core.change.zones import label8_numpy

    rng = np.random.default_rng(seed)
    mask = box_blur_noise(rng, 90, 130) > 0.5
    mask[:, 0] = True  # a run on the first column
    mask[-1, :] = True
    expected, n = label(mask, structure=np.ones((3, 3), bool))
    labels, m = label8_numpy(mask)
    assert m == n > 5
    np.testing.assert_array_equal(labels, expected)
    assert label8_numpy(np.zeros((4, 5), bool))[1] == 0
