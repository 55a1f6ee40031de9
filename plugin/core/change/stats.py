"""Small statistics helpers: Otsu, chi-square, k-means, orthogonal regression (numpy only)."""
from __future__ import annotations

import math

import numpy as np


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of a 1-D sample (robust range: 0.1..99.9 percentiles)."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0
    lo, hi = np.percentile(values, [0.1, 99.9])
    if hi <= lo:
        return float(hi)
    hist, edges = np.histogram(np.clip(values, lo, hi), bins=bins, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)[:-1].astype(np.float64)
    m = np.cumsum(hist * centres)
    w1 = hist.sum() - w0
    m0 = m[:-1] / np.maximum(w0, 1)
    m1 = (m[-1] - m[:-1]) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    return float(edges[1:-1][int(np.argmax(between))])


def _erfc(x: np.ndarray) -> np.ndarray:
    """Complementary error function for x >= 0 (Abramowitz-Stegun 7.1.26, |err| < 1.5e-7)."""
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return poly * np.exp(-x * x)


def chi2_sf(x: np.ndarray, df: int) -> np.ndarray:
    """Survival function P(X > x) of a chi-square law with integer df (vectorised)."""
    x = np.maximum(np.asarray(x, np.float64), 0.0)
    half = x / 2.0
    if df % 2 == 0:
        term = np.exp(-half)
        total = term.copy()
        for i in range(1, df // 2):
            term = term * half / i
            total += term
        return np.clip(total, 0.0, 1.0)
    total = _erfc(np.sqrt(half))
    term = np.sqrt(half) * np.exp(-half) / math.gamma(1.5)
    for i in range(1, (df + 1) // 2):
        total = total + term
        term = term * half / (i + 0.5)
    return np.clip(total, 0.0, 1.0)


def chi2_ppf(probability: float, df: int) -> float:
    """Quantile of the chi-square law (bisection on chi2_sf)."""
    lo, hi = 0.0, max(10.0, 10.0 * df)
    while chi2_sf(np.array(hi), df) > 1 - probability:
        hi *= 2
    for _ in range(100):
        mid = (lo + hi) / 2
        if chi2_sf(np.array(mid), df) > 1 - probability:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def kmeans(features: np.ndarray, k: int = 2, iterations: int = 30, seed: int = 0) -> np.ndarray:
    """Centroids (k, d) of Lloyd's k-means, k-means++ seeded, deterministic."""
    rng = np.random.default_rng(seed)
    centres = [features[rng.integers(len(features))]]
    for _ in range(1, k):
        d2 = np.min([((features - c) ** 2).sum(1) for c in centres], axis=0)
        prob = d2 / d2.sum() if d2.sum() > 0 else None
        centres.append(features[rng.choice(len(features), p=prob)])
    centres_arr = np.array(centres, np.float64)
    for _ in range(iterations):
        dist = ((features[:, None, :] - centres_arr[None]) ** 2).sum(-1)
        labels = dist.argmin(1)
        new = np.array([features[labels == j].mean(0) if np.any(labels == j) else centres_arr[j] for j in range(k)])
        if np.allclose(new, centres_arr):
            break
        centres_arr = new
    return centres_arr


def orthogonal_regression(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """y ~= gain * x + offset minimising perpendicular distances; returns gain, offset, r, rmse."""
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    mx, my = x.mean(), y.mean()
    sxx, syy = x.var(), y.var()
    sxy = ((x - mx) * (y - my)).mean()
    if abs(sxy) < 1e-12:
        gain = math.sqrt(syy / sxx) if sxx > 0 else 1.0
    else:
        gain = (syy - sxx + math.sqrt((syy - sxx) ** 2 + 4 * sxy ** 2)) / (2 * sxy)
    offset = my - gain * mx
    r = sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else 0.0
    rmse = float(np.sqrt(np.mean((y - (gain * x + offset)) ** 2)))
    return float(gain), float(offset), float(r), rmse


def score_from_ratio(ratio: np.ndarray, power: float = 2.0) -> np.ndarray:
    """Map a non-negative statistic / its automatic threshold onto 0..1 with 0.5 at the threshold."""
    r = np.clip(ratio, 0.0, 1e4).astype(np.float32)  # 1e4 ** 8 still fits float32: no inf / inf
    if power in (2.0, 4.0, 8.0):  # repeated squaring: much faster than a float power
        for _ in range({2.0: 1, 4.0: 2, 8.0: 3}[power]):
            r = r * r
    else:
        r = r ** np.float32(power)
    return r / (np.float32(1.0) + r)
