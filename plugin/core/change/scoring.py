"""The score pass: every block of the grid scored once, the score, the raw mask and the
score overviews written in order.

Each input is read once per strip of blocks (large reads in the native type, ending on the
file's block rows; the rows a strip shares with the next one are kept, so compressed inputs
are decoded once). Three kinds of thread share the work: a reader thread reads the inputs a
strip ahead (core/parallel.prefetch), the small pool scores blocks (numpy and the compiled
kernels release the GIL), and the calling thread writes the outputs in order. Only a few
blocks are ahead, so memory stays bounded."""
from __future__ import annotations

import math

import numpy as np
from osgeo import gdal

from ..parallel import prefetch, thread_imap
from ..progress import Progress
from .coregistration import ShiftModel
from .filters import double_bilinear, half_bands, half_valid
from .grid import AlignedPair, AlignedView
from .methods import ChangeMethod
from .model import NormalisationFit
from .normalisation import band_terms
from .outputs import OverviewWriter, blocks, create_raster
from .regions import MASK_NODATA, SCORE_NODATA

SCORE_STEPS = 1024  # the score is stored in steps of 1/1024: plenty for thresholds, and it compresses ~15x
STRIP_COLUMNS = 1024  # strips are read in chunks of at most this width (bounded memory: a strip is read ahead)
BLOCK_WIDTH_FACTOR = 1  # scored blocks are block_size rows x BLOCK_WIDTH_FACTOR * block_size columns


