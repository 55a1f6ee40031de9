"""Unit tests of the numerical pieces: statistics, IR-MAD, normalisation, phase correlation, boxes."""
from __future__ import annotations

import math

import numpy as np
import pytest

from change_helpers import shifted, textured


def test_chi_square_functions_match_tables():
    from sitewatch.plugin.core.change.stats import chi2_ppf, chi2_sf

    assert chi2_ppf(0.99, 3) == pytest.approx(11.345, abs=1e-2)
    assert chi2_ppf(0.95, 4) == pytest.approx(9.488, abs=1e-2)
    assert float(chi2_sf(np.array(5.991), 2)) == pytest.approx(0.05, abs=1e-3)
    assert float(chi2_sf(np.array(3.841), 1)) == pytest.approx(0.05, abs=1e-3)


def test_otsu_splits_two_modes():
    from sitewatch.plugin.core.change.stats import otsu_threshold

    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0, 1, 9000), rng.normal(8, 1, 1000)])
    assert 2.5 < otsu_threshold(values) < 5.5


def test_orthogonal_regression_and_normalisation_recover_gain():
    from sitewatch.plugin.core.change.normalisation import fit_normalisation

    rng = np.random.default_rng(1)
    truth = rng.normal(100, 20, (20000, 3))
    before = truth + rng.normal(0, 1, truth.shape)
    after = truth * 1.3 + 15 + rng.normal(0, 1, truth.shape)
    after[:2000] += rng.normal(0, 60, (2000, 3))  # changed pixels must not bias the fit
    fit = fit_normalisation(before, after, [(1, 1), (2, 2), (3, 3)])
    for band in fit.bands:
        assert band.gain == pytest.approx(1 / 1.3, rel=0.02)
        assert band.offset == pytest.approx(-15 / 1.3, abs=2.0)
    assert fit.n_no_change < 20000
    assert {band.method for band in fit.bands} == {"orthogonal"}


def test_normalisation_of_uncorrelated_bands_matches_moments():
    """A scene where nearly everything changed: no regression slope, the spreads are matched."""
    from sitewatch.plugin.core.change.normalisation import fit_normalisation

    rng = np.random.default_rng(2)
    before = rng.normal(100, 20, (20000, 2))
    after = rng.normal(300, 5, (20000, 2))  # unrelated to before
    fit = fit_normalisation(before, after, [(1, 1), (2, 2)])
    for band in fit.bands:
        assert band.method == "moments" and abs(band.correlation) < 0.5
        assert band.gain == pytest.approx(4.0, rel=0.1)  # 20 / 5, not an exploding slope
        assert band.offset == pytest.approx(100 - 4.0 * 300, rel=0.1)


def test_irmad_flags_changed_pixels():
    from sitewatch.plugin.core.change.irmad import fit_irmad

    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, (5000, 3))
    y = x @ np.array([[0.9, 0.1, 0], [0, 1.1, 0.1], [0.1, 0, 0.8]]) + rng.normal(0, 0.1, (5000, 3))
    y[:250] = rng.normal(0, 1, (250, 3))
    model = fit_irmad(x, y)
    p = model.no_change_probability(x.T, y.T)
    z = model.chi_square(x.T, y.T)
    # changed pixels are certain changes; unchanged ones an order of magnitude more probable
    assert np.mean(p[:250] < 1e-6) > 0.95
    assert np.median(z[:250]) > 100 * np.median(z[250:])
    assert np.mean(p[250:] > 1e-3) > 0.6


@pytest.mark.parametrize("dx,dy", [(2.3, -1.7), (-5.6, 7.25), (0.0, 0.0)])
def test_phase_correlation_subpixel_under_contrast_change(dx, dy):
    from sitewatch.plugin.core.change.coregistration import _structure_image, find_peak, phase_correlation

    base = textured(320, 4)[:1]
    ref = base[0, 32:288, 32:288]
    mov = shifted(base, dx, dy)[0, 32:288, 32:288] * 0.4 + 50
    valid = np.ones(ref.shape, bool)
    surface, _ = phase_correlation(_structure_image(ref[None], valid), _structure_image(mov[None], valid))
    peak, _ = find_peak(surface, 32)
    assert peak.dx == pytest.approx(dx, abs=0.15) and peak.dy == pytest.approx(dy, abs=0.15)
    assert peak.confidence > 0.5


