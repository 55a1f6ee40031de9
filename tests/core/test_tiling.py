"""Tiles cover the raster, cores partition it, reading resamples as asked."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal, osr

from sitewatch.plugin.core.errors import InputError, UnreadableRaster
from sitewatch.plugin.core.raster import map_to_pixel, open_raster, pixel_to_map, raster_info
from sitewatch.plugin.core.tiling import iter_tiles, read_tile, tile_contains_center, tile_count


def _make_raster(path, width=300, height=200, epsg=32636, gt=(500000.0, 0.5, 0, 4000000.0, 0, -0.5)):
    ds = gdal.GetDriverByName("GTiff").Create(str(path), width, height, 2, gdal.GDT_UInt16)
    ds.SetGeoTransform(gt)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    ds.SetProjection(srs.ExportToWkt())
    yy, xx = np.mgrid[0:height, 0:width]
    ds.GetRasterBand(1).WriteArray((xx + 1000 * 0).astype(np.uint16))
    ds.GetRasterBand(2).WriteArray(yy.astype(np.uint16))
    ds.GetRasterBand(1).SetNoDataValue(0)
    ds.GetRasterBand(2).SetDescription("rows")
    ds.FlushCache()
    return str(path)


@pytest.mark.parametrize("w,h,size,overlap", [(1000, 700, 256, 32), (256, 256, 256, 64), (100, 50, 256, 32),
                                               (513, 257, 128, 0), (1001, 999, 300, 299)])
def test_cores_partition_the_raster(w, h, size, overlap):
    owner = np.zeros((h, w), dtype=np.int32)
    tiles = list(iter_tiles(w, h, size, overlap))
    assert len(tiles) == tile_count(w, h, size, overlap)
    for t in tiles:
        assert 0 <= t.x0 and t.x1 <= w and 0 <= t.y0 and t.y1 <= h
        assert t.x0 <= t.core_x0 < t.core_x1 <= t.x1 and t.y0 <= t.core_y0 < t.core_y1 <= t.y1
        owner[t.core_y0:t.core_y1, t.core_x0:t.core_x1] += 1
    assert (owner == 1).all()


def test_core_keeps_half_the_overlap_as_margin():
    tiles = list(iter_tiles(2000, 300, 500, 100))
    inner = [t for t in tiles if 0 < t.core_x0 and t.core_x1 < 2000]
    assert inner and all(t.core_x0 - t.x0 >= 50 and t.x1 - t.core_x1 >= 50 for t in inner)


def test_center_belongs_to_exactly_one_tile():
    tiles = list(iter_tiles(1000, 1000, 256, 64))
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 1000, size=(500, 2))
    counts = sum(tile_contains_center(t, pts[:, 0], pts[:, 1]).astype(int) for t in tiles)
    assert (counts == 1).all()
    assert tile_contains_center(tiles[0], 1.0, 1.0) is True


def test_bad_tiling_arguments():
    with pytest.raises(InputError):
        list(iter_tiles(100, 100, 64, 64))
    with pytest.raises(InputError):
        list(iter_tiles(0, 100, 64, 0))


def test_read_tile_full_and_resampled(tmp_path):
    ds = open_raster(_make_raster(tmp_path / "r.tif"))
    tile = list(iter_tiles(300, 200, 128, 16))[1]
    arr = read_tile(ds, tile)
    assert arr.shape == (2, tile.height, tile.width)
    assert arr[0, 0, 0] == tile.x0 and arr[1, 5, 0] == tile.y0 + 5
    half = read_tile(ds, tile, bands=[1], out_scale=0.5)
    assert half.shape == (1, 64, 64)
    # area average of columns x0, x0+1 -> x0 + 0.5
    assert half[0, 0, 0] == pytest.approx(tile.x0 + 0.5, abs=0.51)
    with pytest.raises(InputError):
        read_tile(ds, tile, bands=[3])


def test_raster_info_projected_and_geographic(tmp_path):
    info = raster_info(_make_raster(tmp_path / "p.tif"))
    assert (info.width, info.height, info.band_count) == (300, 200, 2)
    assert info.gsd_m == pytest.approx(0.5)
    assert info.nodata == 0 and info.dtype == "uint16"
    assert info.band_descriptions == ["", "rows"]
    x, y = info.pixel_to_map(10, 20)
    assert (x, y) == (500005.0, 3999990.0)
    assert map_to_pixel(info.geotransform, x, y) == pytest.approx((10, 20))
    assert pixel_to_map(info.geotransform, 0, 0) == (500000.0, 4000000.0)
    geo = raster_info(_make_raster(tmp_path / "g.tif", epsg=4326, gt=(30.0, 1e-5, 0, 60.0 + 100e-5, 0, -1e-5)))
    # 1e-5 deg at 60N: ~0.557 m along x, ~1.117 m along y
    assert geo.gsd_m == pytest.approx((0.557 + 1.117) / 2, rel=0.01)


def test_open_raster_errors(tmp_path):
    with pytest.raises(UnreadableRaster, match="does not exist"):
        open_raster(str(tmp_path / "missing.tif"))
    bad = tmp_path / "bad.tif"
    bad.write_text("not a raster")
    with pytest.raises(UnreadableRaster, match="bad.tif"):
        open_raster(str(bad))
