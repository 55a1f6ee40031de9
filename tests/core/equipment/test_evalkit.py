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


def test_site_folds_keep_each_site_whole_and_balance_the_folds():
    groups = [["a1", "a2", "a3"], ["b1"], ["c1", "c2"], ["d1"], ["e1", "e2"]]
    folds = ek.site_folds(groups, 2)
    assert sorted(tuple(g) for fold in folds for g in fold) == sorted(tuple(g) for g in groups)
    assert sorted(sum(len(g) for g in fold) for fold in folds) == [4, 5]
    # by aircraft count instead of images
    weights = {"a1": 1, "a2": 1, "a3": 1, "b1": 9, "c1": 1, "c2": 1, "d1": 1, "e1": 1, "e2": 1}
    folds = ek.site_folds(groups, 2, weight=lambda g: sum(weights[i] for i in g))
    assert [["b1"]] in folds
    with pytest.raises(ValueError):
        ek.site_folds(groups, 6)
    assert ek.date_pairs(groups) == [("a1", "a2"), ("a2", "a3"), ("c1", "c2"), ("e1", "e2")]
    assert ek.spread([0.5, 0.7, 0.9]) == "mean 0.700 (min 0.500, max 0.900)"


def test_airbus_site_groups_cover_every_annotated_image_once(shared_data):
    data = ek.airbus_dir(shared_data / "airbus-aircraft")
    if data is None:
        pytest.skip("airbus-aircraft not in the shared data")
    annotated = ek.load_airbus(data)
    groups = ek.site_groups(data, annotated)
    images = [im for g in groups for im in g]
    assert sorted(images) == sorted(annotated) and len(set(images)) == len(images)
    folds = ek.site_folds(groups, 3)
    for k, fold in enumerate(folds):  # no image of a test site is in training
        test = {im for g in fold for im in g}
        train = {im for j, other in enumerate(folds) if j != k for g in other for im in g}
        assert test and train and not test & train
