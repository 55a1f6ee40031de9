"""Behaviour of the default change method on arrays: what it must ignore, what it must flag."""
from __future__ import annotations

import numpy as np
import pytest

from change_helpers import textured

SIZE = 192


def _fitted(before: np.ndarray, after: np.ndarray):
    """Fit and score as the pipeline does: after normalised to before's radiometry first."""
    from sitewatch.plugin.core.change.methods import Tile, make_method
    from sitewatch.plugin.core.change.normalisation import apply_normalisation, fit_normalisation

    n = before.shape[0]
    fit = fit_normalisation(before.reshape(n, -1).T, after.reshape(n, -1).T, [(i + 1, i + 1) for i in range(n)])
    after = apply_normalisation(after, fit)
    method = make_method("structure")
    h = method.halo
    pad = [(0, 0), (h, h), (h, h)]
    b, a = np.pad(before, pad, mode="reflect"), np.pad(after, pad, mode="reflect")
    valid = np.ones(b.shape[1:], bool)
    method.fit([Tile(b, a, valid, h)])
    score = method.score(b, a, valid)[h:h + SIZE, h:h + SIZE]
    return method, score


def test_brightness_and_contrast_change_is_not_a_change():
    before = textured(SIZE, 3)
    after = before * 1.4 + 25  # another sun elevation / sensor gain: same ground
    method, score = _fitted(before, after)
    assert method.raw_threshold >= method.MIN_THRESHOLD
    assert float((score > 0.5).mean()) < 0.01


def test_new_object_is_flagged_and_its_surroundings_are_not():
    rng = np.random.default_rng(5)
    before = textured(SIZE, 4)
    after = before + rng.normal(0, 2, before.shape).astype(np.float32)  # sensor noise only
    after[:, 80:110, 60:120] = 230.0  # a new 15 m x 30 m roof at 0.5 m
    truth = np.zeros((SIZE, SIZE), bool)
    truth[80:110, 60:120] = True
    _, score = _fitted(before, after)
    pred = score > 0.5
    assert (pred & truth).sum() / truth.sum() > 0.7
    far = np.ones_like(truth)
    far[60:130, 40:140] = False  # beyond the object's context window
    assert float(pred[far].mean()) < 0.01


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_appearance_and_disappearance_score_alike(sign):
    # a departure (object in before only) must be as visible as an arrival
    base = textured(SIZE, 6)
    with_object = base.copy()
    with_object[:, 70:100, 70:110] = 235.0
    before, after = (base, with_object) if sign > 0 else (with_object, base)
    _, score = _fitted(before, after)
    assert float(score[75:95, 75:105].mean()) > 0.6



def test_fused_score_needs_both_context_and_spectral_evidence():
    # a textured scene with sensor noise only: IR-MAD alone flags about 1 % of the pixels
    # (its 99 % significance); the fused default must stay far below that
    rng = np.random.default_rng(8)
    before = textured(SIZE, 9)
    after = before + rng.normal(0, 3, before.shape).astype(np.float32)
    method, score = _fitted(before, after)
    assert method.spectral is not None
    assert float((score > 0.5).mean()) < 0.002
