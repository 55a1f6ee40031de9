"""Exemplar engine internals: blocked stage-1 correlation, exact box means, tile layout, score floor,
and exemplars taken from another capture than the one searched."""
from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from synthetic import OBJECTS, exemplar_at as _exemplar, make_scene, to_map

from sitewatch.plugin.core.equipment.api import DetectionParameters, detect_equipment
from sitewatch.plugin.core.equipment.engines import exemplar as ex
from sitewatch.plugin.core.errors import InputError
from sitewatch.plugin.core.tiling import iter_tiles





def _direct_best(norm, kernels):
    """Best correlation over kernels by one full-size FFT per kernel (the reference)."""
    _, h, w = norm.shape
    d = kernels.shape[-1]
    spec = np.fft.rfft2(norm, s=(h, w))
    out = np.stack([np.fft.irfft2((np.conj(np.fft.rfft2(k, s=(h, w))) * spec).sum(axis=0), s=(h, w))
                    [:h - d + 1, :w - d + 1] for k in kernels])
    return out.max(axis=0), out.argmax(axis=0), np.sort(out, axis=0)


@pytest.mark.parametrize("shape,d,block", [((150, 170), 11, 40), ((97, 64), 9, 512), ((60, 200), 15, 32)])
def test_blocked_correlation_equals_direct(shape, d, block):
    rng = np.random.default_rng(4)
    norm = rng.normal(size=(2,) + shape).astype(np.float32)
    kernels = rng.normal(size=(5, 2, d, d)).astype(np.float32)
    tpl = ex._Template(kernels, np.arange(5) * 72.0, d, None, 1.0, None, None)
    best = ex._best_rotation(norm, tpl, block=block)
    ref, ref_k, ranked = _direct_best(norm.astype(np.float64), kernels.astype(np.float64))
    assert best.shape == ref.shape == (shape[0] - d + 1, shape[1] - d + 1)
    np.testing.assert_allclose(best, ref, atol=1e-3 * np.abs(ref).max())
    assert len(tpl.spectra) == 1  # the kernels' spectra are kept for the next tile of the same block size
    # the rotation at chosen positions, where no two rotations nearly tie
    ys, xs = np.nonzero((ranked[-1] - ranked[-2]) > 1e-3 * np.abs(ref).max())
    pick = rng.choice(len(ys), size=min(200, len(ys)), replace=False)
    assert np.array_equal(ex._rotation_at(norm, tpl, ys[pick], xs[pick]), ref_k[ys[pick], xs[pick]])


@pytest.mark.parametrize("scipy_installed", [True, False])
def test_box_mean_keeps_precision_on_bright_large_tiles(scipy_installed):
    # bright values on a large tile: a float32 integral image loses about 0.05 here
    rng = np.random.default_rng(5)
    img = (1000.0 + rng.normal(0, 20, size=(900, 700))).astype(np.float32)
    d = 27
    r0 = d // 2
    pad = np.pad(img.astype(np.float64), ((r0, r0), (r0, r0)), mode="reflect")
    s = np.zeros((pad.shape[0] + 1, pad.shape[1] + 1))
    s[1:, 1:] = pad.cumsum(0).cumsum(1)
    ref = (s[d:, d:] - s[:-d, d:] - s[d:, :-d] + s[:-d, :-d]) / d ** 2
    with mock.patch("sitewatch.plugin.core.deps.is_available", return_value=scipy_installed):
        out = ex._box_mean(img, d)
    assert out.dtype == np.float32 and out.shape == img.shape
    assert np.abs(out - ref).max() < 1e-3


def test_balanced_tiles_cover_the_window_with_few_equal_tiles():
    assert ex._balanced_tile(2000, 2048, 200) == 2000  # up to 1.25 x the tile: one tile
    side = ex._balanced_tile(4096, 2048, 236)
    tiles = list(iter_tiles(4096, 4096, side, 236))
    assert len(tiles) == 4 and side <= 1.25 * 2048
    for length, tile, overlap in ((10000, 4096, 150), (5000, 2048, 300), (3000, 512, 100)):
        side = ex._balanced_tile(length, tile, overlap)
        starts = sorted({t.x0 for t in iter_tiles(length, 64, side, overlap)})
        assert side <= 1.25 * tile + overlap
        assert len(starts) == int(np.ceil((length - overlap) / (1.25 * tile - overlap)))
        assert all(b - a <= side - overlap for a, b in zip(starts, starts[1:]))  # overlaps kept


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp("two")
    # the second capture lacks the exemplar's object (it left) and has the others
    return (make_scene(root / "a.tif", OBJECTS, span=0.6),
            make_scene(root / "b.tif", OBJECTS[1:], span=0.6, seed=1))


def test_min_score_floor_reports_the_same_boxes(scenes):
    ex_boxes = [_exemplar(100, 100, 0)]
    everything = detect_equipment(DetectionParameters(raster=scenes[0], exemplars=ex_boxes, min_score=0.0))
    floored = detect_equipment(DetectionParameters(raster=scenes[0], exemplars=ex_boxes, min_score=0.5))
    kept = [(d.cx, d.cy, d.score) for d in everything.detections if d.score >= 0.5]
    assert len(kept) >= len(OBJECTS) and len(everything.detections) > len(kept)
    assert [(d.cx, d.cy, d.score) for d in floored.detections] == kept


