"""Sub-pixel co-registration by phase correlation of gradient-magnitude images.

Gradient magnitude of per-window standardised luminance is insensitive to brightness and
contrast changes between dates; a Hann window kills the wrap-around edges; a Gaussian
low-pass on the normalised cross-power spectrum makes the correlation peak smooth, so a
three-point log-parabola gives the sub-pixel position."""
from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import CoregistrationFailed
from ..parameters import ChangeParameters
from ..parallel import SideThread, thread_map
from ..progress import Progress
from . import acceleration
from .filters import box_mean, gain_offset, shift_subpixel, sobel
from .grid import AlignedPair, AlignedView
from .model import Shift

LOG = logging.getLogger(__name__)

MIN_CONFIDENCE = 0.25  # below it the peak is not distinct: the images do not correlate
LOCAL_TILE = 256
GLOBAL_WINDOW = 512
FIELD_PX = 0.5  # a field when most tiles depart this far from the global shift


class ShiftNotEstimated(CoregistrationFailed):
    """No window correlated confidently (or too few pixels to try): nothing says the captures
    are misaligned, only that the shift could not be measured; a run may go on unshifted."""


@dataclass
class PeakEstimate:
    dx: float
    dy: float
    confidence: float


def _structure_image(data: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Brightness-invariant single-band image: gradient magnitude of standardised luminance."""
    if valid.sum() < 16:
        return np.zeros(valid.shape, np.float32)
    lum = np.zeros(valid.shape, np.float32)
    everywhere = bool(valid.all())
    for band in data:
        v = band if everywhere else band[valid]  # (the same values, in the same order)
        lum += (band - v.mean()) / (v.std() + 1e-6)
    lum[~valid] = 0.0
    gx, gy = sobel(box_mean(lum, 1))  # light smoothing: structure, not sensor noise
    mag = np.hypot(gx, gy)
    # invalid pixels and their borders carry no structure
    edge = valid.copy()
    edge[1:, :] &= valid[:-1, :]
    edge[:-1, :] &= valid[1:, :]
    edge[:, 1:] &= valid[:, :-1]
    edge[:, :-1] &= valid[:, 1:]
    if edge.all():
        return ((mag - mag.mean()) / (mag.std() + 1e-6)).astype(np.float32)
    mag[~edge] = 0.0
    m = mag[edge]
    mag = np.where(edge, (mag - m.mean()) / (m.std() + 1e-6), 0.0)
    return mag.astype(np.float32)


def phase_correlation(reference: np.ndarray, moving: np.ndarray) -> tuple[np.ndarray, float]:
    """Correlation surface (fft-shifted, centre = zero shift) of two equal-size images."""
    h, w = reference.shape
    window, weights = _spectral_terms(h, w)
    fa = np.fft.rfft2(reference * window)
    fb = np.fft.rfft2(moving * window)
    cross = fb * np.conj(fa)
    cross /= np.abs(cross) + 1e-9
    cross *= weights
    surface = np.fft.fftshift(np.fft.irfft2(cross, s=(h, w)))
    return surface, PEAK_SIGMA


PEAK_SIGMA = 0.15  # cycles/pixel: a correlation peak about 1 px wide, easy to fit


@functools.lru_cache(maxsize=8)
def _spectral_terms(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """The Hann window of an h x w image and the Gaussian weights of its half spectrum (a run
    correlates many windows of two or three sizes)."""
    window = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    weights = np.exp(-(fx ** 2 + fy ** 2) / (2 * PEAK_SIGMA ** 2))
    window.flags.writeable = weights.flags.writeable = False
    return window, weights


def find_peak(surface: np.ndarray, max_shift: float) -> tuple[PeakEstimate, PeakEstimate]:
    """Best peak within the search range and the best peak anywhere (shift of moving vs reference)."""
    h, w = surface.shape
    cy, cx = h // 2, w // 2
    reach = max(int(math.floor(max_shift)), 0)  # whole pixels within max_shift of the centre
    y0, x0 = max(cy - reach, 0), max(cx - reach, 0)

    def peak(y0: int, y1: int, x0: int, x1: int) -> PeakEstimate:
        """The peak within rows y0..y1 and columns x0..x1 (the first in raster order, on ties)."""
        ry, rx = np.unravel_index(int(np.argmax(surface[y0:y1, x0:x1])), (y1 - y0, x1 - x0))
        py, px = int(ry) + y0, int(rx) + x0
        top = surface[py, px]
        # distinctness: the highest value away from this peak (outside the 7 x 7 pixels around it)
        away = np.ones(surface.shape, bool)
        away[max(py - 3, 0):py + 4, max(px - 3, 0):px + 4] = False
        second = np.max(surface[away]) if away.any() else 0.0
        noise = np.std(surface[away]) + 1e-12
        conf = 0.0 if top <= 0 else float(np.clip((top - max(second, 0.0)) / top, 0, 1))
        # scale by how far above the noise floor the peak stands
        conf *= float(np.clip((top / noise - 4.0) / 6.0, 0, 1))

        def fit(c, lo, hi):
            lo, hi, c = max(lo, 1e-9), max(hi, 1e-9), max(c, 1e-9)
            a, b, d = math.log(lo), math.log(c), math.log(hi)
            den = a - 2 * b + d
            return 0.0 if den >= 0 else float(np.clip(0.5 * (a - d) / den, -0.5, 0.5))

        sx = fit(top, surface[py, px - 1], surface[py, (px + 1) % w]) if 0 < px < w - 1 else 0.0
        sy = fit(top, surface[py - 1, px], surface[(py + 1) % h, px]) if 0 < py < h - 1 else 0.0
        return PeakEstimate(px + sx - cx, py + sy - cy, conf)

    return peak(y0, min(cy + reach + 1, h), x0, min(cx + reach + 1, w)), peak(0, h, 0, w)


def estimate_windows(pair: AlignedPair, windows: list[tuple[int, int, int, int]], max_shift: float,
                     progress: Progress, message: str) -> list[tuple[PeakEstimate, PeakEstimate, int]]:
    """correlate_window on each window (x0, y0, width, height) of the pair, in order: the
    windows are read on this thread (the after capture's on a side thread), correlated on the
    thread pool."""
    def jobs():
        with SideThread("sitewatch-read-after") as side:
            for k, (x0, y0, w, h) in enumerate(windows):
                progress.report(k / len(windows), message)
                (db, vb), (da, va) = side.both(functools.partial(pair.before.read, x0, y0, w, h),
                                               functools.partial(pair.after.read, x0, y0, w, h))
                yield db, vb, da, va, max_shift

    return thread_map(correlate_window, jobs())


def correlate_window(db: np.ndarray, vb: np.ndarray, da: np.ndarray, va: np.ndarray,
                     max_shift: float) -> tuple[PeakEstimate, PeakEstimate, int]:
    """Shift of one window of the after capture against the before one: the peak within
    max_shift, the peak anywhere, and the number of pixels valid on both dates."""
    both = vb & va
    ref = _structure_image(db, both)
    mov = _structure_image(da, both)
    surface, _ = phase_correlation(ref, mov)
    inside, anywhere = find_peak(surface, max_shift)
    return inside, anywhere, int(both.sum())


class ShiftModel:
    """Constant shift or a tile-wise field; samples the after view where it matches the before."""

    def __init__(self, dx: float = 0.0, dy: float = 0.0, field: Optional[tuple] = None):
        self.dx, self.dy = dx, dy
        self.field = field  # (centres_x, centres_y, dx_grid, dy_grid)
        if field is None:
            self.margin = int(math.ceil(max(abs(dx), abs(dy)))) + 2
        else:
            self.margin = int(math.ceil(max(np.abs(field[2]).max(), np.abs(field[3]).max()))) + 2

    @property
    def is_zero(self) -> bool:
        return self.field is None and abs(self.dx) < 1e-3 and abs(self.dy) < 1e-3

    def halved(self) -> "ShiftModel":
        """The same displacement on the 2 x 2-averaged grid (pixel i covers pixels 2i, 2i + 1)."""
        if self.field is None:
            return ShiftModel(self.dx / 2, self.dy / 2)
        cx, cy, gdx, gdy = self.field
        return ShiftModel(self.dx / 2, self.dy / 2, ((cx - 0.5) / 2, (cy - 0.5) / 2, gdx / 2, gdy / 2))

    def _field_at(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cx, cy, gdx, gdy = self.field
        if len(cx) > 1 and len(cy) > 1:
            # bilinear interpolation on a rectilinear lattice is separable
            (ix, fx), (iy, fy) = _lattice_weights(xs, cx), _lattice_weights(ys, cy)
            return _separable_bilinear(gdx, iy, fy, ix, fx), _separable_bilinear(gdy, iy, fy, ix, fx)
        # one row or column of tiles: separable interpolation
        dxs = np.interp(xs, cx, gdx.mean(0)) if len(cy) == 1 else np.interp(ys, cy, gdx.mean(1))
        dys = np.interp(xs, cx, gdy.mean(0)) if len(cy) == 1 else np.interp(ys, cy, gdy.mean(1))
        if len(cy) == 1:
            return np.broadcast_to(dxs[None, :], (len(ys), len(xs))), np.broadcast_to(dys[None, :], (len(ys), len(xs)))
        return np.broadcast_to(dxs[:, None], (len(ys), len(xs))), np.broadcast_to(dys[:, None], (len(ys), len(xs)))

    def read(self, view: AlignedView, x0: int, y0: int, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
        return self.resample(*self.read_raw(view, x0, y0, w, h), x0, y0, w, h)

    def read_raw(self, view: AlignedView, x0: int, y0: int, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
        """The GDAL part: the window plus the margin the shift needs (thread: the reader's)."""
        if self.is_zero:
            return view.read(x0, y0, w, h)
        m = self.margin
        return view.read(x0 - m, y0 - m, w + 2 * m, h + 2 * m)

    def resample(self, data: np.ndarray, valid: np.ndarray, x0: int, y0: int, w: int, h: int,
                 terms: Optional[tuple[np.ndarray, np.ndarray]] = None) -> tuple[np.ndarray, np.ndarray]:
        """The numpy part: sample read_raw's output where the before capture's pixels lie.
        terms: per-band (gain, offset) applied to the samples (float32 out), or None."""
        if self.is_zero:
            return (data if terms is None else gain_offset(data, terms)), valid
        m = self.margin
        if self.field is None:
            out = shift_subpixel(data, self.dx, self.dy, m, terms)
            if valid.all():  # every neighbour valid: no need to resample the validity
                return out, np.ones(out.shape[-2:], bool)
            return out, shift_subpixel(valid[None].astype(np.float32), self.dx, self.dy, m)[0] > 0.999
        dxs, dys = self._field_at(np.arange(x0, x0 + w, dtype=np.float64), np.arange(y0, y0 + h, dtype=np.float64))
        xs = np.arange(w)[None, :] + m + dxs
        ys = np.arange(h)[:, None] + m + dys
        kernels = acceleration.kernels() if data.dtype.kind in "uif" else None
        sampler = None
        if kernels is not None:  # the same sampling (and gain, offset) in one pass (compiled.py)
            out = kernels.sample_field(data, xs, ys, terms)
        else:
            sampler = _Bilinear(xs, ys, data.shape[-2:])
            out = sampler.sample(data)
            if terms is not None:
                out = gain_offset(out, terms)
        if valid.all():  # every neighbour valid: no need to resample the validity
            return out, np.ones((h, w), bool)
        sampler = sampler or _Bilinear(xs, ys, data.shape[-2:])
        return out, sampler.sample(valid[None].astype(np.float32))[0] > 0.999


def _lattice_weights(positions: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower lattice index and fraction of each position (linear interpolation, clamped)."""
    n = len(centres)
    f = np.clip(np.interp(positions, centres, np.arange(n)), 0, n - 1.001)
    i0 = np.floor(f).astype(np.intp)
    return i0, (f - i0).astype(np.float32)


def _separable_bilinear(grid: np.ndarray, iy: np.ndarray, fy: np.ndarray, ix: np.ndarray, fx: np.ndarray
                        ) -> np.ndarray:
    """Bilinear interpolation of a small lattice at every (y, x) of a block: rows, then columns
    (no BLAS call: worker threads must not wake a BLAS thread pool)."""
    g = grid.astype(np.float32)
    rows = g[iy] * (1 - fy)[:, None] + g[iy + 1] * fy[:, None]  # (h, nx)
    return rows[:, ix] * (1 - fx)[None, :] + rows[:, ix + 1] * fx[None, :]


class _Bilinear:
    """Bilinear sampling at fractional positions (same arithmetic as filters.bilinear_sample);
    the flat neighbour indices and weights are computed once and shared by every band."""

    def __init__(self, xs: np.ndarray, ys: np.ndarray, shape: tuple[int, int]):
        h, w = shape
        xs = np.clip(xs, 0, w - 1.001)
        ys = np.clip(ys, 0, h - 1.001)
        x0 = np.floor(xs).astype(np.intp)
        y0 = np.floor(ys).astype(np.intp)
        self.fx = (xs - x0).astype(np.float32)
        self.fy = (ys - y0).astype(np.float32)
        self.gx, self.gy = 1 - self.fx, 1 - self.fy
        self.i00 = y0 * w + x0
        self.i01 = self.i00 + 1
        self.i10 = self.i00 + w
        self.i11 = self.i10 + 1

    def sample(self, image: np.ndarray) -> np.ndarray:
        out = np.empty((image.shape[0],) + self.i00.shape, np.float32)
        for b in range(image.shape[0]):
            flat = np.ascontiguousarray(image[b], np.float32).reshape(-1)
            top = flat.take(self.i00)
            top *= self.gx
            tmp = flat.take(self.i01)
            tmp *= self.fx
            top += tmp
            bottom = flat.take(self.i10)
            bottom *= self.gx
            flat.take(self.i11, out=tmp)
            tmp *= self.fx
            bottom += tmp
            top *= self.gy
            bottom *= self.fy
            np.add(top, bottom, out=out[b])
        return out


OUTLIER_PX = 1.5  # a tile this far from the median of its neighbours locked onto a repeated pattern


def _neighbour_outliers(gdx: np.ndarray, gdy: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Tiles whose shift departs from the median of their confident neighbours (8-connected)
    by more than OUTLIER_PX, removed worst first: phase correlation on rows of parked
    aircraft, crop rows or a fence can lock onto the pattern's period instead of the true
    shift. A real field varies smoothly, so its tiles agree with their neighbours."""
    ny, nx = gdx.shape
    keep = ok.copy()
    while True:
        worst, where = OUTLIER_PX, None
        for j, i in zip(*np.nonzero(keep)):
            near = [(b, a) for b in range(max(j - 1, 0), min(j + 2, ny)) for a in range(max(i - 1, 0), min(i + 2, nx))
                    if (b, a) != (j, i) and keep[b, a]]
            if len(near) < 2:
                continue
            dev = math.hypot(gdx[j, i] - np.median([gdx[p] for p in near]), gdy[j, i] - np.median([gdy[p] for p in near]))
            if dev > worst:
                worst, where = dev, (j, i)
        if where is None:
            return ok & ~keep
        keep[where] = False


def _one_shift(estimates: list[PeakEstimate], n_checked: int, dx: float, dy: float) -> bool:
    """Whether the global windows, spread over the grid, show one shift: at least three and two
    thirds of them confident, all within half of FIELD_PX of the median (dx, dy). Tiles departing
    from it by FIELD_PX in most places could not then be; the local tiles are not read."""
    if len(estimates) < max(3, math.ceil(2 * n_checked / 3)):
        return False
    return all(math.hypot(e.dx - dx, e.dy - dy) <= FIELD_PX / 2 for e in estimates)


def estimate_shift(pair: AlignedPair, max_shift_px: float = ChangeParameters.max_shift_px,
                   local: bool = ChangeParameters.local_shift,
                   progress: Optional[Progress] = None) -> tuple[Shift, ShiftModel]:
    """Global sub-pixel shift of after vs before, and a local field when it varies (the local
    tiles are read only when the global windows do not show one shift)."""
    progress = progress or Progress()
    g = pair.grid
    size_x = min(GLOBAL_WINDOW, g.width)
    size_y = min(GLOBAL_WINDOW, g.height)
    if min(size_x, size_y) < 32:
        raise ShiftNotEstimated(f"The common area of {pair.before_name} and {pair.after_name} is too small "
                                   f"({g.width} x {g.height} px) to estimate a shift.")
    search = min(float(max_shift_px), min(size_x, size_y) / 4.0)
    # up to 3 x 3 windows spread over the grid: a runway, a cloud or a changed block in one
    # window must not decide; the confident windows vote (median)
    nx = 1 if g.width < 2 * size_x else 3
    ny = 1 if g.height < 2 * size_y else 3
    estimates, far, n_checked = [], [], 0
    windows = [(int(x0), int(y0), size_x, size_y) for y0 in np.linspace(0, g.height - size_y, ny).astype(int)
               for x0 in np.linspace(0, g.width - size_x, nx).astype(int)]
    for inside, anywhere, n_valid in estimate_windows(pair, windows, search, progress.stage(0.0, 0.3),
                                                      "Estimating the global shift"):
        if n_valid < 0.2 * size_x * size_y:
            continue
        n_checked += 1
        if inside.confidence >= MIN_CONFIDENCE:
            estimates.append(inside)
        elif anywhere.confidence >= MIN_CONFIDENCE and (abs(anywhere.dx) > search or abs(anywhere.dy) > search):
            far.append(anywhere)
    if n_checked == 0:
        raise ShiftNotEstimated(f"Too few valid pixels where {pair.before_name} and {pair.after_name} overlap "
                                   f"to estimate a shift.")
    if len(far) > len(estimates):
        best = max(far, key=lambda e: e.confidence)
        raise CoregistrationFailed(
            f"{pair.after_name} appears shifted by about ({best.dx:.0f}, {best.dy:.0f}) px relative to "
            f"{pair.before_name}, beyond the search range of {search:.0f} px; check their georeferencing."
        )
    if not estimates:
        raise ShiftNotEstimated(
            f"{pair.before_name} and {pair.after_name} do not correlate well enough to estimate a shift "
            f"(no window reached the confidence {MIN_CONFIDENCE}: much change, clouds or little texture)"
        )
    inside = PeakEstimate(float(np.median([e.dx for e in estimates])), float(np.median([e.dy for e in estimates])),
                          float(np.median([e.confidence for e in estimates])))
    dx, dy = inside.dx, inside.dy
    model = ShiftModel(dx, dy)
    n_tiles, deviation = 0, 0.0
    if local and (g.width >= 3 * LOCAL_TILE or g.height >= 3 * LOCAL_TILE) \
            and not _one_shift(estimates, n_checked, dx, dy):
        nx = max(1, min(5, g.width // LOCAL_TILE))
        ny = max(1, min(5, g.height // LOCAL_TILE))
        cxs = np.linspace(LOCAL_TILE / 2, g.width - LOCAL_TILE / 2, nx)
        cys = np.linspace(LOCAL_TILE / 2, g.height - LOCAL_TILE / 2, ny)
        gdx = np.full((ny, nx), np.nan)
        gdy = np.full((ny, nx), np.nan)
        tiles = [(int(cx - LOCAL_TILE / 2), int(cy - LOCAL_TILE / 2), LOCAL_TILE, LOCAL_TILE) for cy in cys for cx in cxs]
        found = estimate_windows(pair, tiles, min(search, LOCAL_TILE / 4), progress.stage(0.3, 1.0),
                                 "Estimating local shifts")
        for k, (est, _, nv) in enumerate(found):
            if nv > 0.5 * LOCAL_TILE ** 2 and est.confidence >= MIN_CONFIDENCE:
                gdx[k // nx, k % nx], gdy[k // nx, k % nx] = est.dx, est.dy
        ok = np.isfinite(gdx)
        ok &= ~_neighbour_outliers(gdx, gdy, ok)
        n_tiles = int(ok.sum())
        if n_tiles >= 4:
            dev = np.hypot(gdx[ok] - dx, gdy[ok] - dy)
            # a field only when tiles agree among themselves yet depart from the global shift
            if np.percentile(dev, 75) > FIELD_PX:
                deviation = float(dev.max())
                gdx[~ok], gdy[~ok] = dx, dy
                model = ShiftModel(dx, dy, (cxs, cys, gdx, gdy))
    progress.report(1.0, "Shift estimated")
    gt = g.geotransform
    shift = Shift(dx_px=float(dx), dy_px=float(dy), dx_m=float(dx * gt[1]), dy_m=float(dy * gt[5]),
                  confidence=float(inside.confidence), local=model.field is not None, n_tiles=n_tiles,
                  max_local_deviation_px=deviation, status="estimated")
    LOG.info("shift of %s vs %s: %.2f, %.2f px (confidence %.2f)", pair.after_name, pair.before_name, dx, dy,
             inside.confidence)
    return shift, model
