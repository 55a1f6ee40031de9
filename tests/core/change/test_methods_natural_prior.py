"""The default method's natural-surface prior (chroma of the less colourful date) and the
block/halo contract of its score."""
from __future__ import annotations

import numpy as np
import pytest

from change_helpers import textured

SIZE = 192


def _scene(seed: int = 0) -> np.ndarray:
    """Left half grass (green, colourful), right half concrete (grey), with texture; a white
    roof strip and a shadow strip (a scene's brightest and darkest surfaces are about grey)."""
    rng = np.random.default_rng(seed)
    tex = textured(SIZE, seed, bands=1)[0] - 100.0
    img = np.empty((3, SIZE, SIZE), np.float32)
    for b, (grass, concrete) in enumerate(zip((60.0, 115.0, 45.0), (150.0, 150.0, 152.0))):
        img[b, :, :SIZE // 2] = grass + 0.3 * tex[:, :SIZE // 2]
        img[b, :, SIZE // 2:] = concrete + 0.3 * tex[:, SIZE // 2:]
    img[:, :8] = 235.0
    img[:, -8:] = np.array([22.0, 22.0, 26.0], np.float32)[:, None, None]
    return img + rng.normal(0, 1.5, img.shape).astype(np.float32)


RGB = ["red", "green", "blue"]


def _score(before: np.ndarray, after: np.ndarray, prior: bool = True, keys=RGB):
    from sitewatch.plugin.core.change.methods import Tile, make_method

    method = make_method("structure", natural_prior=prior)
    method.band_keys = keys
    h = method.halo
    pad = [(0, 0), (h, h), (h, h)]
    b, a = np.pad(before, pad, mode="reflect"), np.pad(after, pad, mode="reflect")
    valid = np.ones(b.shape[1:], bool)
    method.fit([Tile(b, a, valid, h)])
    return method, method.score(b, a, valid)[h:h + SIZE, h:h + SIZE]


def test_chroma_ignores_band_gains_and_offsets():
    from sitewatch.plugin.core.change.chroma import chroma, stretch_limits

    img = _scene(1)
    limits = stretch_limits(img.reshape(3, -1), 0.5, 99.5)
    c = chroma(img, limits, 0.1)
    assert np.median(c[:, :SIZE // 2]) > 3 * np.median(c[:, SIZE // 2:])  # grass vs concrete
    # another sensor: per-band gains and offsets; each date's own stretch undoes them
    other = img * np.array([1.7, 0.8, 1.2], np.float32)[:, None, None] + np.array([30, -5, 12], np.float32)[:, None, None]
    c2 = chroma(other, stretch_limits(other.reshape(3, -1), 0.5, 99.5), 0.1)
    np.testing.assert_allclose(c2, c, atol=1e-4)


def test_change_between_natural_surfaces_is_damped_and_man_made_change_is_not():
    before = _scene(2)
    after = before.copy()
    after[:, 40:80, 20:70] = np.array([150.0, 105.0, 60.0], np.float32)[:, None, None]  # grass -> bare soil
    after[:, 120:160, 20:70] = np.array([95.0, 95.0, 98.0], np.float32)[:, None, None]  # grass -> grey roof
    after[:, 40:80, 122:172] = np.array([80.0, 80.0, 84.0], np.float32)[:, None, None]  # concrete -> dark roof
    _, with_prior = _score(before, after)
    _, without = _score(before, after, prior=False)
    soil = (slice(45, 75), slice(25, 65))
    roof_on_grass = (slice(125, 155), slice(25, 65))
    roof_on_concrete = (slice(45, 75), slice(127, 167))
    assert float(without[soil].mean()) > 0.5  # the change itself is strong ...
    # ... but natural on both dates: its odds divided by 10 (the prior's cap)
    assert np.median(_odds(with_prior[soil]) / _odds(without[soil])) == pytest.approx(1 / 10, rel=0.05)
    for region in (roof_on_grass, roof_on_concrete):
        assert float(with_prior[region].mean()) > 0.6
        assert float(with_prior[region].mean()) == pytest.approx(float(without[region].mean()), abs=0.1)


def _odds(score: np.ndarray) -> np.ndarray:
    s = score.astype(np.float64)
    return s / np.maximum(1 - s, 1e-9)


def test_a_moderate_change_between_natural_surfaces_falls_below_the_threshold():
    before = _scene(5)
    after = before.copy()
    after[:, 40:80, 20:70] = np.array([88.0, 120.0, 58.0], np.float32)[:, None, None]  # grass -> dry grass
    _, with_prior = _score(before, after)
    _, without = _score(before, after, prior=False)
    core = (slice(45, 75), slice(25, 65))
    assert float(without[core].mean()) > 0.5 > 0.3 > float(with_prior[core].mean())


@pytest.mark.parametrize("paint", [(60.0, 90.0, 170.0), (170.0, 55.0, 45.0)], ids=["blue", "red"])
def test_painted_roofs_on_grass_are_not_natural(paint):
    """Colourful is not natural: blue or red roofs on grass keep their score (the band colours
    known); unnamed bands count only green as natural, so the same roofs are not damped either."""
    before = _scene(6)
    after = before.copy()
    after[:, 60:100, 20:70] = np.array(paint, np.float32)[:, None, None]
    core = (slice(65, 95), slice(25, 65))
    _, without = _score(before, after, prior=False)
    assert float(without[core].mean()) > 0.6
    for keys in (RGB, None):
        _, with_prior = _score(before, after, keys=keys)
        assert float(with_prior[core].mean()) == pytest.approx(float(without[core].mean()), abs=0.05)


def test_hue_weight_and_windows():
    from sitewatch.plugin.core.change.chroma import GREEN_HUES, NATURAL_HUES, hue_weight, natural_hues

    #                  red  orange  yellow  green  cyan  blue  magenta  grey
    r = np.array([1.0, 1.0, 1.0, 0.2, 0.1, 0.2, 1.0, 0.5], np.float32)
    g = np.array([0.1, 0.5, 1.0, 1.0, 1.0, 0.3, 0.1, 0.5], np.float32)
    b = np.array([0.1, 0.1, 0.1, 0.2, 1.0, 1.0, 1.0, 0.5], np.float32)
    window = natural_hues(["red", "green", "blue", "nir"])
    assert window.rgb == (0, 1, 2) and (window.low, window.high) == NATURAL_HUES
    np.testing.assert_allclose(hue_weight(r, g, b, window), [0, 1, 1, 1, 0, 0, 0, 0], atol=1e-6)
    unnamed = natural_hues([None, None, None, None])
    assert (unnamed.low, unnamed.high) == GREEN_HUES
    np.testing.assert_allclose(hue_weight(r, g, b, unnamed), [0, 0, 0, 1, 0, 0, 0, 0], atol=1e-6)
    # unnamed: the same weights with red and blue swapped (a blue-green-red band order)
    np.testing.assert_allclose(hue_weight(b, g, r, unnamed), hue_weight(r, g, b, unnamed), atol=1e-6)
    assert natural_hues(["blue", "green", "red"]).rgb == (2, 1, 0)
    assert natural_hues(["gray", None]) is None


def test_prior_is_symmetric_in_time():
    # a grey object leaving grass is as visible as one arriving on it
    base = _scene(3)
    with_object = base.copy()
    with_object[:, 70:110, 30:80] = np.array([120.0, 120.0, 124.0], np.float32)[:, None, None]
    _, arrival = _score(base, with_object)
    _, departure = _score(with_object, base)
    core = (slice(75, 105), slice(35, 75))
    assert float(arrival[core].mean()) > 0.6
    assert float(departure[core].mean()) > 0.6


def test_prior_is_off_for_single_band_captures():
    before = _scene(4)[1:2]
    after = before.copy()
    after[:, 40:80, 20:70] += 60.0
    method, with_prior = _score(before, after)
    _, without = _score(before, after, prior=False)
    assert method.limits is None
    np.testing.assert_array_equal(with_prior, without)


def test_block_scores_match_the_whole_image_within_the_halo():
    """Scores of blocks carrying `halo` extra pixels equal the whole-image scores (the
    pipeline's seam contract), wherever the block sits (even offsets: 2x decimation)."""
    from sitewatch.plugin.core.change.methods import Tile, make_method

    size = 256
    before = textured(size, 11)
    after = before + np.random.default_rng(12).normal(0, 2, before.shape).astype(np.float32)
    after[:, 100:150, 90:170] = np.array([230.0, 60.0, 40.0], np.float32)[:, None, None]
    after[:, 20:60, 180:230] *= np.array([0.4, 1.3, 0.5], np.float32)[:, None, None]
    method = make_method("structure")
    h = method.halo
    valid = np.ones((size, size), bool)
    method.fit([Tile(before, after, valid, 0)])
    whole = method.score(before, after, valid)
    for y, x, n in ((h, h, 64), (96, 120, 48), (size - h - 50, size - h - 70, 50)):
        win = (slice(None), slice(y - h, y + n + h), slice(x - h, x + n + h))
        block = method.score(before[win], after[win], valid[win[1:]])[h:h + n, h:h + n]
        np.testing.assert_allclose(block, whole[y:y + n, x:x + n], atol=2e-5)


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 250_000, 1_000_003])
@pytest.mark.parametrize("values", ["normal", "few levels", "sorted", "strided"])
def test_stretch_limits_are_numpys_percentiles(n, values):
    """Exact, whatever the tails hold: ties (integer imagery, a saturated band), values in
    order, and a strided subsample that misjudges the tails (then all values are selected from)."""
    from sitewatch.plugin.core.change.chroma import stretch_limits

    rng = np.random.default_rng(n)
    samples = (rng.normal(size=(4, n)) * 100 + 500).astype(np.float32)
    samples[:, : n // 3] = np.round(samples[:, : n // 3])  # ties, as integer imagery has
    if values == "few levels":
        samples = np.round(samples / 150) * 150
        samples[1] = np.minimum(samples[1], 400)  # most of a band at its top level
    elif values == "sorted":
        samples = np.sort(samples, axis=1)
        samples[2] = samples[2, ::-1]
    elif values == "strided":  # the subsample holds the extremes only
        ladder = np.arange(samples[:, ::64].shape[1], dtype=np.float32)
        samples[:, ::64] = np.where(np.arange(4)[:, None] % 2, 1e4 + ladder, -1e4 - ladder)
    expected = np.percentile(samples.astype(np.float64), [0.5, 99.5], axis=1)
    expected[1] = expected[0] + np.maximum(expected[1] - expected[0], 1e-6 * (np.abs(expected[1]) + 1.0))
    np.testing.assert_array_equal(stretch_limits(samples, 0.5, 99.5), expected.astype(np.float32))


@pytest.mark.parametrize("method_id", ["structure", "irmad", "cva", "pcakmeans"])
def test_score_of_the_core_is_the_inside_of_the_whole_score(method_id):
    """score(..., core=k) skips the halo's per-pixel work; its values are the whole score's."""
    from sitewatch.plugin.core.change.methods import Tile, make_method

    size = 160
    before = textured(size, 21)
    after = before + np.random.default_rng(22).normal(0, 2, before.shape).astype(np.float32)
    after[:, 60:90, 50:110] = np.array([230.0, 60.0, 40.0], np.float32)[:, None, None]
    method = make_method(method_id)
    valid = np.ones((size, size), bool)
    method.fit([Tile(before, after, valid, 8)])
    whole = method.score(before, after, valid)
    for k in (1, 5, 32):
        np.testing.assert_allclose(method.score(before, after, valid, core=k), whole[k:size - k, k:size - k],
                                   atol=1e-6)
