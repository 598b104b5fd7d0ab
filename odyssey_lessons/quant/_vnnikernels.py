"""The int8 GEMM and convolution kernels on VNNI (the ``vpdpbusd`` tiles of :mod:`odyssey_lessons.native._vnni`),
each with its epilogue: zero-point corrections, and for a quantized layer the int32 bias, requantization and clamp,
written straight to uint8 codes. Their validating wrappers and the weight packing live in
:mod:`odyssey_lessons.quant._vnnigemm` (GEMM: ``patches @ W.T``, rows are examples) and
:mod:`odyssey_lessons.quant._vnniconv` (convolution: ``W @ patches``, rows are output channels).

``vpdpbusd`` multiplies *unsigned* by *signed* bytes: the activations are uint8, the weights int8 panels.

GEMM: each kernel walks the weight panels (outer: a panel of K x 32 int8 stays in L1 while every row of ``a`` passes
over it) and the rows of ``a`` in tiles of 8, 4, 2, 1 rows (512-bit) or 2, 1 (256-bit), and finishes each tile while
it is hot in L1.

Convolution: output channels are the rows of a tile and pixels its columns, so the result comes out in NCHW order
with no transpose, and the requantization of a row uses one channel's constants for all its 32 pixels. A layer with
few output channels and many pixels (the digits CNN's first layer: 8 channels, 64 pixels x 256 images) would fill a
``patches @ W.T`` tile's 32 columns with 8 channels and waste three quarters of the instructions. Here the weights
are broadcast (``vpdpbusd``'s signed operand, 4 taps at a time) and the patches are the vectors (its unsigned
operand): :func:`im2col_panels` writes them straight into panels of 32 pixels x 4 taps, one panel per 32 pixels of
an image (the last one padded; its extra columns are computed and dropped).

Two kernels per operation, one per vector width, so that a CPU with only AVX-VNNI (256-bit) never compiles a 512-bit
instruction. The 512-bit and 256-bit kernels are deliberately unrolled twins, not logic to share: each names its own
tile functions (``T512_*`` / ``T256_*``, ``W512_*`` / ``W256_*``) and tile heights, so each compiles only the
instructions of its width, and the machine code ``tests/native/test_vnni.py`` inspects is the code that runs.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from odyssey_lessons.native._vnni import (
    NR,
    T256_1,
    T256_2,
    T512_1,
    T512_2,
    T512_4,
    T512_8,
    W256_1,
    W256_2,
    W512_1,
    W512_2,
    W512_4,
    W512_8,
)
from odyssey_lessons.quant._kernels import requantize_right, requantize_value


# ----- GEMM ---------------------------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _finish_gemm(tile, mr, i, j0, colterm, rowterm, m0, shift, zrange, out32, out8):
    """Rows ``i .. i+mr``, columns ``j0 .. j0+NR`` (clipped to N) of the result from the tile's raw sums ``S``:
    ``S + colterm[j] - rowterm[i]`` as int32 into ``out32``, or -- when ``out8`` has rows -- requantized with the
    per-column ``m0``/``shift`` and clamped to ``zrange = (zp, lo, hi, any shift < 0)`` into ``out8``.

    The loop over columns has no branch (the choice between the requantization with and without a left shift is
    made once per row), so LLVM vectorises it. Every index is a sum of loop counters that start at 0: LLVM can prove
    it non-negative, which removes numba's wraparound test (with it, the loop ran on gathers and scatters), and no
    slice is taken per row (a slice costs a reference-count update in numba, which made this epilogue 2x slower)."""
    if out8.shape[0] > 0:
        width = min(NR, out8.shape[1] - j0)
        zp, lo, hi = zrange[0], zrange[1], zrange[2]
        for r in range(mr):
            if zrange[3]:  # some channel has M >= 1: the general form, with its left shift
                for c in range(width):
                    acc = np.int32(tile[r, c] + colterm[j0 + c])
                    out8[i + r, j0 + c] = requantize_value(acc, m0[j0 + c], shift[j0 + c], zp, lo, hi)
            else:
                for c in range(width):
                    acc = np.int32(tile[r, c] + colterm[j0 + c])
                    out8[i + r, j0 + c] = requantize_right(acc, m0[j0 + c], shift[j0 + c], zp, lo, hi)
    else:
        width = min(NR, out32.shape[1] - j0)
        for r in range(mr):
            rt = rowterm[i + r]
            for c in range(width):
                out32[i + r, j0 + c] = np.int32(np.int32(tile[r, c] + colterm[j0 + c]) - rt)


@njit(cache=True)
def gemm_vnni512(a, panels, colterm, rowterm, m0, shift, zrange, out32, out8):
    """``a`` uint8 (M, Kp) x ``panels`` (N/NR, Kp/4, NR, 4) int8, then the epilogue of :func:`_finish_gemm`."""
    m = a.shape[0]
    n_panels, k4 = panels.shape[0], panels.shape[1]
    flat = panels.reshape(-1)
    tile = np.empty((8, NR), dtype=np.int32)
    for jp in range(n_panels):
        off = jp * k4 * NR * 4
        j0 = jp * NR
        i = 0
        while i + 8 <= m:
            T512_8(a, i, flat, off, k4, tile)
            _finish_gemm(tile, 8, i, j0, colterm, rowterm, m0, shift, zrange, out32, out8)
            i += 8
        if i + 4 <= m:
            T512_4(a, i, flat, off, k4, tile)
            _finish_gemm(tile, 4, i, j0, colterm, rowterm, m0, shift, zrange, out32, out8)
            i += 4
        if i + 2 <= m:
            T512_2(a, i, flat, off, k4, tile)
            _finish_gemm(tile, 2, i, j0, colterm, rowterm, m0, shift, zrange, out32, out8)
            i += 2
        if i < m:
            T512_1(a, i, flat, off, k4, tile)
            _finish_gemm(tile, 1, i, j0, colterm, rowterm, m0, shift, zrange, out32, out8)


@njit(cache=True)
def gemm_vnni256(a, panels, colterm, rowterm, m0, shift, zrange, out32, out8):
    """As :func:`gemm_vnni512` on 256-bit vectors (AVX-VNNI), tiles of 2 and 1 rows: its deliberate twin, one per
    vector width (module docstring)."""
    m = a.shape[0]
    n_panels, k4 = panels.shape[0], panels.shape[1]
    flat = panels.reshape(-1)
    tile = np.empty((2, NR), dtype=np.int32)
    for jp in range(n_panels):
        off = jp * k4 * NR * 4
        j0 = jp * NR
        i = 0
        while i + 2 <= m:
            T256_2(a, i, flat, off, k4, tile)
            _finish_gemm(tile, 2, i, j0, colterm, rowterm, m0, shift, zrange, out32, out8)
            i += 2
        if i < m:
            T256_1(a, i, flat, off, k4, tile)
            _finish_gemm(tile, 1, i, j0, colterm, rowterm, m0, shift, zrange, out32, out8)


@njit(cache=True)
def row_sums_u8(a, k, out):
    """``out[i] = sum_{p < k} a[i, p]`` in int32 (for a nonzero weight zero point)."""
    for i in range(a.shape[0]):
        s = np.int32(0)
        for p in range(k):
            s = np.int32(s + np.int32(a[i, p]))
        out[i] = s


GEMM_KERNELS = {"avx512_vnni": gemm_vnni512, "vnni_256": gemm_vnni256}
"""Kernel per native path (the names of :func:`odyssey_lessons.native.cpu_features`)."""


# ----- convolution --------------------------------------------------------------------------------------------------
@njit(cache=True)
def im2col_panels(x, k, stride, pad, zx, out):
    """Patches of uint8 ``x`` (N, C, H, W) into ``out`` (N, ceil(P / NR), K4, NR, 4), ``P = OH * OW``:
    ``out[n, q // NR, t // 4, q % NR, t % 4] = x[n, c, i*stride + u - pad, j*stride + v - pad]`` for pixel
    ``q = i*OW + j`` and tap ``t = (c*k + u)*k + v`` (0 for the taps past ``C*k*k`` that pad K to a multiple of 4);
    the padding holds the zero point ``zx``. Bytes of pixels past ``P`` are left as they are (outputs dropped).

    Each image is copied into a zero-point-padded buffer first, followed by a run of zeros (the source of the
    padding taps). Then for each output row and 4-tap group, the inner loop over the row's pixels reads four
    sources contiguously (stride 1) and writes the four bytes of each pixel side by side: an interleaved store
    that LLVM vectorises, about 3x faster than a byte-by-byte copy through offset tables."""
    n_img, n_ch, h, w = x.shape
    hp, wp = h + 2 * pad, w + 2 * pad
    oh, ow = (hp - k) // stride + 1, (wp - k) // stride + 1
    k4 = out.shape[2]
    zeros = n_ch * hp * wp  # start of the zero run after the image, long enough for a whole row of pixels
    xp = np.zeros(zeros + ow * stride + 1, dtype=np.uint8)
    xp[:zeros] = zx
    src_of = np.full(k4 * 4, zeros, dtype=np.int64)  # tap -> offset of its source for pixel (0, 0)
    row_step = np.zeros(k4 * 4, dtype=np.int64)  # tap -> source offset per output row (0 for the padding taps)
    for c in range(n_ch):
        for u in range(k):
            for v in range(k):
                src_of[(c * k + u) * k + v] = (c * hp + u) * wp + v
                row_step[(c * k + u) * k + v] = stride * wp
    row_off = np.zeros(k4 * 4, dtype=np.int64)
    panel_bytes = k4 * NR * 4
    flat = out.reshape(-1)
    for n in range(n_img):
        for c in range(n_ch):
            for yy in range(h):
                row = (c * hp + yy + pad) * wp + pad
                for xx in range(w):
                    xp[row + xx] = x[n, c, yy, xx]
        image = n * out.shape[1] * panel_bytes
        for i in range(oh):
            for t in range(k4 * 4):
                row_off[t] = i * row_step[t]
            q0 = i * ow
            j = 0
            while j < ow:  # the pixels of row i that fall in one panel
                q = q0 + j
                end = min(ow, j + NR - q % NR)
                base = image + (q // NR) * panel_bytes + (q % NR - j) * 4
                for g in range(k4):
                    t = 4 * g
                    s0, s1 = src_of[t] + row_off[t], src_of[t + 1] + row_off[t + 1]
                    s2, s3 = src_of[t + 2] + row_off[t + 2], src_of[t + 3] + row_off[t + 3]
                    dst = base + g * NR * 4
                    if stride == 1:  # contiguous sources: the loop LLVM vectorises
                        for jj in range(j, end):
                            flat[dst + 4 * jj] = xp[s0 + jj]
                            flat[dst + 4 * jj + 1] = xp[s1 + jj]
                            flat[dst + 4 * jj + 2] = xp[s2 + jj]
                            flat[dst + 4 * jj + 3] = xp[s3 + jj]
                    else:
                        for jj in range(j, end):
                            flat[dst + 4 * jj] = xp[s0 + stride * jj]
                            flat[dst + 4 * jj + 1] = xp[s1 + stride * jj]
                            flat[dst + 4 * jj + 2] = xp[s2 + stride * jj]
                            flat[dst + 4 * jj + 3] = xp[s3 + stride * jj]
                j = end


@njit(cache=True, inline="always")
def _finish_conv(tile, mr, o, n, q0, width, rowterm, m0, shift, zrange, out32, out8):
    """Channels ``o .. o+mr`` and pixels ``q0 .. q0+width`` of image ``n``: ``S + rowterm[o]`` as int32 into
    ``out32`` (N, O, P), or -- when ``out8`` has images -- requantized with channel ``o``'s constants and clamped to
    ``zrange = (zp, lo, hi)`` into ``out8`` (N, O, P)."""
    if out8.shape[0] > 0:
        zp, lo, hi = zrange[0], zrange[1], zrange[2]
        for r in range(mr):
            ch = o + r
            b, m, sh = rowterm[ch], m0[ch], shift[ch]
            if sh < 0:  # M >= 1: the general form, with its left shift
                for c in range(width):
                    out8[n, ch, q0 + c] = requantize_value(np.int32(tile[r, c] + b), m, sh, zp, lo, hi)
            else:
                for c in range(width):
                    out8[n, ch, q0 + c] = requantize_right(np.int32(tile[r, c] + b), m, sh, zp, lo, hi)
    else:
        for r in range(mr):
            ch = o + r
            b = rowterm[ch]
            for c in range(width):
                out32[n, ch, q0 + c] = np.int32(tile[r, c] + b)


@njit(cache=True)
def conv_vnni512(w, patches, rowterm, m0, shift, zrange, out32, out8):
    """int8 weights ``w`` (O, K4*4) times uint8 ``patches`` (N, PP, K4, NR, 4), tiles of 8 (then 4, 2, 1) channels
    x NR pixels, each finished by :func:`_finish_conv`."""
    n_img, n_panels, k4 = patches.shape[0], patches.shape[1], patches.shape[2]
    n_out = w.shape[0]
    pixels = out8.shape[2] if out8.shape[0] > 0 else out32.shape[2]
    flat = patches.reshape(-1)
    tile = np.empty((8, NR), dtype=np.int32)
    for n in range(n_img):
        for pp in range(n_panels):
            off = (n * n_panels + pp) * k4 * NR * 4
            q0 = pp * NR
            width = min(NR, pixels - q0)
            o = 0
            while o + 8 <= n_out:
                W512_8(w, o, flat, off, k4, tile)
                _finish_conv(tile, 8, o, n, q0, width, rowterm, m0, shift, zrange, out32, out8)
                o += 8
            if o + 4 <= n_out:
                W512_4(w, o, flat, off, k4, tile)
                _finish_conv(tile, 4, o, n, q0, width, rowterm, m0, shift, zrange, out32, out8)
                o += 4
            if o + 2 <= n_out:
                W512_2(w, o, flat, off, k4, tile)
                _finish_conv(tile, 2, o, n, q0, width, rowterm, m0, shift, zrange, out32, out8)
                o += 2
            if o < n_out:
                W512_1(w, o, flat, off, k4, tile)
                _finish_conv(tile, 1, o, n, q0, width, rowterm, m0, shift, zrange, out32, out8)


@njit(cache=True)
def conv_vnni256(w, patches, rowterm, m0, shift, zrange, out32, out8):
    """As :func:`conv_vnni512` on 256-bit vectors (AVX-VNNI): tiles of 2 and 1 channels; its deliberate twin, one
    per vector width (module docstring)."""
    n_img, n_panels, k4 = patches.shape[0], patches.shape[1], patches.shape[2]
    n_out = w.shape[0]
    pixels = out8.shape[2] if out8.shape[0] > 0 else out32.shape[2]
    flat = patches.reshape(-1)
    tile = np.empty((2, NR), dtype=np.int32)
    for n in range(n_img):
        for pp in range(n_panels):
            off = (n * n_panels + pp) * k4 * NR * 4
            q0 = pp * NR
            width = min(NR, pixels - q0)
            o = 0
            while o + 2 <= n_out:
                W256_2(w, o, flat, off, k4, tile)
                _finish_conv(tile, 2, o, n, q0, width, rowterm, m0, shift, zrange, out32, out8)
                o += 2
            if o < n_out:
                W256_1(w, o, flat, off, k4, tile)
                _finish_conv(tile, 1, o, n, q0, width, rowterm, m0, shift, zrange, out32, out8)


CONV_KERNELS = {"avx512_vnni": conv_vnni512, "vnni_256": conv_vnni256}
