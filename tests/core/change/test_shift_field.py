"""Co-registration: the tile-wise shift field, its outlier tiles, and the float32 IR-MAD statistic."""
from __future__ import annotations

import numpy as np

from change_helpers import textured, write_raster


def test_neighbour_outliers_flags_pattern_lock_but_keeps_a_smooth_field():
    from sitewatch.plugin.core.change.coregistration import _neighbour_outliers

    jj, ii = np.mgrid[0:5, 0:5].astype(float)
    gdx, gdy = -1.0 + 0.8 * ii, 0.5 - 0.4 * jj  # a real field: 0.8 px per tile step
    ok = np.ones((5, 5), bool)
    ok[4, 0] = False  # a tile without a confident estimate
    assert not _neighbour_outliers(gdx, gdy, ok).any()
    locked = gdx.copy()
    for j, i in ((1, 2), (2, 2), (4, 4)):  # two adjacent tiles and a corner one period (6 px) off
        locked[j, i] += 6.0
    flagged = _neighbour_outliers(locked, gdy, ok)
    assert {tuple(p) for p in np.argwhere(flagged)} == {(1, 2), (2, 2), (4, 4)}


def test_a_displacement_varying_across_the_scene_gives_a_field(tmp_path):
    from sitewatch.plugin.core.change.coregistration import estimate_shift
    from sitewatch.plugin.core.change.filters import bilinear_sample
    from sitewatch.plugin.core.change.grid import align_pair

    size = 1024
    before = textured(size, 5)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    dx = -1.0 + 3.0 * xs / size  # features move by -1 px on the west edge, +2 px on the east edge
    after = bilinear_sample(before, xs - dx, ys - 0.5)
    pair = align_pair(write_raster(tmp_path / "b.tif", before), write_raster(tmp_path / "a.tif", after))
    try:
        shift, model = estimate_shift(pair)
        assert shift.local and model.field is not None and shift.max_local_deviation_px > 0.8
        cx, cy, gdx, gdy = model.field
        expected = -1.0 + 3.0 * (np.asarray(cx) + 0.5) / size
        np.testing.assert_allclose(gdx, np.broadcast_to(expected, gdx.shape), atol=0.3)
        np.testing.assert_allclose(gdy, 0.5, atol=0.3)
        # the resampled after capture matches the before one away from the edges
        data, valid = model.read(pair.after, 200, 200, 600, 600)
        residual = np.abs(data - before[:, 200:800, 200:800])[:, valid]
        assert np.median(residual) < 0.02 * np.ptp(before)
    finally:
        pair.close()


def test_a_constant_shift_gives_no_field(tmp_path):
    from sitewatch.plugin.core.change.coregistration import estimate_shift
    from sitewatch.plugin.core.change.grid import align_pair

    from change_helpers import shifted

    before = textured(1024, 6)
    pair = align_pair(write_raster(tmp_path / "b.tif", before), write_raster(tmp_path / "a.tif", shifted(before, 1.25, -2.5)))
    try:
        shift, model = estimate_shift(pair)
        assert not shift.local and model.field is None
        assert shift.n_tiles == 0  # the global windows agree: no local tile was correlated
        assert abs(shift.dx_px - 1.25) < 0.15 and abs(shift.dy_px + 2.5) < 0.15
    finally:
        pair.close()


def test_local_tiles_are_skipped_only_when_most_global_windows_agree_closely():
    from sitewatch.plugin.core.change.coregistration import FIELD_PX, PeakEstimate, _one_shift

    def windows(*offsets):
        return [PeakEstimate(1.0 + ox, -2.0 + oy, 0.8) for ox, oy in offsets]

    close = windows(*[(0.1, -0.1)] * 4, *[(-0.1, 0.1)] * 4, (0.0, 0.0))
    assert _one_shift(close, 9, 1.0, -2.0)
    apart = close[:-1] + windows((0.0, 0.6 * FIELD_PX))  # one window departs: the scene may bend
    assert not _one_shift(apart, 9, 1.0, -2.0)
    assert not _one_shift(close[:5], 9, 1.0, -2.0)  # four of nine windows not confident (clouds)
    assert _one_shift(close[:6], 9, 1.0, -2.0)
    assert not _one_shift(close[:2], 2, 1.0, -2.0)  # two windows tell too little


def test_chi_square_in_float32_matches_the_float64_formula():
    from sitewatch.plugin.core.change.irmad import fit_irmad

    rng = np.random.default_rng(4)
    x = rng.normal(800, 120, (5000, 4))
    y = x @ rng.normal(0, 0.1, (4, 4)) + 0.9 * x + rng.normal(0, 15, (5000, 4)) + 40
    model = fit_irmad(x, y)
    z = model.chi_square(x.T.astype(np.float32), y.T.astype(np.float32))
    mad = (x - model.mean_x) @ model.a - (y - model.mean_y) @ model.b
    expected = (mad ** 2 / model.variances).sum(1)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z, expected, rtol=1e-3, atol=1e-3)


def test_detect_changes_removes_a_varying_displacement_at_both_resolutions(tmp_path):
    from sitewatch.plugin.core.change import ChangeParameters, detect_changes
    from sitewatch.plugin.core.change.filters import bilinear_sample

    size = 1024
    before = textured(size, 8)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    after = bilinear_sample(before, xs - (-1.0 + 3.0 * xs / size), ys - 0.5)
    after[:, 500:540, 300:360] = 250.0  # one new 30 m x 20 m building
    b, a = write_raster(tmp_path / "b.tif", before), write_raster(tmp_path / "a.tif", after)
    for half in (False, True):
        result = detect_changes(ChangeParameters(b, a, str(tmp_path / f"out{half}"), half_resolution=half))
        assert result.shift.local
        assert result.n_regions == 1, half  # the building, no false changes along the texture
        assert 300 * 0.5 < result.regions[0].centroid_x - 500000 < 360 * 0.5
