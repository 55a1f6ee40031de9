"""Relative radiometric normalisation: IR-MAD no-change pixels, per-band orthogonal regression
(mean and spread matching where a band pair correlates too weakly for a slope)."""
from __future__ import annotations

from typing import Optional

import numpy as np

from .filters import gain_offset
from .irmad import fit_irmad
from .model import BandFit, NormalisationFit
from .stats import orthogonal_regression

NO_CHANGE_PROBABILITY = 0.9
MAX_FIT_PIXELS = 100_000
# Below this correlation the regression slope is ill-determined (it tends to sxx/sxy and blows
# up on scenes where almost everything changed): match means and spreads instead.
MIN_CORRELATION = 0.5


def fit_normalisation(before: np.ndarray, after: np.ndarray, band_pairs: list[tuple[int, int]]) -> NormalisationFit:
    """before, after: (n, p) valid sample pixels. Fit before ~= gain * after + offset per band."""
    n = len(before)
    if n < 100:
        return NormalisationFit(applied=False, n_sample=n)
    if n > MAX_FIT_PIXELS:  # a regular subsample is plenty for a p x p eigenproblem
        step = int(np.ceil(n / MAX_FIT_PIXELS))
        before, after = before[::step], after[::step]
        n = len(before)
    model = fit_irmad(before, after)
    p_nc = model.no_change_probability(before.T, after.T)
    keep = p_nc > NO_CHANGE_PROBABILITY
    if keep.sum() < max(50, 0.01 * n):
        keep = p_nc >= np.quantile(p_nc, 0.5)
    bands = []
    for i, (bb, ba) in enumerate(band_pairs):
        x, y = after[keep, i].astype(np.float64), before[keep, i].astype(np.float64)
        gain, offset, r, rmse = orthogonal_regression(x, y)
        method = "orthogonal"
        if not np.isfinite(gain) or gain <= 0 or not r >= MIN_CORRELATION:
            method = "moments"
            gain = float(y.std() / x.std()) if x.std() > 0 else 1.0
            offset = float(y.mean() - gain * x.mean())
            rmse = float(np.sqrt(np.mean((y - (gain * x + offset)) ** 2)))
        bands.append(BandFit(bb, ba, gain, offset, r, rmse, method))
    return NormalisationFit(applied=True, n_no_change=int(keep.sum()), n_sample=n, bands=bands)


def band_terms(fit: NormalisationFit) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """Per-band (gain, offset) as float32 arrays when the fit is applied, else None."""
    if not fit.applied:
        return None
    return (np.array([b.gain for b in fit.bands], np.float32), np.array([b.offset for b in fit.bands], np.float32))


def apply_normalisation(after: np.ndarray, fit: NormalisationFit) -> np.ndarray:
    """after: (p, h, w) -> radiometry of the before capture."""
    terms = band_terms(fit)
    return after if terms is None else gain_offset(after, terms)