class _RowTail:
    """Reads a column range of a view as successive overlapping row windows (strips with
    their halo), each input row once: the rows a window shares with the next one are kept,
    and each read runs ahead to the next block boundary of the file (a compressed block row
    cut by a read would be decoded twice; kept too, bounded: less than one block row)."""

    def __init__(self, view: AlignedView, overlap: int):
        self.view, self.overlap = view, overlap
        self.grain, self.boundary = view.row_grain()
        self.height = view.ds.RasterYSize
        self.kept: dict[tuple[int, int], tuple[int, np.ndarray, np.ndarray]] = {}

    def _ahead(self, end: int) -> int:
        """The first block boundary at or after `end` (no further than the grid)."""
        if end >= self.height:
            return end
        ahead = end + (self.boundary - end) % self.grain
        return min(ahead, self.height)

    def read(self, x: int, y: int, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
        end = y + h
        ahead = self._ahead(end)
        start, data, valid = self.kept.pop((x, w), (None, None, None))
        if start is not None and start <= y <= start + data.shape[1]:
            have = start + data.shape[1]
            data, valid = data[:, y - start:], valid[y - start:]
            if ahead > have:
                if have >= self.height and data.shape[1]:  # below the grid: the edge row, invalid (as view.read pads)
                    more = np.repeat(data[:, -1:], ahead - have, axis=1)
                    more_valid = np.zeros((ahead - have, w), bool)
                else:
                    more, more_valid = self.view.read(x, have, w, ahead - have, native=True)
                data, valid = np.concatenate([data, more], axis=1), np.concatenate([valid, more_valid], axis=0)
        else:
            data, valid = self.view.read(x, y, w, ahead - y, native=True)
        keep_from = max(y, end - self.overlap)
        if ahead > keep_from:
            self.kept[(x, w)] = (keep_from, data[:, keep_from - y:].copy(), valid[keep_from - y:].copy())
        return data[:, :h], valid[:h]


def fill_invalid(bands: np.ndarray, valid: np.ndarray, fill: np.ndarray) -> None:
    """Invalid pixels take the per-band fill value (the sample mean), in place."""
    if not valid.all():
        bands[:, ~valid] = fill[:, None]


def quantise(score: np.ndarray) -> None:
    """Round a 0..1 score to steps of 1/SCORE_STEPS, in place (exact in float32). A 0..1
    float score is otherwise incompressible noise in its low bits: 300 MB at 8192 x 8192."""
    score *= np.float32(SCORE_STEPS)
    np.rint(score, out=score)
    score *= np.float32(1.0 / SCORE_STEPS)


def score_grid(pair: AlignedPair, method: ChangeMethod, shift_model: ShiftModel, norm: NormalisationFit,
               fill: np.ndarray, threshold: float, score_path: str, raw_path: str, block_size: int,
               progress: Progress) -> None:
    """Writes the change score (Float32 0..1 in steps of 1/SCORE_STEPS, with overviews) to score_path and the raw mask
    (score > threshold, before clean-up; uncompressed) to raw_path. block_size is even."""
    grid = pair.grid
    scale = method.analysis_scale
    score_ds = create_raster(score_path, grid, 1, gdal.GDT_Float32, SCORE_NODATA)
    raw_ds = create_raster(raw_path, grid, 1, gdal.GDT_Byte, MASK_NODATA, compress=False)
    overviews = OverviewWriter(score_ds, SCORE_NODATA, block_size)
    h = method.halo  # analysis pixels
    halo_px = scale * h  # grid pixels (even: 2x2 averaging starts on even pixels)
    analysis_shift = shift_model.halved() if scale == 2 else shift_model
    m = 0 if analysis_shift.is_zero else analysis_shift.margin
    margin_px = scale * m
    block_w = BLOCK_WIDTH_FACTOR * block_size  # wide blocks: less halo recomputed per pixel
    chunk_w = max(block_w, (STRIP_COLUMNS // block_w) * block_w)
    chunks = list(blocks(grid.width, grid.height, chunk_w, block_size))
    n_blocks = sum(math.ceil(w / block_w) for _, _, w, _ in chunks)

    terms = band_terms(norm)  # the radiometric normalisation, applied while the after capture is resampled

    def compute(x, y, w, hh, before, vb, raw_after, va_raw, aoi):
        """Score of the block at grid (x, y, w, hh), from native windows with halo (and margin)."""
        vb_core = vb[halo_px:halo_px + hh, halo_px:halo_px + w]
        aoi_core = None if aoi is None else aoi[halo_px:halo_px + hh, halo_px:halo_px + w]
        if scale == 2:
            before, vb = half_bands(before), half_valid(vb)
            raw_after, va_raw = half_bands(raw_after), half_valid(va_raw)
            aoi = None if aoi is None else half_valid(aoi)
        else:
            before = before.astype(np.float32)  # a copy: invalid pixels are filled in place
        aw, ah = -(-w // scale), -(-hh // scale)
        after, va = analysis_shift.resample(raw_after, va_raw, x // scale - h, y // scale - h, aw + 2 * h, ah + 2 * h,
                                            terms)
        valid = vb & va
        if aoi is not None:
            valid &= aoi
        core_valid = valid[h:h + ah, h:h + aw]
        if scale == 2 and core_valid.all():
            core_valid = vb_core
        elif scale == 2:  # a grid pixel is valid when its analysis pixel and itself are
            core_valid = np.repeat(np.repeat(core_valid, 2, axis=0), 2, axis=1)[:hh, :w] & vb_core
            if aoi_core is not None:
                core_valid &= aoi_core
        if not core_valid.any():
            return x, y, np.full((hh, w), SCORE_NODATA, np.float32), np.full((hh, w), MASK_NODATA, np.uint8)
        after = after.astype(np.float32, copy=after is raw_after and scale == 1)  # filled in place below
        fill_invalid(before, valid, fill)
        fill_invalid(after, valid, fill)
        if scale == 2:  # one analysis pixel of context each side, so blocks join without seams
            score = double_bilinear(method.score(before, after, valid, core=h - 1))
            score = score[2:2 + hh, 2:2 + w]
        else:
            score = method.score(before, after, valid, core=h)
        np.clip(score, 0, 1, out=score)
        quantise(score)
        mask = (score > threshold).view(np.uint8)
        if not core_valid.all():
            mask = np.where(core_valid, mask, np.uint8(MASK_NODATA))
            score = np.where(core_valid, score, np.float32(SCORE_NODATA))
        return x, y, np.ascontiguousarray(score, np.float32), mask

    rows_b, rows_a = _RowTail(pair.before, 2 * halo_px), _RowTail(pair.after, 2 * (halo_px + margin_px))

    def jobs():
        """Each block with its windows, sliced from strips read in order (runs on the reader thread)."""
        for cx, cy, cw, ch in chunks:
            ww, wh = cw + 2 * halo_px, ch + 2 * halo_px
            strip_b, vb_s = rows_b.read(cx - halo_px, cy - halo_px, ww, wh)
            strip_a, va_s = rows_a.read(cx - halo_px - margin_px, cy - halo_px - margin_px,
                                        ww + 2 * margin_px, wh + 2 * margin_px)
            aoi_s = pair.aoi(cx - halo_px, cy - halo_px, ww, wh)
            for x in range(cx, cx + cw, block_w):
                w = min(block_w, cx + cw - x)
                sx = x - cx
                wb, wa = w + 2 * halo_px, w + 2 * halo_px + 2 * margin_px
                yield (x, cy, w, ch, strip_b[:, :, sx:sx + wb], vb_s[:, sx:sx + wb], strip_a[:, :, sx:sx + wa],
                       va_s[:, sx:sx + wa], None if aoi_s is None else aoi_s[:, sx:sx + wb])
            del strip_b, strip_a, vb_s, va_s, aoi_s  # before the next strip is read

    # the inputs are read on a reader thread a strip ahead (their datasets are used there only),
    # the outputs written on this thread, the blocks scored on the pool (GIL released)
    strip_blocks = max(1, chunk_w // block_w)
    for done, (x, y, score, mask) in enumerate(thread_imap(compute, prefetch(jobs(), strip_blocks))):
        progress.report(done / n_blocks, "Scoring changes")
        score_ds.GetRasterBand(1).WriteArray(score, x, y)
        raw_ds.GetRasterBand(1).WriteArray(mask, x, y)
        overviews.add(score, x, y)
    overviews.finish()
    score_ds = raw_ds = overviews = None  # flushed and closed before the clean-up reads them
