"""The score pass: every block of the grid scored once, the score, the raw mask and the
score overviews written in order.

Each input pixel is read once (_StripReader: large reads in the native type that start and
end on the file's blocks; what neighbouring windows share is copied, not read again), so
compressed inputs are decoded once. Three kinds of thread share the work: two reader threads
read the inputs a strip ahead (core/parallel.prefetch; one thread per input, each decoding
its own blocks), the small pool scores blocks (numpy and the compiled kernels release the
GIL), and the calling thread writes the outputs in order. Only a few blocks are ahead, so
memory stays bounded."""
from __future__ import annotations

import bisect
import math
from functools import partial
from typing import NamedTuple, Optional

import numpy as np
from osgeo import gdal

from ..memory import release_free_memory
from ..parallel import SideThread, prefetch, thread_imap
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
RELEASE_ROWS = 1024  # grid rows scored between hand-backs of freed memory (core/memory.py)
BLOCK_WIDTH_FACTOR = 1  # scored blocks are block_size rows x BLOCK_WIDTH_FACTOR * block_size columns


def next_boundary(position: int, grain: int, boundary: int) -> int:
    """The first block boundary (boundary + k * grain) at or after `position`."""
    return position + (boundary - position) % grain


def column_cuts(view: AlignedView, starts: list[int], extent: int, width: int) -> list[int]:
    """Edges of the column pieces a strip is read in, for chunks starting at `starts` whose
    windows reach `extent` columns beyond them (grid of `width` columns): each cut lies on the
    file's next block column after a window's end, so neighbouring windows share decoded
    pieces instead of decoding the blocks under their halos twice."""
    grain, boundary = view.column_grain()
    ends = [s + extent for s in starts[1:]] + [width + extent]
    cuts = [starts[0] - extent]
    for end, next_end in zip(ends, ends[1:]):
        aligned = next_boundary(end, grain, boundary)
        cuts.append(aligned if aligned < next_end else end)  # blocks wider than a chunk: cut at the window's end
    return cuts + [ends[-1]]


class _Rows(NamedTuple):
    """Part of a window kept for a later read: its first grid row (and column), data, validity."""

    row: int
    column: int
    data: np.ndarray  # (bands, rows, columns), native type
    valid: np.ndarray  # (rows, columns)


