"""The optional compiled kernels (numba) give the numpy path's results, and the numpy path
stays in use, and says how to get the faster one, when numba is missing or switched off."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from osgeo import gdal

from change_helpers import assert_same_scores, textured

numba = pytest.importorskip("numba", reason="numba (optional) is not installed: only the numpy path can run")


@pytest.fixture
def numpy_path(monkeypatch):
    """A context in which the numpy path runs (the compiled one stays the default outside)."""
    from sitewatch.plugin.core.change.acceleration import DISABLE_ENV

    class _Switch:
        def __enter__(self):
            monkeypatch.setenv(DISABLE_ENV, "1")

        def __exit__(self, *exc):
            monkeypatch.delenv(DISABLE_ENV)

    return _Switch()


def _scene(size: int, bands: int, seed: int):
    """A textured pair with an arrival, a departure, a brightness change and a colourful field."""
    before = textured(size, seed, bands=bands)
    rng = np.random.default_rng(seed + 1)
    after = before * 1.1 + 7 + rng.normal(0, 1.0, before.shape).astype(np.float32)
    after[:, 30:52, 40:90] = 235.0  # a new roof
    before[:, 90:110, 20:35] = 30.0  # something that left
    after[:, 120:150, 100:140] *= 1.6  # brighter only
    before[1 % bands, :, size - 40:] += 60.0  # a green field (colourful on both dates)
    after[1 % bands, :, size - 40:] += 40.0
    return before.astype(np.float32), after.astype(np.float32)


def _assert_close(compiled: np.ndarray, reference: np.ndarray) -> None:
    """float32 rounding in another order: about 1e-7 on the raw cues, up to 1e-4 where the
    score's steep middle (the 8th power around the threshold) amplifies it; the stored score
    has steps of 1e-3."""
    diff = np.abs(compiled.astype(np.float64) - reference)
    assert diff.max() < 1e-4
    assert diff.mean() < 5e-6


def _fitted(before, after, halo: int, **overrides):
    from sitewatch.plugin.core.change.methods import Tile, make_method

    method = make_method("structure")
    for name, value in overrides.items():
        setattr(method, name, value)
    method.fit([Tile(before, after, np.ones(before.shape[1:], bool), halo)])
    return method


@pytest.mark.parametrize("bands", [4, 3, 5, 1])
@pytest.mark.parametrize("shape", [(200, 200), (171, 133)])
def test_structure_score_equals_the_numpy_path(numpy_path, bands, shape):
    """Four bands take the unrolled IR-MAD row; the others the general one (one band: no chroma prior). Odd sizes
    exercise the decimation's replicated edges."""
    size = max(shape)
    before, after = _scene(size, bands, seed=bands)
    before, after = before[:, :shape[0], :shape[1]].copy(), after[:, :shape[0], :shape[1]].copy()
    method = _fitted(before, after, 8)
    valid = np.ones(shape, bool)
    for core in (0, 1, 32):
        compiled = method.score(before, after, valid, core=core)
        with numpy_path:
            reference = method.score(before, after, valid, core=core)
        assert compiled.shape == reference.shape
        assert compiled.dtype == np.float32
        _assert_close(compiled, reference)
        assert ((compiled > 0.5) != (reference > 0.5)).sum() <= 2
        assert (reference > 0.5).sum() > 200  # the scene has changes to agree on


@pytest.mark.parametrize("overrides", [dict(FUSE_IRMAD=False), dict(NATURAL_PRIOR=False),
                                       dict(band_keys=["blue", "green", "red", "nir"])])
def test_structure_score_equals_the_numpy_path_without_irmad_or_prior(numpy_path, overrides):
    """Without IR-MAD, without the prior, and with the prior's hue window on named bands."""
    before, after = _scene(160, 4, seed=9)
    method = _fitted(before, after, 8, **overrides)
    valid = np.ones(before.shape[1:], bool)
    compiled = method.score(before, after, valid, core=4)
    with numpy_path:
        reference = method.score(before, after, valid, core=4)
    _assert_close(compiled, reference)


