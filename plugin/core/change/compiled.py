"""Compiled kernels of the default change method and of the after capture's resampling
(optional: needs numba; see acceleration.py).

The same arithmetic as StructureContext's numpy path (methods.py), fused into a few passes
over each block: numpy runs some forty full-size array operations per block, and with two
scoring threads the memory traffic, not the arithmetic, sets the pace. Each kernel names
the numpy steps it replaces; tests/core/change/test_compiled_kernels.py holds both paths equal.
The resampling kernels (constant shift, shift field) apply the radiometric normalisation in the
same pass. Kernels release the GIL (the scoring pool runs them side by side) and are cached on disk."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
from numba import njit

_JIT = dict(nogil=True, cache=True, error_model="numpy")  # numpy: no ZeroDivisionError branch in loops
F32 = np.float32


@njit(**_JIT)
def _mirror(i, n):
    """Index of numpy's 'symmetric' extension (d c b a | a b c d | d c b a)."""
    period = 2 * n
    i = i % period
    return period - 1 - i if i >= n else i


@njit(**_JIT)
def box_mean(src, r):
    """filters.box_mean of a 2-D float32 array: mean over a (2r+1)^2 window, edges mirrored.
    Row by row, in float32 like filters.box_mean_small: the 2r+1 source rows summed, then
    2r+1 shifted copies of that sum (every inner loop runs along a row and vectorises)."""
    h, w = src.shape
    if r <= 0:
        return src.copy()
    k = 2 * r + 1
    out = np.empty((h, w), F32)
    line = np.empty(w + 2 * r, F32)
    column_sum = line[r:r + w]
    scale = F32(1.0 / (k * k))
    for y in range(h):
        first = src[_mirror(y - r, h)]
        for x in range(w):
            column_sum[x] = first[x]
        for d in range(1, k):
            row = src[_mirror(y - r + d, h)]
            for x in range(w):
                column_sum[x] += row[x]
        for d in range(r):
            line[r - 1 - d] = line[r + _mirror(-1 - d, w)]
            line[w + r + d] = line[r + _mirror(w + d, w)]
        dest = out[y]
        for x in range(w):
            dest[x] = line[x]
        for d in range(1, k):
            shifted = line[d:d + w]
            for x in range(w):
                dest[x] += shifted[x]
        for x in range(w):
            dest[x] *= scale
    return out