def _object_index(det, objects, tolerance_px=6.0):
    """Index of the object within tolerance of a detection's centre, else None."""
    x0, y0 = to_map(0, 0)
    px, py = (det.cx - x0) / 0.5, (y0 - det.cy) / 0.5
    dist = [np.hypot(px - o[0], py - o[1]) for o in objects]
    k = int(np.argmin(dist))
    return k if dist[k] <= tolerance_px else None


def test_exemplars_drawn_on_another_capture(scenes):
    a, b = scenes
    ex_boxes = [_exemplar(100, 100, 0)]
    from_a = detect_equipment(DetectionParameters(raster=b, exemplars=ex_boxes, exemplar_raster=a, min_score=0.5))
    assert sorted(_object_index(d, OBJECTS) for d in from_a.detections) == list(range(1, len(OBJECTS)))
    # read from the searched capture itself, the example box holds bare apron: no object is like it
    from_b = detect_equipment(DetectionParameters(raster=b, exemplars=ex_boxes, min_score=0.5))
    assert all(_object_index(d, OBJECTS[1:]) is None for d in from_b.detections)
    with pytest.raises(InputError, match="outside the raster"):
        detect_equipment(DetectionParameters(raster=b, exemplars=[_exemplar(5000, 100, 0)], exemplar_raster=a))


def _shifted_scene(path, objects, dx, dy, gain=1.0, seed=2):
    """make_scene's objects moved by (dx, dy) pixels, levels scaled by gain (another date, misregistered)."""
    from osgeo import gdal

    make_scene(path, [(x + dx, y + dy, h, n) for x, y, h, n in objects], span=0.6, seed=seed)
    ds = gdal.Open(str(path), gdal.GA_Update)
    for b in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(b)
        band.WriteArray(np.clip(band.ReadAsArray() * gain, 0, 255).astype(np.uint8))
    ds = None
    return str(path)


def _engine_setup(raster, exemplar_raster, exemplar):
    """What ExemplarEngine.detect builds before searching: template from the exemplar's raster,
    classifier against the searched raster's background."""
    from sitewatch.plugin.core.equipment.tiled import Window, detections_to_boxes
    from sitewatch.plugin.core.raster import open_raster, raster_info

    ds, ex_ds = open_raster(raster), open_raster(exemplar_raster)
    info = raster_info(ds)
    box = detections_to_boxes([exemplar], raster_info(ex_ds).geotransform)[0]
    tpl = ex.ExemplarEngine._template(ex_ds, box, 0.5, 15.0, 1)
    backgrounds = ex.ExemplarEngine._fit_verifiers(ds, Window(0, 0, info.width, info.height), [tpl], 0.5, 600)
    return ds, info, tpl, backgrounds


def test_exemplar_look_comes_from_the_searched_capture_where_the_object_still_is(tmp_path, scenes):
    a = scenes[0]
    exemplar = _exemplar(100, 100, 0)
    opts = {**ex.DEFAULTS, "min_score": 0.0}
    # the object is still there, 4 px off (misregistration) and darker: the look comes from this capture
    moved = _shifted_scene(tmp_path / "moved.tif", OBJECTS, 4, -3, gain=0.8)
    ds, info, tpl, backgrounds = _engine_setup(moved, a, exemplar)
    anchored = ex.ExemplarEngine._look_here(ds, info, tpl, exemplar, 0.5, opts, backgrounds)
    assert anchored is not None
    own = ex.ExemplarEngine._template(ds, anchored.box, 0.5, 15.0, 1)
    # cut where the object is found (104, 97), not under the box drawn (100, 100): an off-centre
    # template would place every detection off by the misregistration
    assert (anchored.box.cx, anchored.box.cy) == pytest.approx((104.0, 97.0), abs=1.5)
    np.testing.assert_allclose(anchored.kernels, own.kernels)
    assert not np.allclose(anchored.kernels, tpl.kernels, atol=1e-3)
    assert anchored.box.length == pytest.approx(tpl.box.length) and anchored.scales == tpl.scales
    # the object left (the second scene lacks it): the look stays as drawn
    ds, info, tpl, backgrounds = _engine_setup(scenes[1], a, exemplar)
    assert ex.ExemplarEngine._look_here(ds, info, tpl, exemplar, 0.5, opts, backgrounds) is None


def test_detections_with_examples_from_a_misregistered_capture_sit_on_the_objects(tmp_path, scenes):
    """Examples drawn on one capture, searched in another displaced by (4, -3) px: the boxes
    are where the objects are in the capture searched."""
    from sitewatch.plugin.core.equipment.api import DetectionParameters, detect_equipment

    moved = _shifted_scene(tmp_path / "moved.tif", OBJECTS, 4, -3, gain=0.8)
    result = detect_equipment(DetectionParameters(raster=moved, engine="exemplar", exemplars=[_exemplar(100, 100, 0)],
                                                  exemplar_raster=scenes[0], min_score=0.5))
    truth = np.array([to_map(x + 4, y - 3) for x, y, _, _ in OBJECTS])
    found = np.array([(d.cx, d.cy) for d in result.detections])
    assert len(found) >= 5
    nearest = np.hypot(*(found[:, None, :] - truth[None]).transpose(2, 0, 1)).min(axis=1)
    assert np.median(nearest) < 1.0 and nearest.max() < 2.0  # metres (0.5 m pixels)
