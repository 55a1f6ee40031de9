"""Evaluation helpers shared by the equipment evaluations (tools/evalkit.py)."""
from __future__ import annotations

import numpy as np
import pytest

import evalkit as ek


def _sq(x, y, s=10.0):
    return np.array([[x, y], [x + s, y], [x + s, y + s], [x, y + s]], dtype=float)


def test_match_at_iou_counts_and_ignores():
    gt = [_sq(0, 0), _sq(100, 0), _sq(200, 0)]
    pred = [_sq(1, 0), _sq(0.5, 0), _sq(100, 6), _sq(300, 0), _sq(500, 0)]
    # second box on gt0 is a duplicate (fp); _sq(100, 6) overlaps gt1 at IoU 0.25 (fp)
    assert ek.match_at_iou(pred, gt, 0.5) == (1, 4, 2)
    # a prediction on an ignored exemplar counts neither way
    assert ek.match_at_iou(pred, gt, 0.5, ignore_polys=[_sq(500, 0)]) == (1, 3, 2)
    # best score first: the better-scored duplicate takes the match
    assert ek.match_at_iou(pred[:2], gt[:1], 0.5, scores=[0.1, 0.9]) == (1, 1, 0)


def test_prf_and_count_error():
    assert ek.prf(8, 2, 8) == pytest.approx((0.8, 0.5, 2 * 0.8 * 0.5 / 1.3))
    assert ek.prf(0, 0, 0) == (0.0, 0.0, 0.0)
    assert ek.median_count_error([(10, 12), (5, 5), (9, 3)]) == 2.0


def test_boxes_to_map_and_back():
    gt = ek.airbus_geotransform()
    poly = _sq(10, 20, 4)
    (m,) = ek.pixel_boxes_to_map([poly], gt)
    assert m[0] == pytest.approx([gt[0] + 5.0, gt[3] - 10.0])
    assert ek.map_boxes_to_pixel([m], gt)[0] == pytest.approx(poly)


def test_airbus_annotations_and_vrt(shared_data, tmp_path):
    data = ek.airbus_dir(shared_data / "airbus-aircraft")
    if data is None:
        pytest.skip("airbus-aircraft not in the shared data")
    boxes = ek.load_airbus(data)
    assert len(boxes) > 50 and all(b.shape == (4, 2) for v in boxes.values() for b in v)
    sites = ek.airbus_sites(data)
    assert sites["same_site_series"] and all(len(s) >= 2 for s in sites["same_site_series"])
    image = sorted(boxes)[0]
    from sitewatch.plugin.core.raster import raster_info

    info = raster_info(ek.georeferenced_vrt(data / "images" / image, tmp_path))
    assert (info.width, info.height, info.gsd_m) == (2560, 2560, 0.5) and "36N" in info.crs_wkt