@pytest.mark.parametrize("radius", [1, 2, 3, 4, 6])
@pytest.mark.parametrize("shape", [(37, 53), (5, 3), (1, 9)])
def test_box_mean_equals_the_numpy_one(radius, shape):
    """Mirrored edges included, also where the window is wider than the array."""
    from sitewatch.plugin.core.change import compiled
    from sitewatch.plugin.core.change.filters import box_mean_numpy

    image = np.random.default_rng(radius).normal(size=shape).astype(np.float32)
    np.testing.assert_allclose(compiled.box_mean(image, radius), box_mean_numpy(image[None], radius)[0], atol=1e-5)


@pytest.mark.parametrize("dtype", [np.uint16, np.uint8, np.float32])
@pytest.mark.parametrize("shift", [(-2.69, -2.64), (1.25, 0.5), (0.0, 3.75)])
@pytest.mark.parametrize("normalised", [False, True])
def test_shift_sampling_is_bit_identical(numpy_path, dtype, shift, normalised):
    """The sampling, and the radiometric normalisation applied with it, as numpy computes them
    (sampling, then apply_normalisation)."""
    from sitewatch.plugin.core.change.filters import shift_subpixel
    from sitewatch.plugin.core.change.model import BandFit, NormalisationFit
    from sitewatch.plugin.core.change.normalisation import apply_normalisation, band_terms

    rng = np.random.default_rng(3)
    strip = (rng.random((4, 80, 300)) * 200).astype(dtype)
    window = strip[:, :, 40:40 + 70]  # a strided view, as the scoring pass hands over
    fit = NormalisationFit(applied=normalised, bands=[BandFit(b + 1, b + 1, 1.1 + 0.07 * b, -3.3 * b, 0.9, 1.0,
                                                              "orthogonal") for b in range(4)])
    compiled = shift_subpixel(window, *shift, margin=6, terms=band_terms(fit))
    with numpy_path:
        reference = shift_subpixel(window, *shift, margin=6, terms=band_terms(fit))
        sampled_then_normalised = apply_normalisation(shift_subpixel(window, *shift, margin=6), fit)
    assert compiled.dtype == np.float32
    np.testing.assert_array_equal(compiled, reference)
    np.testing.assert_array_equal(reference, sampled_then_normalised)


def test_pipeline_gives_the_same_change_either_way(change_pair, tmp_path, numpy_path):
    from sitewatch.plugin.core.change import ChangeParameters, detect_changes

    from sitewatch.plugin.core.progress import Progress

    before, after, _ = change_pair
    messages = []
    fast = detect_changes(ChangeParameters(before, after, str(tmp_path / "fast")),
                          Progress(lambda value, message: messages.append(message)))
    with numpy_path:
        slow = detect_changes(ChangeParameters(before, after, str(tmp_path / "slow")))
    assert "compiled kernels (numba" in fast.scoring
    assert any(m.startswith("Loading the compiled change kernels") for m in messages)
    assert fast.scoring in messages  # the user sees which path scores
    assert slow.scoring.startswith("Change scoring: numpy")
    assert fast.scoring_advice == slow.scoring_advice == ""  # numba is there; switched off on purpose
    assert_same_scores(gdal.Open(fast.score_path).ReadAsArray(), gdal.Open(slow.score_path).ReadAsArray())
    np.testing.assert_array_equal(gdal.Open(fast.mask_path).ReadAsArray(), gdal.Open(slow.mask_path).ReadAsArray())
    assert fast.n_regions == slow.n_regions >= 1