class _StripReader:
    """Reads the windows of a grid walked in strips (rows), each strip left to right, so that
    each input pixel is read once, in large reads that start and end on the file's blocks
    (a compressed block cut by two reads would be decoded twice).

    A window's buffer runs right to the next column cut and down to the next block row. Its
    columns shared with the previous window of the strip are copied from that one, its rows
    shared with the previous strip from the rows kept of it (less than a block row, per
    piece); the rest GDAL decodes straight into the buffer."""

    def __init__(self, view: AlignedView, overlap: int, cuts: list[int]):
        """overlap: rows (and columns) that two neighbouring windows share, cuts: column_cuts."""
        self.view, self.overlap, self.cuts = view, overlap, cuts
        self.grain, self.boundary = view.row_grain()
        self.height = view.ds.RasterYSize
        self.dtype, self.n_bands = view.data_type(), len(view.bands)
        self.tail_columns = overlap + view.column_grain()[0]  # the halos of two windows and a cut's slack
        self.kept: dict[int, _Rows] = {}  # piece -> its rows that the next strip shares
        self.tail: Optional[_Rows] = None  # the right columns of the previous window

    def _ahead(self, end: int) -> int:
        """The first block boundary at or after `end` (no further than the grid)."""
        if end >= self.height:
            return end
        return min(next_boundary(end, self.grain, self.boundary), self.height)

    def read(self, x: int, y: int, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
        cuts = self.cuts
        if not cuts[0] <= x < x + w <= cuts[-1]:
            raise ValueError(f"window {x}..{x + w} outside the pieces {cuts[0]}..{cuts[-1]}")
        end, ahead = cuts[bisect.bisect_left(cuts, x + w)], self._ahead(y + h)
        data = np.empty((self.n_bands, ahead - y, end - x), self.dtype)
        valid = np.empty((ahead - y, end - x), bool)
        column = self._copy_tail(data, valid, x, y)
        piece = bisect.bisect_left(cuts, column)
        while column < end:
            self._fill_piece(piece, data[:, :, column - x:cuts[piece + 1] - x],
                             valid[:, column - x:cuts[piece + 1] - x], y, h)
            column, piece = cuts[piece + 1], piece + 1
        # what the next window of the strip may share: a view (the windows are read-only to
        # their users, and this one lives on while its blocks are scored anyway)
        start = max(0, end - x - self.tail_columns)
        self.tail = _Rows(y, x + start, data[:, :, start:], valid[:, start:])
        return data[:, :h, :w], valid[:h, :w]

    def _copy_tail(self, data: np.ndarray, valid: np.ndarray, x: int, y: int) -> int:
        """Copies the columns the window at (x, y) shares with the previous one of its strip;
        returns the first column still to read (a cut)."""
        tail = self.tail
        if tail is not None and tail.row == y and tail.valid.shape[0] == valid.shape[0] \
                and tail.column <= x < tail.column + tail.valid.shape[1]:
            n = tail.column + tail.valid.shape[1] - x
            data[:, :, :n], valid[:, :n] = tail.data[:, :, x - tail.column:], tail.valid[:, x - tail.column:]
            return x + n
        if x not in self.cuts:
            raise ValueError(f"window at column {x} neither starts a piece nor follows the previous window")
        return x

    def _fill_piece(self, piece: int, data: np.ndarray, valid: np.ndarray, y: int, h: int) -> None:
        """One piece's columns of a window starting at row y (buffer rows to the next block
        row): the rows kept of the previous strip, then GDAL's; keeps what the next strip shares."""
        column, top, ahead = self.cuts[piece], y, y + valid.shape[0]
        kept = self.kept.pop(piece, None)
        if kept is not None and kept.row <= y < kept.row + kept.valid.shape[0]:
            n = min(kept.row + kept.valid.shape[0], ahead) - y
            data[:, :n], valid[:n] = kept.data[:, y - kept.row:y - kept.row + n], kept.valid[y - kept.row:y - kept.row + n]
            top = y + n
        if top < ahead:
            if top >= self.height and top > y:  # below the grid: the edge row, invalid (as view.read pads)
                data[:, top - y:] = data[:, top - y - 1:top - y]
                valid[top - y:] = False
            else:
                self.view.read_into(data[:, top - y:], valid[top - y:], column, top)
        keep_from = max(y, y + h - self.overlap)
        if ahead > keep_from:
            self.kept[piece] = _Rows(keep_from, column, data[:, keep_from - y:].copy(), valid[keep_from - y:].copy())


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

    starts = list(range(0, grid.width, chunk_w))  # the chunks' columns (outputs.blocks)
    reader_b = _StripReader(pair.before, 2 * halo_px, column_cuts(pair.before, starts, halo_px, grid.width))
    extent_a = halo_px + margin_px
    reader_a = _StripReader(pair.after, 2 * extent_a, column_cuts(pair.after, starts, extent_a, grid.width))

    def jobs():
        """Each block with its windows, sliced from strips read in order (runs on the reader
        thread; the after capture's strip is read on a side thread at the same time)."""
        with SideThread("sitewatch-read-after") as side:
            for cx, cy, cw, ch in chunks:
                yield from blocks_of_strip(side, cx, cy, cw, ch)

    def blocks_of_strip(side: SideThread, cx: int, cy: int, cw: int, ch: int):
        """The blocks of the strip at chunk (cx, cy, cw, ch), with their windows."""
        ww, wh = cw + 2 * halo_px, ch + 2 * halo_px
        (strip_b, vb_s), (strip_a, va_s) = side.both(
            partial(reader_b.read, cx - halo_px, cy - halo_px, ww, wh),
            partial(reader_a.read, cx - halo_px - margin_px, cy - halo_px - margin_px, ww + 2 * margin_px,
                    wh + 2 * margin_px))
        aoi_s = pair.aoi(cx - halo_px, cy - halo_px, ww, wh)
        for x in range(cx, cx + cw, block_w):
            w = min(block_w, cx + cw - x)
            sx = x - cx
            wb, wa = w + 2 * halo_px, w + 2 * halo_px + 2 * margin_px
            yield (x, cy, w, ch, strip_b[:, :, sx:sx + wb], vb_s[:, sx:sx + wb], strip_a[:, :, sx:sx + wa],
                   va_s[:, sx:sx + wa], None if aoi_s is None else aoi_s[:, sx:sx + wb])

    # the inputs are read a strip ahead on the reader thread and its side thread (one dataset
    # each), the outputs written on this thread, the blocks scored on the pool (GIL released)
    strip_blocks = max(1, chunk_w // block_w)
    row = 0
    for done, (x, y, score, mask) in enumerate(thread_imap(compute, prefetch(jobs(), strip_blocks))):
        progress.report(done / n_blocks, "Scoring changes")
        if y >= row + RELEASE_ROWS:  # the threads' heaps otherwise keep growing with freed block arrays
            row = y
            release_free_memory()
        score_ds.GetRasterBand(1).WriteArray(score, x, y)
        raw_ds.GetRasterBand(1).WriteArray(mask, x, y)
        overviews.add(score, x, y)
    overviews.finish()
    score_ds = raw_ds = overviews = None  # flushed and closed before the clean-up reads them