def test_oriented_box_of_a_rotated_rectangle():
    from sitewatch.plugin.core.change.regions import oriented_box

    a = math.radians(30)
    u, v = np.array([math.cos(a), math.sin(a)]), np.array([-math.sin(a), math.cos(a)])
    pts = np.array([0 * u, 20 * u, 20 * u + 8 * v, 8 * v])
    length, width = oriented_box(pts)
    assert length == pytest.approx(20) and width == pytest.approx(8)


def test_box_mean_and_morphology():
    from sitewatch.plugin.core.change.filters import binary_open_close, box_mean

    img = np.arange(100, dtype=np.float32).reshape(10, 10)
    assert box_mean(img, 1)[5, 5] == pytest.approx(img[4:7, 4:7].mean())
    mask = np.zeros((20, 20), bool)
    mask[5:12, 5:12] = True
    mask[8, 8] = False  # pinhole
    mask[1, 18] = True  # speck
    out = binary_open_close(mask, 1)
    assert out[8, 8] and not out[1, 18] and out[5:12, 5:12].all()


def test_numpy_fallbacks_match_the_scipy_path(monkeypatch):
    from sitewatch.plugin.core.change import filters

    rng = np.random.default_rng(3)
    img = rng.normal(size=(2, 61, 47)).astype(np.float32)
    mask = filters.box_mean_numpy(img[:1], 3)[0] > 0.1
    fast = (filters.box_mean(img, 4), filters.binary_open_close(mask, 2))
    monkeypatch.setattr(filters, "_UNIFORM", None)
    slow = (filters.box_mean(img, 4), filters.binary_open_close(mask, 2))
    np.testing.assert_allclose(fast[0], slow[0], atol=1e-5)
    assert (fast[1] == slow[1]).all() and slow[1].any()


def test_small_radius_box_mean_matches_the_integral_image():
    from sitewatch.plugin.core.change.filters import box_mean_numpy, box_mean_small

    x = np.random.default_rng(11).normal(size=(3, 41, 67)).astype(np.float32)
    for radius in (1, 2):
        np.testing.assert_allclose(box_mean_small(x, radius), box_mean_numpy(x, radius), atol=1e-5)
        np.testing.assert_allclose(box_mean_small(x[0], radius), box_mean_numpy(x[0], radius), atol=1e-5)