def test_without_numba_the_numpy_path_runs_and_says_how_to_get_the_faster_one(monkeypatch, change_pair, tmp_path):
    from sitewatch.plugin.core import change
    from sitewatch.plugin.core.change import ChangeParameters, acceleration, detect_changes

    monkeypatch.setattr(acceleration, "_state", {})
    monkeypatch.delattr(change, "compiled", raising=False)
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba now raises ImportError
    monkeypatch.delitem(sys.modules, "sitewatch.plugin.core.change.compiled", raising=False)
    assert acceleration.kernels() is None
    line = acceleration.describe()
    assert "numpy" in line and "pip install numba" in line
    before, after, _ = change_pair
    result = detect_changes(ChangeParameters(before, after, str(tmp_path / "out")))
    assert result.scoring == line
    assert "pip install numba" in result.scoring_advice
    assert result.n_regions >= 1


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
@pytest.mark.parametrize("normalised", [False, True])
def test_shift_field_sampling_is_bit_identical(numpy_path, dtype, normalised):
    """A local shift field (tile-wise shifts, interpolated per pixel), sampled as numpy does."""
    from sitewatch.plugin.core.change.coregistration import ShiftModel
    from sitewatch.plugin.core.change.model import BandFit, NormalisationFit
    from sitewatch.plugin.core.change.normalisation import band_terms

    rng = np.random.default_rng(4)
    cx = cy = np.linspace(64, 960, 4)
    model = ShiftModel(1.0, -0.5, (cx, cy, rng.normal(1.0, 0.6, (4, 4)), rng.normal(-0.5, 0.6, (4, 4))))
    m, (x0, y0, w, h) = model.margin, (300, 500, 90, 70)
    data = (rng.random((4, h + 2 * m, w + 2 * m)) * 900).astype(dtype)
    valid = rng.random((h + 2 * m, w + 2 * m)) > 0.02
    fit = NormalisationFit(applied=normalised, bands=[BandFit(b + 1, b + 1, 0.9 + 0.1 * b, 5.0 * b, 0.9, 1.0)
                                                      for b in range(4)])
    out, ok = model.resample(data, valid, x0, y0, w, h, band_terms(fit))
    with numpy_path:
        ref, ref_ok = model.resample(data, valid, x0, y0, w, h, band_terms(fit))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(ok, ref_ok)


def test_kernels_that_cannot_be_compiled_leave_the_work_to_numpy(monkeypatch, change_pair, tmp_path):
    """A numba that imports but cannot build the kernels (an LLVM or typing error) must not
    stop the analysis: numpy scores, and the log line says why."""
    from sitewatch.plugin.core.change import ChangeParameters, acceleration, compiled, detect_changes

    def broken():
        raise RuntimeError("LLVM ERROR: cannot select")

    monkeypatch.setattr(acceleration, "_state", {})
    monkeypatch.setattr(compiled, "warm_up", broken)
    before, after, _ = change_pair
    result = detect_changes(ChangeParameters(before, after, str(tmp_path / "out")))
    assert acceleration.kernels() is None
    assert "numpy" in result.scoring and "LLVM ERROR: cannot select" in result.scoring
    assert "unusable" in result.scoring_advice and "LLVM ERROR: cannot select" in result.scoring_advice
    assert result.n_regions >= 1


def test_preload_imports_and_loads_the_kernels_in_the_background_once(monkeypatch):
    import threading

    from sitewatch.plugin.core.change import acceleration

    monkeypatch.setattr(acceleration, "_state", {})
    acceleration.preload()
    loading = [t for t in threading.enumerate() if t.name == "sitewatch-kernels-import"]
    for thread in loading:
        thread.join(timeout=60)
    assert "module" in acceleration._state  # done by the thread (kernels() below would do it too)
    assert acceleration.kernels() is not None
    assert acceleration._state.get("warm")  # loaded from the disk cache on that thread too
    assert acceleration.warm_up() == 0.0  # nothing left to do on the calling thread
    acceleration.preload()  # loaded: no second thread
    assert not [t for t in threading.enumerate() if t.name == "sitewatch-kernels-import"]
    monkeypatch.setattr(acceleration, "_state", {})
    monkeypatch.setenv(acceleration.DISABLE_ENV, "1")
    acceleration.preload()  # switched off: nothing to load
    assert acceleration._state == {}


def test_a_warm_up_under_way_is_waited_for_not_repeated(monkeypatch):
    import time

    from sitewatch.plugin.core.change import acceleration, compiled

    calls = []

    def slow_warm_up():
        calls.append(1)
        time.sleep(0.3)

    monkeypatch.setattr(compiled, "warm_up", slow_warm_up)
    monkeypatch.setattr(acceleration, "_state", {})
    acceleration.preload()
    time.sleep(0.05)  # the background thread is in its warm-up
    acceleration.warm_up()  # waits for it
    assert acceleration._state.get("warm") and calls == [1]
