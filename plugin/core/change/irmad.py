"""Iteratively re-weighted multivariate alteration detection (Nielsen 2007) on a pixel sample.

Fit once on a sample (a tiny eigenproblem), then apply to any block: memory O(block)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .stats import chi2_sf


@dataclass
class MadModel:
    mean_x: np.ndarray  # (p,)
    mean_y: np.ndarray
    a: np.ndarray  # (p, p) canonical vectors of before, columns
    b: np.ndarray  # (p, p) canonical vectors of after
    variances: np.ndarray  # (p,) variance of each MAD variate over no-change pixels
    rho: np.ndarray  # canonical correlations, ascending
    iterations: int

    @property
    def bands(self) -> int:
        return len(self.mean_x)

    def chi_square(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Chi-square statistic per pixel; x, y are (p, n) or (p, h, w).

        float32 multiply-adds with the variances folded into the weights (the error is about
        1e-6 of the statistic); no BLAS call, so scoring threads never wake (and fight over)
        a BLAS thread pool for these tiny matrices."""
        p = self.bands
        wa, wb, const = self.weights()
        z = np.zeros(x.shape[1:], np.float32)  # views of any layout: no reshaped copies
        mad = np.empty_like(z)
        term = np.empty_like(z)
        for k in range(p):
            np.multiply(x[0], wa[0, k], out=mad)
            mad -= const[k]
            for i in range(p):
                if i:
                    np.multiply(x[i], wa[i, k], out=term)
                    mad += term
                np.multiply(y[i], wb[i, k], out=term)
                mad -= term
            np.multiply(mad, mad, out=mad)
            z += mad
        return z

    def weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(wa, wb, const), float32: MAD variate k over its spread is
        sum_i x_i wa[i, k] - sum_i y_i wb[i, k] - const[k]."""
        scale = 1.0 / np.sqrt(self.variances)
        wa = (self.a * scale).astype(np.float32)
        wb = (self.b * scale).astype(np.float32)
        const = ((self.a.T @ self.mean_x - self.b.T @ self.mean_y) * scale).astype(np.float32)
        return wa, wb, const

    def no_change_probability(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return chi2_sf(self.chi_square(x, y), self.bands)


def fit_irmad(x: np.ndarray, y: np.ndarray, iterations: int = 20, tol: float = 1e-4) -> MadModel:
    """x, y: (n, p) samples of before and after. Returns the converged model.

    Both captures are stacked as (2p, n) rows: the weighted means and the joint covariance
    are one matrix product each, and no step broadcasts over a short last axis."""
    n, p = x.shape
    z = np.empty((2 * p, n))
    z[:p], z[p:] = x.T, y.T
    w = np.ones(n)
    rho_old = None
    model = None
    for it in range(1, iterations + 1):
        sw = w.sum()
        mean = (z @ w) / sw
        zc = z - mean[:, None]
        cov = (zc * w) @ zc.T / sw
        sxx, syy, sxy = cov[:p, :p].copy(), cov[p:, p:].copy(), cov[:p, p:]
        ridge = 1e-6 * (np.trace(sxx) + np.trace(syy)) / (2 * p) + 1e-12
        sxx += ridge * np.eye(p)
        syy += ridge * np.eye(p)
        lower = np.linalg.cholesky(sxx)
        linv = np.linalg.inv(lower)
        syy_inv = np.linalg.inv(syy)
        m = linv @ sxy @ syy_inv @ sxy.T @ linv.T
        rho2, v = np.linalg.eigh((m + m.T) / 2)
        rho2 = np.clip(rho2, 1e-12, 1 - 1e-9)
        rho = np.sqrt(rho2)
        a = linv.T @ v
        b = syy_inv @ sxy.T @ a / rho
        mad2 = np.vstack([a, -b]).T @ zc  # (p, n) MAD variates, squared in place
        mad2 *= mad2
        var = np.maximum((mad2 @ w) / sw, 1e-12)
        w = chi2_sf((1.0 / var) @ mad2, p)
        model = MadModel(mean[:p], mean[p:], a, b, var, rho, it)
        if rho_old is not None and np.max(np.abs(rho - rho_old)) < tol:
            break
        rho_old = rho
    assert model is not None
    return model