def test_strip_reader_reads_each_pixel_once_on_block_boundaries_and_returns_the_same_windows(tmp_path):
    from change_helpers import textured, write_raster
    from osgeo import gdal
    from sitewatch.plugin.core.change.grid import align_pair
    from sitewatch.plugin.core.change.scoring import _StripReader, column_cuts

    striped = write_raster(tmp_path / "a.tif", textured(300, 2))
    path = str(tmp_path / "tiled.tif")  # 64 x 64 blocks: a read that cuts one decodes it twice
    gdal.Translate(path, striped, creationOptions=["TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "COMPRESS=DEFLATE"])
    pair = align_pair(path, path)
    try:
        class CountingView:  # a wrapper, not a patched method: no cycle keeps the dataset alive
            def __init__(self, view):
                self.view, self.ds, self.bands, self.reads = view, view.ds, view.bands, []

            def row_grain(self):
                return self.view.row_grain()

            def column_grain(self):
                return self.view.column_grain()

            def data_type(self):
                return self.view.data_type()

            def read(self, x, y, w, h, native=False):
                return self.view.read(x, y, w, h, native)

            def read_into(self, data, valid, x, y):
                self.reads.append((x, y, valid.shape[1], valid.shape[0]))
                self.view.read_into(data, valid, x, y)

        counting = CountingView(pair.before)
        assert counting.row_grain() == (64, 0) and counting.column_grain() == (64, 0)
        halo, size = 16, 100  # chunks of 100 x 100 px, windows with a 16 px halo, leaving the grid on all sides
        starts = list(range(0, 300, size))
        cuts = column_cuts(counting, starts, halo, 300)
        assert cuts[0] == -halo and cuts[-1] == 300 + halo and all(c % 64 == 0 for c in cuts[1:-1])
        reader = _StripReader(counting, 2 * halo, cuts)
        for y in range(0, 300, size):
            for x in starts:
                w, h = min(size, 300 - x) + 2 * halo, min(size, 300 - y) + 2 * halo
                data, valid = reader.read(x - halo, y - halo, w, h)
                ref, ref_valid = pair.before.read(x - halo, y - halo, w, h, native=True)
                np.testing.assert_array_equal(data, ref)
                np.testing.assert_array_equal(valid, ref_valid)
        # every pixel of the grid (and of the halo above and left of it) read once, in reads that
        # start and end on block boundaries; rows below the grid are the edge row, not read
        seen = np.zeros((300 + halo, 300 + 2 * halo), int)
        for x, y, w, h in counting.reads:
            seen[y + halo:y + halo + h, x + halo:x + halo + w] += 1
            assert y < 300
            assert (y + h) % 64 == 0 or y + h >= 300
            assert x in cuts and (x + w in cuts)
        assert seen.max() == 1 and seen.min() == 1
        counting = reader = None
    finally:
        pair.close()


def test_column_cuts_fall_back_to_window_ends_when_blocks_are_wider_than_a_chunk():
    from sitewatch.plugin.core.change.scoring import column_cuts

    class StripedView:  # one block per row: no column boundary inside the grid
        def column_grain(self):
            return 1000, 0

    assert column_cuts(StripedView(), [0, 100, 200], 8, 250) == [-8, 108, 208, 258]


def test_score_from_ratio_saturates_without_overflow():
    from sitewatch.plugin.core.change.stats import score_from_ratio

    ratio = np.array([0.0, 1.0, 1e5, 1e30, np.float32(3e38)], np.float32)
    for power in (2.0, 4.0, 8.0, 3.0):
        score = score_from_ratio(ratio, power)
        assert np.isfinite(score).all()
        assert score[0] == 0.0 and score[1] == pytest.approx(0.5) and (score[2:] > 0.999).all()


@pytest.mark.parametrize("max_shift", [0.0, 2.5, 7.0, 40.0])
def test_find_peak_matches_a_search_over_masked_surfaces(max_shift):
    """The peak within max_shift of the centre and the peak anywhere, with their confidences,
    as a plain search over the whole surface finds them (ties: the first in raster order)."""
    from sitewatch.plugin.core.change.coregistration import find_peak

    rng = np.random.default_rng(int(max_shift * 10))
    surface = rng.normal(0, 0.01, (33, 40))
    surface[20, 30] = 1.0  # the global peak, outside small search ranges
    surface[17, 21] = surface[15, 19] = 0.5  # a tie near the centre: the first in raster order wins
    inside, anywhere = find_peak(surface, max_shift)
    yy, xx = np.mgrid[0:33, 0:40]
    for estimate, mask in ((inside, (abs(yy - 16) <= max_shift) & (abs(xx - 20) <= max_shift)),
                           (anywhere, np.ones_like(yy, bool))):
        py, px = np.unravel_index(int(np.argmax(np.where(mask, surface, -np.inf))), surface.shape)
        assert round(estimate.dx - (px - 20)) == 0 and round(estimate.dy - (py - 16)) == 0
        away = (abs(yy - py) > 3) | (abs(xx - px) > 3)
        top, second, noise = surface[py, px], surface[away].max(), surface[away].std() + 1e-12
        expected = 0.0 if top <= 0 else np.clip((top - max(second, 0.0)) / top, 0, 1) * np.clip((top / noise - 4) / 6, 0, 1)
        assert estimate.confidence == pytest.approx(expected, abs=1e-12)
    if max_shift >= 1:  # the tie's first pixel in raster order, or the global peak when in range
        assert (round(inside.dx), round(inside.dy)) == ((-1, -1) if max_shift < 10 else (10, 4))
    assert (round(anywhere.dx), round(anywhere.dy)) == (10, 4)
