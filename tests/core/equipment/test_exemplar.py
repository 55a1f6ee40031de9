"""Exemplar engine on synthetic scenes: rotated copies found, clutter rejected, bad input refused."""
from __future__ import annotations

import numpy as np
import pytest
from synthetic import GSD, OBJECTS, ORIGIN, exemplar_at as _exemplar, make_scene, to_map

from sitewatch.plugin.core.equipment.api import DetectionParameters, detect_equipment
from sitewatch.plugin.core.errors import InputError





@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return make_scene(tmp_path_factory.mktemp("ex") / "scene.tif", OBJECTS, span=0.6)


def _nearest(det, objects):
    px, py = (det.cx - ORIGIN[0]) / GSD, (ORIGIN[1] - det.cy) / GSD
    d = [np.hypot(px - o[0], py - o[1]) for o in objects]
    k = int(np.argmin(d))
    return k, d[k]


def test_finds_all_rotated_copies_from_one_exemplar(scene):
    res = detect_equipment(DetectionParameters(raster=scene, exemplars=[_exemplar(100, 100, 0)], min_score=0.0,
                                               capture="d1"))
    top = res.detections[:len(OBJECTS)]
    hits = [_nearest(d, OBJECTS) for d in top]
    assert sorted(k for k, _ in hits) == list(range(len(OBJECTS)))
    assert max(dist for _, dist in hits) <= 4.0  # pixels
    for d, (k, _) in zip(top, hits):
        err = abs((d.heading_deg - OBJECTS[k][2]) % 180.0)
        assert min(err, 180 - err) <= 10.0, (d.heading_deg, OBJECTS[k])
        assert d.length_m == pytest.approx(30.0, rel=0.25) and d.class_name == "su24"
        assert d.engine == "exemplar" and d.capture == "d1" and d.crs_wkt
    # the objects outscore everything else in the clutter
    rest = res.detections[len(OBJECTS):]
    assert not rest or rest[0].score < min(d.score for d in top)
    assert res.engine == "exemplar" and res.gsd_m == pytest.approx(0.5)
    assert res.megapixels == pytest.approx(0.36)


def test_min_score_aoi_and_classes(scene):
    x0, y0 = to_map(0, 0)
    x1, y1 = to_map(350, 250)
    aoi = f"POLYGON(({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}))"
    res = detect_equipment(DetectionParameters(raster=scene, exemplars=[_exemplar(100, 100, 0)], aoi_wkt=aoi,
                                               min_score=0.6))
    assert sorted(_nearest(d, OBJECTS)[0] for d in res.detections) == [0, 1]
    res = detect_equipment(DetectionParameters(raster=scene, exemplars=[_exemplar(100, 100, 0)], aoi_wkt=aoi,
                                               classes=["mi8"]))
    assert res.detections == []


def test_rejects_bad_input(scene):
    with pytest.raises(InputError, match="at least one example"):
        detect_equipment(DetectionParameters(raster=scene, exemplars=[]))
    with pytest.raises(InputError, match="outside the raster"):
        detect_equipment(DetectionParameters(raster=scene, exemplars=[_exemplar(5000, 100, 0)]))
    with pytest.raises(InputError, match="Known engines"):
        detect_equipment(DetectionParameters(raster=scene, engine="magic"))
    x, y = to_map(2000, 2000)
    with pytest.raises(InputError, match="does not overlap"):
        detect_equipment(DetectionParameters(raster=scene, exemplars=[_exemplar(100, 100, 0)],
                                             aoi_wkt=f"POLYGON(({x} {y},{x + 10} {y},{x + 10} {y + 10},{x} {y}))"))


def test_object_on_a_tile_seam_is_found_once(tmp_path):
    # tiles of 256 source px (128 working px at 1 m): the object at x=200 straddles two tiles' overlap
    objects = [(100, 100, 0, 60), (200, 300, 30, 60), (330, 180, 120, 60)]
    path = make_scene(tmp_path / "seam.tif", objects, size=(420, 420), clutter=0, span=0.6)
    params = DetectionParameters(raster=path, exemplars=[_exemplar(100, 100, 0)], min_score=0.5,
                                 options={"tile_px": 128})
    res = detect_equipment(params)
    assert sorted(_nearest(d, objects)[0] for d in res.detections) == [0, 1, 2]


def test_coarse_stage_one_finds_the_same_objects(scene):
    # decimated candidate search (2 m per stage-1 pixel here) keeps every object, position and heading
    ex = [_exemplar(100, 100, 0)]
    fine = detect_equipment(DetectionParameters(raster=scene, exemplars=ex, min_score=0.5,
                                                options={"coarse_factor_max": 1}))
    coarse = detect_equipment(DetectionParameters(raster=scene, exemplars=ex, min_score=0.5,
                                                  options={"coarse_min_pixels": 6}))
    for res in (fine, coarse):
        hits = [_nearest(d, OBJECTS) for d in res.detections]
        assert sorted(k for k, _ in hits) == list(range(len(OBJECTS)))
        assert max(dist for _, dist in hits) <= 4.0
        for d, (k, _) in zip(res.detections, hits):
            err = abs((d.heading_deg - OBJECTS[k][2]) % 180.0)
            assert min(err, 180 - err) <= 10.0, (d.heading_deg, OBJECTS[k])


def test_threads_give_the_same_result(scene):
    ex = [_exemplar(100, 100, 0), _exemplar(300, 120, 90)]
    runs = [detect_equipment(DetectionParameters(raster=scene, exemplars=ex, min_score=0.3,
                                                 options={"threads": n})).detections for n in (1, 2)]
    assert len(runs[0]) >= len(OBJECTS)
    assert [(d.cx, d.cy, d.heading_deg, d.score) for d in runs[0]] == \
        [(d.cx, d.cy, d.heading_deg, d.score) for d in runs[1]]


def test_orientation_and_sampling_helpers():
    from sitewatch.plugin.core.equipment.engines import exemplar as ex

    rng = np.random.default_rng(3)
    gx, gy = rng.normal(size=(2, 4000)).astype(np.float32)
    gx[:4], gy[:4] = [0, 0, -1, 1], [0, -1, 0, 0]
    err = np.abs(ex._orientation(gx, gy) - np.arctan2(gy, gx) % np.pi)
    assert np.minimum(err, np.pi - err).max() < 1e-4
    # an un-rotated patch of side P on integer centres is the image crop itself; 90 degrees is a transpose
    img = rng.normal(size=(100, 120)).astype(np.float32)
    p = ex._P
    c = (p - 1) / 2.0
    out = ex._sample(img, [40 + c, 10 + c], [20 + c, 50 + c], [0.0, 90.0], [p, p])
    np.testing.assert_allclose(out[0], img[20:20 + p, 40:40 + p], atol=1e-4)
    np.testing.assert_allclose(out[1], img[50:50 + p, 10:10 + p][:, ::-1].T, atol=1e-4)
