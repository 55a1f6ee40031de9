"""Tiled runs: boxes move to source pixels, seams report an object once, NMS, georeferencing."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import gdal, osr

from sitewatch.plugin.core.equipment.tiled import (PixelBox, Window, aoi_window, boxes_to_detections,
                                                   detections_to_boxes, nms_boxes, run_tiled, window_tiles)
from sitewatch.plugin.core.errors import InputError
from sitewatch.plugin.core.tiling import tile_contains_center


def _raster(tmp_path, w=500, h=400):
    ds = gdal.GetDriverByName("GTiff").Create(str(tmp_path / "r.tif"), w, h, 1, gdal.GDT_Byte)
    ds.SetGeoTransform((1000.0, 0.5, 0, 2000.0, 0, -0.5))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32636)
    ds.SetProjection(srs.ExportToWkt())
    return ds


OBJECTS = [(130.0, 100.0), (250.0, 200.0), (255.5, 120.0), (400.0, 390.0)]  # source px


def _fake_detector(scale):
    """Reports every object fully inside the tile, in the tile array's pixels (as an engine does)."""
    def detect(array, tile):
        boxes = []
        for x, y in OBJECTS:
            if tile.x0 + 10 <= x <= tile.x1 - 10 and tile.y0 + 10 <= y <= tile.y1 - 10:
                boxes.append(PixelBox((x - tile.x0) * scale, (y - tile.y0) * scale, 16 * scale, 8 * scale, 30.0,
                                      "obj", 0.9))
        return boxes
    return detect


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_objects_on_seams_reported_once(tmp_path, scale):
    ds = _raster(tmp_path)
    tiles = window_tiles(Window(0, 0, 500, 400), 160, 60)
    # at least one object lies in two tiles' overlap
    assert any(sum(t.x0 + 10 <= x <= t.x1 - 10 and t.y0 + 10 <= y <= t.y1 - 10 for t in tiles) > 1
               for x, y in OBJECTS)
    found = run_tiled(ds, _fake_detector(scale), tile_size=160, overlap=60, out_scale=scale, nms_iou=0.99)
    assert sorted((round(b.cx, 3), round(b.cy, 3)) for b in found) == sorted(OBJECTS)
    assert all(b.length == pytest.approx(16) and b.width == pytest.approx(8) for b in found)


def test_window_tiles_offset_and_aoi(tmp_path):
    ds = _raster(tmp_path)
    aoi = "POLYGON((1050 1990, 1100 1990, 1100 1950, 1050 1950, 1050 1990))"
    win = aoi_window(ds, aoi)
    assert win == Window(100, 20, 100, 80)
    tiles = window_tiles(win, 64, 16)
    assert min(t.x0 for t in tiles) == 100 and max(t.x1 for t in tiles) == 200
    xs, ys = np.meshgrid(np.arange(100, 200) + 0.5, np.arange(20, 100) + 0.5)
    owners = sum(tile_contains_center(t, xs, ys).astype(int) for t in tiles)
    assert (owners == 1).all()
    assert aoi_window(ds, None) == Window(0, 0, 500, 400)
    with pytest.raises(InputError):
        aoi_window(ds, "POLYGON((0 0, 1 0, 1 1, 0 0))")


def test_nms_keeps_best_and_distinct():
    a = PixelBox(10, 10, 20, 10, 0, "a", 0.9)
    b = PixelBox(11, 10, 20, 10, 5, "a", 0.95)
    c = PixelBox(60, 10, 20, 10, 0, "b", 0.5)
    kept = nms_boxes([a, b, c], 0.3)
    assert kept == [b, c]
    assert nms_boxes([], 0.3) == []


def test_pixel_boxes_round_trip_through_map(tmp_path):
    gt = (1000.0, 0.5, 0.0, 2000.0, 0.0, -0.5)
    box = PixelBox(100.0, 50.0, 40.0, 10.0, 60.0, "x", 0.7)
    (det,) = boxes_to_detections([box], gt, "t")
    assert (det.cx, det.cy) == pytest.approx((1050.0, 1975.0))
    assert (det.length_m, det.width_m, det.heading_deg) == pytest.approx((20.0, 5.0, 60.0))
    (back,) = detections_to_boxes([det], gt)
    assert (back.cx, back.cy, back.length, back.width, back.angle_deg) == pytest.approx((100, 50, 40, 10, 60))