@njit(**_JIT)
def half_standardised(bands, mean, std):
    """standardise(half_bands(bands)) of float32 bands: 2 x 2 means, then (v - mean) / std."""
    p, h, w = bands.shape
    out = np.empty((p, (h + 1) // 2, (w + 1) // 2), F32)
    for b in range(p):
        half, m, s = _half(bands[b]), mean[b], std[b]
        for y in range(half.shape[0]):
            src, dest = half[y], out[b, y]
            for x in range(half.shape[1]):
                dest[x] = (src[x] - m) / s
    return out


@njit(**_JIT)
def _sobel(img):
    """filters.sobel: (gx, gy) of a 2-D array, edges replicated."""
    h, w = img.shape
    gx = np.empty((h, w), F32)
    gy = np.empty((h, w), F32)
    two, eighth = F32(2), F32(8)
    for y in range(h):
        up, mid, down = img[max(y - 1, 0)], img[y], img[min(y + 1, h - 1)]
        for x in (0, w - 1):  # edge columns
            xm, xp = max(x - 1, 0), min(x + 1, w - 1)
            gx[y, x] = ((up[xp] + two * mid[xp] + down[xp]) - (up[xm] + two * mid[xm] + down[xm])) / eighth
            gy[y, x] = ((down[xm] + two * down[x] + down[xp]) - (up[xm] + two * up[x] + up[xp])) / eighth
        if w < 3:
            continue
        ul, uc, ur = up[:-2], up[1:-1], up[2:]
        ml, mr = mid[:-2], mid[2:]
        dl, dc, dr = down[:-2], down[1:-1], down[2:]
        ox, oy = gx[y, 1:-1], gy[y, 1:-1]
        for x in range(w - 2):
            ox[x] = ((ur[x] + two * mr[x] + dr[x]) - (ul[x] + two * ml[x] + dl[x])) / eighth
            oy[x] = ((dl[x] + two * dc[x] + dr[x]) - (ul[x] + two * uc[x] + ur[x])) / eighth
    return gx, gy


@njit(**_JIT)
def _cbrt(values):
    """np.cbrt of a non-negative 2-D float32 array (to 1 ulp): a bit-level first guess, then
    two Halley steps in float64; unlike the library call, the loop vectorises."""
    h, w = values.shape
    out = np.empty((h, w), F32)
    bits = values.view(np.uint32)
    guess_bits = np.empty(w, np.uint32)
    guess = guess_bits.view(F32)
    for y in range(h):
        src, vals, dest = bits[y], values[y], out[y]
        for x in range(w):
            guess_bits[x] = src[x] // np.uint32(3) + np.uint32(709921077)
        for x in range(w):
            a = np.float64(vals[x])
            t = np.float64(guess[x])
            for _ in range(2):
                t3 = t * t * t
                t = t * (t3 + 2.0 * a) / (2.0 * t3 + a)
            dest[x] = F32(t) if a > 0 else F32(0)
    return out


@njit(**_JIT)
def context(hb, wb, r_means, r_struct, r_context, spectral_scale):
    """StructureContext._cues (the three decimated cues) and the first half of _fuse: the
    geometric-mean fusion smoothed over the context window, on the decimated grid.
    hb, wb: standardised 2 x 2-decimated bands (p, h, w)."""
    p, h, w = hb.shape
    spectral = np.zeros((h, w), F32)
    diff = np.empty((h, w), F32)
    for r in r_means:
        norm2 = np.zeros((h, w), F32)
        for b in range(p):
            for y in range(h):
                rb, ra, d = hb[b, y], wb[b, y], diff[y]
                for x in range(w):
                    d[x] = rb[x] - ra[x]
            m = box_mean(diff, max(r // 2, 1))
            for y in range(h):
                mr, n = m[y], norm2[y]
                for x in range(w):
                    n[x] += mr[x] * mr[x]
        for y in range(h):
            n, sp = norm2[y], spectral[y]
            for x in range(w):
                sp[x] += math.sqrt(n[x])
    lb = np.empty((h, w), F32)
    la = np.empty((h, w), F32)
    for y in range(h):
        lb_r, la_r = lb[y], la[y]
        for x in range(w):
            lb_r[x] = hb[0, y, x]
            la_r[x] = wb[0, y, x]
        for b in range(1, p):
            rb, ra = hb[b, y], wb[b, y]
            for x in range(w):
                lb_r[x] += rb[x]
                la_r[x] += ra[x]
        for x in range(w):
            lb_r[x] = lb_r[x] / F32(p)
            la_r[x] = la_r[x] / F32(p)
    r = r_struct // 2
    mb, ma = box_mean(lb, r), box_mean(la, r)
    bb, aa, ab = np.empty((h, w), F32), np.empty((h, w), F32), np.empty((h, w), F32)
    for y in range(h):
        for x in range(w):
            bb[y, x] = lb[y, x] * lb[y, x]
            aa[y, x] = la[y, x] * la[y, x]
            ab[y, x] = lb[y, x] * la[y, x]
    vb, va, cab = box_mean(bb, r), box_mean(aa, r), box_mean(ab, r)
    bx, by = _sobel(lb)
    ax, ay = _sobel(la)
    for y in range(h):
        for x in range(w):
            bb[y, x] = bx[y, x] * bx[y, x] + by[y, x] * by[y, x]
            aa[y, x] = ax[y, x] * ax[y, x] + ay[y, x] * ay[y, x]
            ab[y, x] = bx[y, x] * ax[y, x] + by[y, x] * ay[y, x]
    sbb, saa, sab = box_mean(bb, r), box_mean(aa, r), box_mean(ab, r)
    c = F32(0.01)
    n_means = F32(len(r_means))
    scale2 = F32(spectral_scale * spectral_scale)
    fused = bb  # reused
    for y in range(h):
        for x in range(w):
            s = spectral[y, x] / n_means
            c1 = s * s
            v = c1 / (c1 + scale2)
            vb_ = vb[y, x] - mb[y, x] * mb[y, x]
            va_ = va[y, x] - ma[y, x] * ma[y, x]
            cv = cab[y, x] - mb[y, x] * ma[y, x]
            structural = F32(1.0) - (F32(2) * cv + c) / (max(va_, F32(0)) + max(vb_, F32(0)) + c)
            gradient = F32(1.0) - (F32(2) * sab[y, x] + c) / (saa[y, x] + sbb[y, x] + c)
            v = v * min(max(structural, F32(0)), F32(1))
            fused[y, x] = v * min(max(gradient, F32(0)), F32(1))
    return box_mean(_cbrt(fused), max(r_context // 2, 1))


@njit(**_JIT)
def fine_and_guide(before, after, inv_std, ctx, spectral_scale):
    """The full-resolution cues of StructureContext._cues and the second half of _fuse before
    the guided filter: (score before edge alignment, guide = luminance difference).
    One pass over the rows: each band's scaled change is summed over 3 x 3 pixels as
    filters.box_mean_small does (column of three rows, then three columns, edges mirrored),
    so nothing full-size is written but the two results."""
    p, h, w = before.shape
    out = np.empty((h, w), F32)
    guide = np.empty((h, w), F32)
    padded = np.empty(w + 2, F32)  # the column sums with one mirrored pixel each side
    column, left, right = padded[1:w + 1], padded[0:w], padded[2:w + 2]
    norm2 = np.empty(w, F32)
    up = np.empty(2 * ctx.shape[1], F32)
    scale2 = F32(spectral_scale * spectral_scale)
    ninth = F32(1.0 / 9)
    for y in range(h):
        ym, yp = max(y - 1, 0), min(y + 1, h - 1)
        g = guide[y]
        for b in range(p):
            s = inv_std[b]
            a0, a1, a2 = after[b, ym], after[b, y], after[b, yp]
            b0, b1, b2 = before[b, ym], before[b, y], before[b, yp]
            for x in range(w):
                column[x] = ((a0[x] - b0[x]) * s + (a1[x] - b1[x]) * s) + (a2[x] - b2[x]) * s
            if b == 0:
                for x in range(w):
                    g[x] = (a1[x] - b1[x]) * s
            else:
                for x in range(w):
                    g[x] += (a1[x] - b1[x]) * s
            padded[0], padded[w + 1] = padded[1], padded[w]
            if b == 0:
                for x in range(w):
                    m = ((left[x] + column[x]) + right[x]) * ninth
                    norm2[x] = m * m
            else:
                for x in range(w):
                    m = ((left[x] + column[x]) + right[x]) * ninth
                    norm2[x] += m * m
        c = ctx[y // 2]
        for j in range(len(c)):
            up[2 * j] = c[j]
            up[2 * j + 1] = c[j]
        o = out[y]
        for x in range(w):
            g[x] = g[x] / F32(p)
            cue = F32(math.sqrt(norm2[x]))
            fine = cue * cue
            fine = fine / (fine + scale2)
            o[x] = F32(math.sqrt(up[x] * F32(math.sqrt(fine))))
    return out, guide


@njit(**_JIT)
def _half(img):
    """filters.half_bands of one 2-D float32 array."""
    h, w = img.shape
    hh, hw = (h + 1) // 2, (w + 1) // 2
    even = w // 2
    out = np.empty((hh, hw), F32)
    for y in range(hh):
        r0, r1, dest = img[2 * y], img[min(2 * y + 1, h - 1)], out[y]
        for x in range(even):
            dest[x] = ((r0[2 * x] + r1[2 * x]) + (r0[2 * x + 1] + r1[2 * x + 1])) * F32(0.25)
        if w % 2:
            v = r0[w - 1] + r1[w - 1]
            dest[hw - 1] = (v + v) * F32(0.25)
    return out


@njit(**_JIT)
def _double_row(a, y, buffer, up):
    """Row y of filters.double_bilinear(a), into up (length 2 * a.shape[1])."""
    h, w = a.shape
    i = y // 2
    i2 = max(i - 1, 0) if y % 2 == 0 else min(i + 1, h - 1)
    near, far = a[i], a[i2]
    for j in range(w):
        buffer[j] = F32(0.75) * near[j] + F32(0.25) * far[j]
    pairs = up.reshape((w, 2))  # (even, odd) output columns of each input column
    left, right = buffer[:-1], buffer[1:]
    pairs[0, 0] = F32(0.75) * buffer[0] + F32(0.25) * buffer[0]
    pairs[w - 1, 1] = F32(0.75) * buffer[w - 1] + F32(0.25) * buffer[w - 1]
    for j in range(w - 1):
        pairs[j + 1, 0] = F32(0.75) * right[j] + F32(0.25) * left[j]
        pairs[j, 1] = F32(0.75) * left[j] + F32(0.25) * right[j]


@njit(**_JIT)
def guided_coefficients(guide, src, r, eps):
    """The linear coefficients of methods._guided_filter, smoothed, on the decimated grid."""
    g, s = _half(guide), _half(src)
    r = max(r // 2, 1)
    h, w = g.shape
    gs, gg = np.empty((h, w), F32), np.empty((h, w), F32)
    for y in range(h):
        for x in range(w):
            gs[y, x] = g[y, x] * s[y, x]
            gg[y, x] = g[y, x] * g[y, x]
    mg, ms, mgs, mgg = box_mean(g, r), box_mean(s, r), box_mean(gs, r), box_mean(gg, r)
    a, b = gs, gg  # reused
    for y in range(h):
        for x in range(w):
            cov = mgs[y, x] - mg[y, x] * ms[y, x]
            var = mgg[y, x] - mg[y, x] * mg[y, x]
            a[y, x] = cov / (var + F32(eps))
            b[y, x] = ms[y, x] - a[y, x] * mg[y, x]
    return box_mean(a, r), box_mean(b, r)


@njit(**_JIT)
def _hue_weights(r, g, b, lo_r, lo_g, lo_b, s_r, s_g, s_b, low, high, ramp, out):
    """chroma.hue_weight of a row of (r, g, b) values stretched by (lo, s) into out (float32,
    selects only: the loop vectorises)."""
    for x in range(len(out)):
        rv, gv, bv = (r[x] - lo_r) * s_r, (g[x] - lo_g) * s_g, (b[x] - lo_b) * s_b
        top = max(max(rv, gv), bv)
        span = top - min(min(rv, gv), bv)
        safe = span if span > F32(0) else F32(1)
        sextant = (gv - bv) / safe if rv >= top else ((bv - rv) / safe + F32(2) if gv >= top
                                                       else (rv - gv) / safe + F32(4))
        hue = sextant * F32(60)
        hue = hue + F32(360) if hue < F32(0) else hue
        weight = min(max(min(hue - (low - ramp), (high + ramp) - hue) / ramp, F32(0)), F32(1))
        out[x] = weight if span > F32(0) else F32(0)


@njit(**_JIT)
def _least_chroma(before, after, lo_b, scale_b, lo_a, scale_a, eps, rgb, hue_low, hue_high, hue_ramp):
    """chroma.least_chroma (with its hue window) before its smoothing."""
    p, h, w = before.shape
    out = np.empty((h, w), F32)
    top = np.empty(w, F32)
    bottom = np.empty(w, F32)
    hue = np.empty(w, F32)
    low, high, ramp = F32(hue_low), F32(hue_high), F32(hue_ramp)
    ir, ig, ib = rgb
    for y in range(h):
        for date in range(2):
            bands, lo, scale = (before, lo_b, scale_b) if date == 0 else (after, lo_a, scale_a)
            for b in range(p):
                row, o, s = bands[b, y], lo[b], scale[b]
                if b == 0:
                    for x in range(w):
                        top[x] = (row[x] - o) * s
                        bottom[x] = top[x]
                else:
                    for x in range(w):
                        v = (row[x] - o) * s
                        top[x] = max(top[x], v)
                        bottom[x] = min(bottom[x], v)
            dest = out[y]
            _hue_weights(bands[ir, y], bands[ig, y], bands[ib, y], lo[ir], lo[ig], lo[ib], scale[ir], scale[ig],
                         scale[ib], low, high, ramp, hue)
            for x in range(w):
                c = (top[x] - bottom[x]) / (max(top[x], F32(0)) + F32(eps)) * hue[x]
                dest[x] = c if date == 0 else min(dest[x], c)
    return out


@njit(**_JIT)
def _exp_minus(t):
    """exp(-t) for 0 <= t <= 30 in float64 (relative error about 1e-9): the series of exp(-t / 32),
    then squared five times; unlike the library call, the loop vectorises."""
    k = -t / 32.0
    e = 1.0 + k * (1 / 12) * 1.0
    e = 1.0 + k * (1 / 11) * e
    e = 1.0 + k * (1 / 10) * e
    e = 1.0 + k * (1 / 9) * e
    e = 1.0 + k * (1 / 8) * e
    e = 1.0 + k * (1 / 7) * e
    e = 1.0 + k * (1 / 6) * e
    e = 1.0 + k * (1 / 5) * e
    e = 1.0 + k * (1 / 4) * e
    e = 1.0 + k * (1 / 3) * e
    e = 1.0 + k * (1 / 2) * e
    e = 1.0 + k * e
    for _ in range(5):
        e = e * e
    return e


@njit(**_JIT)
def _chi_square_row4(before, after, y, start, wa, wb, const, z):
    """MadModel.chi_square of row y from column `start` for four bands, into z: the 36
    weights held in registers and all four MAD variates computed per pixel (the same
    operations in the same order as the numpy loop, so the same float32 values)."""
    n = len(z)
    a00, a01, a02, a03 = wa[0, 0], wa[0, 1], wa[0, 2], wa[0, 3]
    a10, a11, a12, a13 = wa[1, 0], wa[1, 1], wa[1, 2], wa[1, 3]
    a20, a21, a22, a23 = wa[2, 0], wa[2, 1], wa[2, 2], wa[2, 3]
    a30, a31, a32, a33 = wa[3, 0], wa[3, 1], wa[3, 2], wa[3, 3]
    b00, b01, b02, b03 = wb[0, 0], wb[0, 1], wb[0, 2], wb[0, 3]
    b10, b11, b12, b13 = wb[1, 0], wb[1, 1], wb[1, 2], wb[1, 3]
    b20, b21, b22, b23 = wb[2, 0], wb[2, 1], wb[2, 2], wb[2, 3]
    b30, b31, b32, b33 = wb[3, 0], wb[3, 1], wb[3, 2], wb[3, 3]
    c0, c1, c2, c3 = const[0], const[1], const[2], const[3]
    x0, x1, x2, x3 = (before[0, y, start:start + n], before[1, y, start:start + n],
                      before[2, y, start:start + n], before[3, y, start:start + n])
    y0, y1, y2, y3 = (after[0, y, start:start + n], after[1, y, start:start + n],
                      after[2, y, start:start + n], after[3, y, start:start + n])
    for x in range(n):
        p0, p1, p2, p3 = x0[x], x1[x], x2[x], x3[x]
        q0, q1, q2, q3 = y0[x], y1[x], y2[x], y3[x]
        m0 = p0 * a00 - c0 - q0 * b00 + p1 * a10 - q1 * b10 + p2 * a20 - q2 * b20 + p3 * a30 - q3 * b30
        m1 = p0 * a01 - c1 - q0 * b01 + p1 * a11 - q1 * b11 + p2 * a21 - q2 * b21 + p3 * a31 - q3 * b31
        m2 = p0 * a02 - c2 - q0 * b02 + p1 * a12 - q1 * b12 + p2 * a22 - q2 * b22 + p3 * a32 - q3 * b32
        m3 = p0 * a03 - c3 - q0 * b03 + p1 * a13 - q1 * b13 + p2 * a23 - q2 * b23 + p3 * a33 - q3 * b33
        z[x] = F32(0) + m0 * m0 + m1 * m1 + m2 * m2 + m3 * m3


@njit(**_JIT)
def _chi_square_row(before, after, y, start, wa, wb, const, z, mad):
    """MadModel.chi_square of row y from column `start`, any band count, into z."""
    p, n = before.shape[0], len(z)
    z[:] = 0
    for k in range(p):
        first, w0, c = before[0, y, start:start + n], wa[0, k], const[k]
        for x in range(n):
            mad[x] = first[x] * w0 - c
        for i in range(p):
            if i:
                row, wi = before[i, y, start:start + n], wa[i, k]
                for x in range(n):
                    mad[x] += row[x] * wi
            row, wi = after[i, y, start:start + n], wb[i, k]
            for x in range(n):
                mad[x] -= row[x] * wi
        for x in range(n):
            z[x] += mad[x] * mad[x]


TINY_RATIO = F32(1e-3)  # below it a score is 1e-12 or less: 0 here, and 0 once stored anyway


@njit(**_JIT)
def _score_from_ratio_flushed(ratio, squarings):
    """stats.score_from_ratio, except that ratios below TINY_RATIO give 0. The powers are taken
    of at least TINY_RATIO, so no lane of the vectorised loop ever computes with denormal
    numbers (which run many times slower)."""
    r = min(max(ratio, TINY_RATIO), F32(1e4))
    for _ in range(squarings):
        r = r * r
    return r / (F32(1) + r) if ratio >= TINY_RATIO else F32(0)


@njit(**_JIT)
def finish(before, after, guided, inset, threshold, wa, wb, const, irmad_threshold,
           lo_b, scale_b, lo_a, scale_a, chroma_eps, chroma_reference, chroma_weight, use_irmad, use_chroma,
           chroma_cap, rgb, hue_low, hue_high, hue_ramp):
    """The rest of StructureContext.score on the block less `inset` pixels on each side, from
    the guided filter's output there (guided_output): its score, the geometric mean with the
    IR-MAD score (MadModel.chi_square) and the natural-surface prior (least chroma, 3 x 3
    mean). Row by row: every inner loop runs along a row."""
    p, h, w = before.shape
    oh, ow = guided.shape
    out = np.empty((oh, ow), F32)
    least = box_mean(_least_chroma(before, after, lo_b, scale_b, lo_a, scale_a, chroma_eps, rgb, hue_low, hue_high,
                                   hue_ramp), 1) if use_chroma \
        else np.empty((1, 1), F32)
    z = np.empty(ow, F32)
    mad = np.empty(ow, F32)
    thr = F32(threshold)
    thr_irmad = F32(irmad_threshold)
    reference, weight, cap = F32(chroma_reference), F32(chroma_weight), F32(chroma_cap)
    for oy in range(oh):
        y = oy + inset
        raw, score = guided[oy], out[oy]
        for x in range(ow):
            score[x] = _score_from_ratio_flushed(raw[x] / thr, 3)
        if use_irmad:
            if p == 4:
                _chi_square_row4(before, after, y, inset, wa, wb, const, z)
            else:
                _chi_square_row(before, after, y, inset, wa, wb, const, z, mad)
            for x in range(ow):
                score[x] = math.sqrt(score[x] * _score_from_ratio_flushed(math.sqrt(z[x] / thr_irmad), 2))
        if use_chroma:
            row = least[y, inset:inset + ow]
            for x in range(ow):  # two loops: each vectorises, one loop would not
                z[x] = F32(_exp_minus(min(weight * max(row[x] - reference, F32(0)), cap)))
            for x in range(ow):
                s, f = score[x], z[x]
                score[x] = s * f / (s * f + (F32(1) - s))
    return out


@njit(**_JIT)
def shift_bilinear(image, y, x, h, w, fx, fy, gain, offset):
    """filters.shift_subpixel's sampling: bands of any type -> float32 (p, h, w), rows then
    columns, from the window at (x, y) of size (w + 1, h + 1); then v * gain + offset per band."""
    p = image.shape[0]
    out = np.empty((p, h, w), F32)
    row = np.empty(w + 1, F32)
    gy, gx = F32(1) - fy, F32(1) - fx
    left, right = row[:w], row[1:]
    for b in range(p):
        g, o = gain[b], offset[b]
        for r in range(h):
            top, bottom = image[b, y + r, x:x + w + 1], image[b, y + r + 1, x:x + w + 1]
            for i in range(w + 1):
                row[i] = F32(top[i]) * gy + F32(bottom[i]) * fy
            dest = out[b, r]
            for i in range(w):
                dest[i] = (left[i] * gx + right[i] * fx) * g + o
    return out


@njit(**_JIT)
def field_bilinear(image, xs, ys, gain, offset):
    """coregistration._Bilinear's sampling (a shift field): bands of any type at the fractional
    positions xs, ys (h, w; clamped to the image) -> float32 (p, h, w), then v * gain + offset."""
    p, rows, cols = image.shape
    h, w = xs.shape
    out = np.empty((p, h, w), F32)
    hi_x, hi_y = cols - 1.001, rows - 1.001
    for r in range(h):
        xr, yr = xs[r], ys[r]
        for c in range(w):
            x, y = min(max(xr[c], 0.0), hi_x), min(max(yr[c], 0.0), hi_y)
            x0, y0 = int(math.floor(x)), int(math.floor(y))
            fx, fy = F32(x - x0), F32(y - y0)
            gx, gy = F32(1) - fx, F32(1) - fy
            for b in range(p):
                top = F32(image[b, y0, x0]) * gx + F32(image[b, y0, x0 + 1]) * fx
                bottom = F32(image[b, y0 + 1, x0]) * gx + F32(image[b, y0 + 1, x0 + 1]) * fx
                out[b, r, c] = (top * gy + bottom * fy) * gain[b] + offset[b]
    return out


def _gain_offset(terms: Optional[tuple[np.ndarray, np.ndarray]], bands: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-band (gain, offset), float32; None stands for no change (1, 0)."""
    if terms is None:
        return np.ones(bands, F32), np.zeros(bands, F32)
    return terms


def _contiguous(image: np.ndarray) -> np.ndarray:
    """A C-ordered copy of a view (the score pass hands over column slices of its strips): numba
    compiles the loops over a non-contiguous array without SIMD, about 7x slower than the copy
    and the vectorised loops together."""
    return np.ascontiguousarray(image)


def sample_shifted(image: np.ndarray, y: int, x: int, h: int, w: int, fx: np.float32, fy: np.float32,
                   terms: Optional[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """shift_bilinear with optional (gain, offset) terms (filters.shift_subpixel's compiled path)."""
    return shift_bilinear(_contiguous(image), y, x, h, w, fx, fy, *_gain_offset(terms, image.shape[0]))


def sample_field(image: np.ndarray, xs: np.ndarray, ys: np.ndarray,
                 terms: Optional[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """field_bilinear with optional (gain, offset) terms (ShiftModel.resample's compiled path)."""
    return field_bilinear(_contiguous(image), np.ascontiguousarray(xs), np.ascontiguousarray(ys),
                          *_gain_offset(terms, image.shape[0]))


@dataclass(frozen=True)
class StructureArgs:
    """What the kernels need of a fitted StructureContext (built once per fit)."""

    mean: np.ndarray  # (p,) float32 standardisation
    std: np.ndarray
    r_means: tuple
    r_struct: int
    r_context: int
    spectral_scale: float
    guide_r: int
    guide_eps: float
    threshold: float  # raw threshold of the contextual score
    wa: np.ndarray  # (p, p) float32 IR-MAD weights (variances folded in), as in MadModel.chi_square
    wb: np.ndarray
    const: np.ndarray
    irmad_threshold: float
    use_irmad: bool
    lo_b: np.ndarray  # (p,) chroma stretch of each date: low limit and 1 / span
    scale_b: np.ndarray
    lo_a: np.ndarray
    scale_a: np.ndarray
    chroma_eps: float
    chroma_reference: float
    chroma_weight: float
    use_chroma: bool
    chroma_cap: float  # the odds are divided by at most exp(chroma_cap)
    rgb: tuple  # (red, green, blue) band indices of the hue window, its low and high hues, its ramp
    hue_low: float
    hue_high: float
    hue_ramp: float


def _edge_aligned(before, after, mean, std, r_means, r_struct, r_context, spectral_scale, guide_r, guide_eps):
    """The contextual score before the guided filter's last step: (guide, coefficient a, b)."""
    hb = half_standardised(before, mean, std)
    wb = half_standardised(after, mean, std)
    ctx = context(hb, wb, r_means, r_struct, r_context, spectral_scale)
    out, guide = fine_and_guide(before, after, F32(1.0) / std, ctx, spectral_scale)
    coef_a, coef_b = guided_coefficients(guide, out, guide_r, guide_eps)
    return guide, coef_a, coef_b


def structure_raw(before: np.ndarray, after: np.ndarray, core: int, method) -> np.ndarray:
    """StructureContext._fuse(_cues(...), core) (guided form): the raw contextual score that the
    fit thresholds, for a method whose standardisation is fitted."""
    before, after = np.ascontiguousarray(before, F32), np.ascontiguousarray(after, F32)
    guide, coef_a, coef_b = _edge_aligned(before, after, method.mean, method.std, tuple(method.R_MEAN),
                                          method.R_STRUCT, method.R_CONTEXT, float(method.SPECTRAL_SCALE),
                                          method.GUIDE_R, float(method.GUIDE_EPS))
    return guided_output(guide, coef_a, coef_b, core)


@njit(**_JIT)
def guided_output(guide, coef_a, coef_b, inset):
    """The guided filter's output a * guide + b (coefficients upsampled) less `inset` pixels each side."""
    h, w = guide.shape
    oh, ow = h - 2 * inset, w - 2 * inset
    out = np.empty((oh, ow), F32)
    buffer = np.empty(coef_a.shape[1], F32)
    up_a = np.empty(2 * coef_a.shape[1], F32)
    up_b = np.empty(2 * coef_a.shape[1], F32)
    for oy in range(oh):
        y = oy + inset
        _double_row(coef_a, y, buffer, up_a)
        _double_row(coef_b, y, buffer, up_b)
        a, b, g, dest = up_a[inset:inset + ow], up_b[inset:inset + ow], guide[y, inset:inset + ow], out[oy]
        for x in range(ow):
            dest[x] = a[x] * g[x] + b[x]
    return out


def structure_score(before: np.ndarray, after: np.ndarray, core: int, args: StructureArgs) -> np.ndarray:
    """StructureContext.score (guided form) of float32 blocks (p, h, w) less `core` pixels each side."""
    before = np.ascontiguousarray(before, F32)  # one compiled signature: C-ordered float32
    after = np.ascontiguousarray(after, F32)
    guide, coef_a, coef_b = _edge_aligned(before, after, args.mean, args.std, args.r_means, args.r_struct,
                                          args.r_context, args.spectral_scale, args.guide_r, args.guide_eps)
    guided = guided_output(guide, coef_a, coef_b, core)
    return finish(before, after, guided, core, args.threshold, args.wa, args.wb, args.const,
                  args.irmad_threshold, args.lo_b, args.scale_b, args.lo_a, args.scale_a, args.chroma_eps,
                  args.chroma_reference, args.chroma_weight, args.use_irmad, args.use_chroma, args.chroma_cap,
                  args.rgb, args.hue_low, args.hue_high, args.hue_ramp)


def warm_up() -> None:
    """Compiles (or loads from the cache) every kernel with the pipeline's argument types."""
    p = 4
    rng = np.random.default_rng(0)
    block = rng.random((p, 40, 41), dtype=F32)
    eye = np.eye(p, dtype=F32)
    ones, zeros = np.ones(p, F32), np.zeros(p, F32)
    args = StructureArgs(zeros, ones, (2, 6), 8, 4, 1.0, 6, 0.01, 0.3, eye, eye, zeros, 13.3, True,
                         zeros, ones, zeros, ones, 0.1, 0.2, 50.0, True, 3.0, (2, 1, 0), 25.0, 165.0, 15.0)
    structure_score(block, block[:, ::-1].copy(), 4, args)
