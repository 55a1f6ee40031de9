"""Change methods. Each is fitted on sample tiles (statistics, automatic threshold), then
scores any block (with its halo) on a 0..1 scale where 0.5 is the automatic threshold."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Callable, Optional

import numpy as np

from ..errors import InputError
from ..parallel import SideThread, thread_map
from . import acceleration
from .chroma import MIN_BANDS, least_chroma, natural_hues, stretch_limits, stretch_terms
from .filters import box_mean, double_bilinear, half_bands, sobel
from .irmad import MadModel, fit_irmad
from .model import METHODS
from .stats import chi2_ppf, kmeans, otsu_threshold, score_from_ratio


@dataclass
class Tile:
    """A sample tile with halo: before/after bands (p, h, w), validity, and the core slice."""

    before: np.ndarray
    after: np.ndarray
    valid: np.ndarray
    halo: int

    def core(self, array: np.ndarray) -> np.ndarray:
        return window(array, self.halo)


class ChangeMethod:
    halo = 0  # pixels of context on each side of a block, on the analysis grid
    analysis_scale = 1  # 2: the pipeline hands over 2 x 2-averaged bands and upsamples the score

    def __init__(self) -> None:
        self.band_keys: Optional[list] = None  # meaning of each band ("red", "nir", ... or None), when known
        self.raw_threshold = 1.0
        self.mean: Optional[np.ndarray] = None
        self.std: Optional[np.ndarray] = None

    def fit_standardisation(self, tiles: list[Tile]) -> None:
        values = np.concatenate([t.core(t.before)[:, t.core(t.valid)] for t in tiles], axis=1)
        self.mean = values.mean(1).astype(np.float32)
        self.std = (values.std(1) + 1e-6).astype(np.float32)

    def standardise(self, bands: np.ndarray) -> np.ndarray:
        return (bands - self.mean[:, None, None]) / self.std[:, None, None]

    def fit(self, tiles: list[Tile]) -> None:
        raise NotImplementedError

    def prepare(self, report: Callable[[str], None] = lambda message: None) -> str:
        """Readies scoring on the calling thread (before any pool starts), telling `report` what
        takes time; returns a line for the log ("" when there is nothing to say)."""
        return ""

    def scoring_advice(self) -> str:
        """What the user could do for faster scoring with this method, one line ("" when nothing)."""
        return ""

    def score(self, before: np.ndarray, after: np.ndarray, valid: Optional[np.ndarray], core: int = 0) -> np.ndarray:
        """Score of the block (bands with halo) less `core` pixels on each side (the halo:
        the steps that need no context then skip it)."""
        return window(self.score_all(before, after, valid), core)

    def score_all(self, before: np.ndarray, after: np.ndarray, valid: Optional[np.ndarray]) -> np.ndarray:
        """Score of every pixel of the block."""
        raise NotImplementedError


def window(array: np.ndarray, inset: int) -> np.ndarray:
    """The last two axes less `inset` pixels on each side (a view)."""
    if inset <= 0:
        return array
    h, w = array.shape[-2:]
    return array[..., inset:h - inset, inset:w - inset]


def _sample_core(tiles: list[Tile], raw_of_tile) -> np.ndarray:
    return np.concatenate([t.core(raw_of_tile(t))[t.core(t.valid)] for t in tiles])


class CVA(ChangeMethod):
    """Magnitude of the spectral change vector (bands standardised by the before capture)."""

    def raw(self, before, after):
        d = self.standardise(before) - self.standardise(after)
        return np.sqrt((d * d).sum(0))

    def fit(self, tiles):
        self.fit_standardisation(tiles)
        self.raw_threshold = max(otsu_threshold(_sample_core(tiles, lambda t: self.raw(t.before, t.after))), 1e-6)

    def score_all(self, before, after, valid):
        return score_from_ratio(self.raw(before, after) / self.raw_threshold, 4.0)


class IRMAD(ChangeMethod):
    """IR-MAD chi-square statistic; threshold at the 99 % significance of the chi-square law."""

    SIGNIFICANCE = 0.99

    def __init__(self) -> None:
        super().__init__()
        self.model: Optional[MadModel] = None

    MAX_SAMPLE = 100_000

    def fit(self, tiles):
        # every step-th valid core pixel over all tiles (in tile order), gathered without
        # copying the rest first: the same pixels as concatenating everything, then [::step]
        where = [np.flatnonzero(t.core(t.valid)) for t in tiles]
        step = max(1, -(-sum(len(w) for w in where) // self.MAX_SAMPLE))
        picks, offset = [], 0
        for w in where:
            picks.append(w[(-offset) % step::step])
            offset += len(w)
        cells = [np.divmod(pick, t.core(t.valid).shape[1]) for t, pick in zip(tiles, picks)]
        x, y = ([getattr(t, side)[:, rows + t.halo, cols + t.halo] for t, (rows, cols) in zip(tiles, cells)]
                for side in ("before", "after"))
        self.model = fit_irmad(np.concatenate(x, axis=1).T, np.concatenate(y, axis=1).T)
        self.raw_threshold = chi2_ppf(self.SIGNIFICANCE, self.model.bands)

    def score_all(self, before, after, valid):
        return score_from_ratio(np.sqrt(self.model.chi_square(before, after) / self.raw_threshold), 4.0)


class PCAKMeans(ChangeMethod):
    """Celik (2009): PCA of difference-image neighbourhoods, two k-means clusters."""

    PATCH = 2  # 5 x 5 neighbourhoods
    halo = 2

    def __init__(self) -> None:
        super().__init__()
        self.components = None
        self.centres = None
        self.patch_mean = None

    def _difference(self, before, after):
        d = self.standardise(before) - self.standardise(after)
        return np.sqrt((d * d).sum(0))

    def _patches(self, diff):
        r = self.PATCH
        p = np.pad(diff, r, mode="reflect")
        h, w = diff.shape
        return np.stack([p[j:j + h, i:i + w] for j in range(2 * r + 1) for i in range(2 * r + 1)], axis=-1)

    def fit(self, tiles):
        self.fit_standardisation(tiles)
        feats = np.concatenate([t.core(self._patches(self._difference(t.before, t.after)).transpose(2, 0, 1))
                                [:, t.core(t.valid)].T for t in tiles])
        rng = np.random.default_rng(0)
        if len(feats) > 200_000:
            feats = feats[rng.choice(len(feats), 200_000, replace=False)]
        self.patch_mean = feats.mean(0)
        cov = np.cov((feats - self.patch_mean).T)
        evals, evecs = np.linalg.eigh(cov)
        order = np.argsort(evals)[::-1]
        evals, evecs = evals[order], evecs[:, order]
        keep = int(np.searchsorted(np.cumsum(evals) / evals.sum(), 0.9) + 1)
        self.components = evecs[:, :max(keep, 1)].astype(np.float32)
        proj = (feats - self.patch_mean) @ self.components
        centres = kmeans(proj, 2)
        # the change cluster is the one whose patches have the larger mean difference
        means = [((c @ self.components.T) + self.patch_mean).mean() for c in centres]
        self.centres = centres[np.argsort(means)].astype(np.float32)  # [no change, change]
        self.raw_threshold = 1.0

    def score_all(self, before, after, valid):
        feats = self._patches(self._difference(before, after))
        proj = (feats - self.patch_mean.astype(np.float32)) @ self.components
        d_nc = np.sqrt(((proj - self.centres[0]) ** 2).sum(-1))
        d_c = np.sqrt(((proj - self.centres[1]) ** 2).sum(-1))
        return score_from_ratio(d_nc / np.maximum(d_c, 1e-6), 2.0)


def _guided_filter(guide: np.ndarray, src: np.ndarray, r: int, eps: float, inset: int = 0) -> np.ndarray:
    """He et al. guided filter, fast form (He & Sun 2015): src smoothed, its edges snapped to
    the guide's edges. The linear coefficients come from a 2x-decimated grid (a quarter of
    the work) and are upsampled; the output keeps the guide's full-resolution edges.
    The output is that of the arrays less `inset` pixels on each side."""
    h, w = guide.shape
    g, s = half_bands(guide[None])[0], half_bands(src[None])[0]
    r = max(r // 2, 1)
    mg, ms = box_mean(g, r), box_mean(s, r)
    cov = box_mean(g * s, r) - mg * ms
    var = box_mean(g * g, r) - mg * mg
    a = cov / (var + eps)
    b = ms - a * mg
    out = window(double_bilinear(box_mean(a, r))[:h, :w], inset) * window(guide, inset)
    out += window(double_bilinear(box_mean(b, r))[:h, :w], inset)
    return out


class StructureContext(ChangeMethod):
    """Illumination- and season-robust change of man-made things (SiteWatch's own method).

    Context score. Three cues, computed on a 2x-decimated grid,
    - spectral change of local means (radiometry normalised; about 5 x 5 and 13 x 13 px),
    - local structural dissimilarity (1 - SSIM structure term of luminance, about 17 x 17 px),
    - gradient-orientation disagreement (1 - normalised gradient correlation, 17 x 17 px),
    are fused by a geometric mean on absolute scales (a change must show on every cue; pure
    brightness or contrast changes do not), smoothed over a 9 x 9 context window, then
    multiplied with the fine-scale (3 x 3) spectral change, and edge-aligned by a guided filter
    (13 x 13 px) on the luminance difference, so regions keep the outline of what changed.
    Automatic threshold: Otsu on the sample, never below MIN_THRESHOLD (a scene without
    change stays without change).

    Fusion (FUSE_IRMAD): the geometric mean of this contextual score and the IR-MAD score (both
    0..1 with 0.5 at their own automatic threshold), so a pixel is a change only when the
    context cues and the per-pixel spectral significance (IR-MAD's chi-square, calibrated on
    the scene's own no-change statistics) agree: context halos around real changes, orchard
    texture and residual misregistration lose most of their false alarms.

    Natural-surface prior (NATURAL_PRIOR, 3+ bands): roofs, concrete, asphalt, vehicles and
    aircraft are mostly achromatic, vegetation and soil are colourful (more so with a
    near-infrared band), and change between two natural surfaces (crops, lawns, trees, wet
    soil) is seldom what an analyst is after. Each date's bands are stretched between their
    own 0.5 and 99.5 % sample percentiles (so per-band gains, offsets and the radiometric
    normalisation do not matter), the chroma (max - min) / (max + eps) of the LESS colourful
    date is taken (a man-made surface on either date keeps the prior silent: arrivals and
    departures, brighter or darker, are treated alike), and where it exceeds the scene's own
    40 % chroma quantile the odds of change are divided by exp(CHROMA_WEIGHT * excess), by
    at most exp(CHROMA_CAP) = 10 (a strong change still shows). Only natural hues count as
    colourful (chroma.natural_hues: yellow, brown and green where the red, green and blue
    bands are named, green only where they are not): painted roofs, blue or red, stay
    man-made. The prior only lowers scores; it never raises one. ChangeParameters.natural_prior
    switches it off (NATURAL_PRIOR here)."""

    halo = 32  # context (about 16 px) + guided filter (2 x 6 px) + chroma (1 px) + decimation parity
    R_MEAN = (2, 6)
    R_STRUCT = 8
    R_CONTEXT = 4
    SPECTRAL_SCALE = 1.0
    MIN_THRESHOLD = 0.3  # below it nothing is a change, whatever Otsu says on a no-change scene
    GUIDED = True  # guided filter on the luminance difference: outlines follow what changed
    GUIDE_R = 6
    GUIDE_EPS = 0.01
    FUSE_IRMAD = True  # geometric mean with the IR-MAD score (see the class notes)
    NATURAL_PRIOR = True  # change between colourful (natural) surfaces counts less (see the notes)
    CHROMA_PERCENTILES = (0.5, 99.5)  # each date's band stretch
    CHROMA_EPS = 0.1  # stretched units: dark pixels are not called colourful
    CHROMA_REFERENCE = 0.4  # quantile of the scene's chroma above which the prior acts
    CHROMA_WEIGHT = 50.0  # odds divided by exp(weight * chroma excess) ...
    # ... by at most 10: on the tune half (tools/eval_change.py), of caps 5, 7, 10 and 20 the one whose
    # worst margin over the best classical method, on the pairs and their recoloured roofs, is largest
    CHROMA_CAP = math.log(10.0)

    def __init__(self) -> None:
        super().__init__()
        self.spectral: Optional[IRMAD] = None
        self.limits: Optional[tuple[np.ndarray, np.ndarray]] = None  # stretch of before, after
        self.chroma_reference = 0.0
        self.hues = None  # chroma.HueWindow of the fitted prior
        self._kernel_args = None  # the fitted model as the compiled kernels take it

    def _cues(self, before, after) -> list[np.ndarray]:
        """Context cues on a 2x-decimated grid (4x less work), the fine cue at full resolution."""
        # standardising is per-band affine: done on the decimated bands (a quarter of the work),
        # and at full resolution only the difference is needed
        hb, wb = self.standardise(half_bands(before)), self.standardise(half_bands(after))
        cues = []
        d = 0.0
        for r in self.R_MEAN:
            diff = box_mean(hb - wb, max(r // 2, 1))
            d = d + np.sqrt((diff * diff).sum(0))
        cues.append(d / len(self.R_MEAN))
        lb, la = hb.mean(0), wb.mean(0)
        r = self.R_STRUCT // 2
        mb, ma = box_mean(lb, r), box_mean(la, r)
        vb = box_mean(lb * lb, r) - mb * mb
        va = box_mean(la * la, r) - ma * ma
        cab = box_mean(lb * la, r) - mb * ma
        c = np.float32(0.01)
        cues.append(1.0 - (2 * cab + c) / (np.maximum(va, 0) + np.maximum(vb, 0) + c))
        bx, by = sobel(lb)
        ax, ay = sobel(la)
        sbb = box_mean(bx * bx + by * by, r)
        saa = box_mean(ax * ax + ay * ay, r)
        sab = box_mean(bx * ax + by * ay, r)
        cues.append(1.0 - (2 * sab + c) / (saa + sbb + c))
        change = after - before
        change *= (np.float32(1.0) / self.std)[:, None, None]  # in units of the scene's spread
        diff = box_mean(change, 1)
        cues.append(np.sqrt((diff * diff).sum(0)))
        cues.append(change.mean(0) if self.GUIDED else None)  # guide: luminance difference
        return cues

    def _fuse(self, cues, inset: int = 0) -> np.ndarray:
        """The raw score of the block less `inset` pixels on each side."""
        # absolute scales: spectral change in units of the scene's spread (k = 1), structural
        # cues are dissimilarities in 0..1; the geometric mean needs agreement of all three
        c1 = cues[0] * cues[0]
        fused = c1 / (c1 + self.SPECTRAL_SCALE ** 2)
        for cue in cues[1:3]:
            fused = fused * np.clip(cue, 0.0, 1.0)
        context = box_mean(np.cbrt(fused), max(self.R_CONTEXT // 2, 1))
        h, w = cues[3].shape
        context = np.repeat(np.repeat(context, 2, axis=0), 2, axis=1)[:h, :w]
        # boundaries from the fine-scale spectral change (objects keep their outline)
        fine = cues[3] * cues[3]
        fine = fine / (fine + self.SPECTRAL_SCALE ** 2)
        out = np.sqrt(context * np.sqrt(fine))
        if cues[4] is not None:
            return _guided_filter(cues[4], out, self.GUIDE_R, self.GUIDE_EPS, inset)
        return window(out, inset)

    def fit(self, tiles):
        """The IR-MAD model is fitted on a side thread meanwhile (its own sample, BLAS products)."""
        self._kernel_args = None
        with SideThread("sitewatch-fit-irmad") as side:
            _, self.spectral = side.both(partial(self._fit_context, tiles), partial(self._fit_spectral, tiles))

    def _fit_spectral(self, tiles) -> Optional[IRMAD]:
        if not self.FUSE_IRMAD:
            return None
        spectral = IRMAD()
        spectral.fit(tiles)
        return spectral

    def _fit_context(self, tiles) -> None:
        """Standardisation, the contextual score's threshold and the natural-surface prior."""
        self.fit_standardisation(tiles)
        raw = np.concatenate(thread_map(lambda t: self._raw(t.before, t.after, t.halo)[t.core(t.valid)],
                                        ((t,) for t in tiles)))
        self.raw_threshold = max(otsu_threshold(raw), self.MIN_THRESHOLD)
        self.limits = None
        if self.NATURAL_PRIOR and tiles[0].before.shape[0] >= MIN_BANDS:
            self.hues = natural_hues(self.band_keys or [None] * tiles[0].before.shape[0])
            lo, hi = self.CHROMA_PERCENTILES
            self.limits = tuple(stretch_limits(np.concatenate([t.core(getattr(t, side))[:, t.core(t.valid)]
                                                               for t in tiles], axis=1), lo, hi)
                                for side in ("before", "after"))
            sample = _sample_core(tiles, lambda t: self._chroma(t.before, t.after))
            self.chroma_reference = float(np.quantile(sample, self.CHROMA_REFERENCE))

    def _raw(self, before, after, core: int) -> np.ndarray:
        """The contextual score before its threshold, less `core` pixels on each side."""
        kernels = acceleration.kernels() if self.GUIDED else None
        if kernels is not None:
            return kernels.structure_raw(before, after, core, self)
        return self._fuse(self._cues(before, after), core)

    def _chroma(self, before, after) -> np.ndarray:
        return least_chroma(before, after, self.limits[0], self.limits[1], self.CHROMA_EPS, hues=self.hues)

    def prepare(self, report: Callable[[str], None] = lambda message: None) -> str:
        if self.GUIDED and acceleration.kernels() is not None:
            report("Loading the compiled change kernels (their first use compiles them: about 20 s, once)")
            acceleration.warm_up()
        return acceleration.describe() if self.GUIDED else "Change scoring: numpy."

    def scoring_advice(self) -> str:
        return acceleration.advice() if self.GUIDED else ""

    def _compiled_args(self, kernels):
        """The fitted model in the form of compiled.StructureArgs (built once per fit)."""
        if self._kernel_args is None:
            p = len(self.mean)
            zeros, ones, square = np.zeros(p, np.float32), np.ones(p, np.float32), np.zeros((p, p), np.float32)
            wa, wb, const = self.spectral.model.weights() if self.spectral is not None else (square, square, zeros)
            (lo_b, scale_b), (lo_a, scale_a) = (map(stretch_terms, self.limits) if self.limits is not None
                                                else ((zeros, ones), (zeros, ones)))
            hues = self.hues if self.limits is not None else None
            self._kernel_args = kernels.StructureArgs(
                self.mean, self.std, tuple(self.R_MEAN), self.R_STRUCT, self.R_CONTEXT, float(self.SPECTRAL_SCALE),
                self.GUIDE_R, float(self.GUIDE_EPS), float(self.raw_threshold), wa, wb, const,
                float(self.spectral.raw_threshold) if self.spectral is not None else 1.0, self.spectral is not None,
                lo_b, scale_b, lo_a, scale_a, float(self.CHROMA_EPS), float(self.chroma_reference),
                float(self.CHROMA_WEIGHT), self.limits is not None, float(self.CHROMA_CAP),
                hues.rgb if hues is not None else (0, 1, 2), float(hues.low) if hues is not None else 0.0,
                float(hues.high) if hues is not None else 360.0, float(hues.ramp) if hues is not None else 1.0)
        return self._kernel_args

    def score(self, before, after, valid, core=0):
        kernels = acceleration.kernels() if self.GUIDED else None
        if kernels is not None:  # the same arithmetic, fused into a few passes (compiled.py)
            return kernels.structure_score(before, after, core, self._compiled_args(kernels))
        # the steps after the guided filter run on the core only; the IR-MAD and chroma terms
        # are computed on the whole (contiguous) block: numpy runs slower on strided views
        out = score_from_ratio(self._fuse(self._cues(before, after), core) / self.raw_threshold, 8.0)
        if self.spectral is not None:
            out *= self.spectral.score(before, after, None, core)
            np.sqrt(out, out=out)
        if self.limits is not None:
            # odds of change divided by exp(weight * excess chroma): s f / (s f + 1 - s)
            chroma = window(self._chroma(before, after), core)
            excess = np.maximum(chroma - np.float32(self.chroma_reference), 0.0)
            f = np.exp(np.minimum(np.float32(self.CHROMA_WEIGHT) * excess, np.float32(self.CHROMA_CAP))
                       * np.float32(-1.0))
            out = out * f / (out * f + (1.0 - out))
        return out

    def score_all(self, before, after, valid):
        return self.score(before, after, valid)


_CLASSES = {"structure": StructureContext, "cva": CVA, "irmad": IRMAD, "pcakmeans": PCAKMeans}


def make_method(method_id: str, natural_prior: bool = True) -> ChangeMethod:
    """The method; natural_prior=False switches off the default method's natural-surface prior."""
    if method_id not in _CLASSES or method_id not in METHODS:
        raise InputError(f"Unknown change method '{method_id}'; choose one of: {', '.join(METHODS)}.")
    method = _CLASSES[method_id]()
    if not natural_prior and isinstance(method, StructureContext):
        method.NATURAL_PRIOR = False
    return method
