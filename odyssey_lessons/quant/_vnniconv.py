"""Integer convolution on VNNI, computed as ``W @ patches``: output channels are the rows of a tile and pixels its
columns, so the result comes out in NCHW order with no transpose, and the requantization of a row uses one
channel's constants for all its 32 pixels.

A layer with few output channels and many pixels (the digits CNN's first layer: 8 channels, 64 pixels x 256
images) would fill a ``patches @ W.T`` tile's 32 columns with 8 channels and waste three quarters of the
instructions. Here the weights are broadcast (``vpdpbusd``'s signed operand, 4 taps at a time) and the patches
are the vectors (its unsigned operand): :func:`im2col_panels` writes them straight into panels of 32 pixels x 4
taps, one panel per 32 pixels of an image (the last one padded; its extra columns are computed and dropped).

Zero points: ``sum_t w[o, t] (x[t] - zx) = S[o, q] - zx * rowsum(w)[o]``, a per-channel constant folded into
the int32 bias. Taps past ``C*k*k`` (K is padded to a multiple of 4) have weight 0, so their bytes do not matter.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from odyssey_lessons.native._vnni import NR, W256_1, W256_2, W512_1, W512_2, W512_4, W512_8
from odyssey_lessons.quant._kernels import requantize_right, requantize_value
from odyssey_lessons.quant._pack import pack_int, unpack_signed_kernel


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
def _finish(tile, mr, o, n, q0, width, rowterm, m0, shift, zrange, out32, out8):
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
    x NR pixels, each finished by :func:`_finish`."""
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
                _finish(tile, 8, o, n, q0, width, rowterm, m0, shift, zrange, out32, out8)
                o += 8
            if o + 4 <= n_out:
                W512_4(w, o, flat, off, k4, tile)
                _finish(tile, 4, o, n, q0, width, rowterm, m0, shift, zrange, out32, out8)
                o += 4
            if o + 2 <= n_out:
                W512_2(w, o, flat, off, k4, tile)
                _finish(tile, 2, o, n, q0, width, rowterm, m0, shift, zrange, out32, out8)
                o += 2
            if o < n_out:
                W512_1(w, o, flat, off, k4, tile)
                _finish(tile, 1, o, n, q0, width, rowterm, m0, shift, zrange, out32, out8)


@njit(cache=True)
def conv_vnni256(w, patches, rowterm, m0, shift, zrange, out32, out8):
    """As :func:`conv_vnni512` on 256-bit vectors (AVX-VNNI): tiles of 2 and 1 channels."""
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
                _finish(tile, 2, o, n, q0, width, rowterm, m0, shift, zrange, out32, out8)
                o += 2
            if o < n_out:
                W256_1(w, o, flat, off, k4, tile)
                _finish(tile, 1, o, n, q0, width, rowterm, m0, shift, zrange, out32, out8)


CONV_KERNELS = {"avx512_vnni": conv_vnni512, "vnni_256": conv_vnni256}

_EMPTY32 = np.zeros((0, 0, 0), dtype=np.int32)
_EMPTY8 = np.zeros((0, 0, 0), dtype=np.uint8)
_EMPTY_VEC = np.zeros(0, dtype=np.int32)


class ConvWeights:
    """int8 convolution weights as rows (O, C*k*k), K padded with zeros to a multiple of 4, and their row sums.
    Codes of fewer than 8 bits stay bit-packed and :meth:`rows` unpacks them on every call (one numba pass)."""

    def __init__(self, rows: np.ndarray, kernel_size: int, bits: int = 8) -> None:
        self.o, self.k = rows.shape
        self.kernel_size = kernel_size
        self.k_pad = -(-self.k // 4) * 4
        padded = np.zeros((self.o, self.k_pad), dtype=np.int8)
        padded[:, : self.k] = rows
        self.bits = bits
        self.stored = padded if bits == 8 else pack_int(padded, bits)
        self._unpacked = None if bits == 8 else np.empty(padded.shape, dtype=np.int8)
        self.rowsum = rows.astype(np.int64).sum(axis=1)

    def rows(self) -> np.ndarray:
        if self._unpacked is None:
            return self.stored
        unpack_signed_kernel(self.stored, self.bits, self._unpacked.reshape(-1))
        return self._unpacked


def patches(x_u8: np.ndarray, w: ConvWeights, stride: int, padding: int, zx: int) -> tuple[np.ndarray, int, int]:
    """The activation panels of uint8 ``x`` for ``w``, and the output height and width."""
    n, _, h, wd = x_u8.shape
    k = w.kernel_size
    oh, ow = (h + 2 * padding - k) // stride + 1, (wd + 2 * padding - k) // stride + 1
    out = np.empty((n, -(-(oh * ow) // NR), w.k_pad // 4, NR, 4), dtype=np.uint8)
    im2col_panels(np.ascontiguousarray(x_u8), k, stride, padding, np.uint8(zx), out)
    return out, oh, ow


def vnni_conv2d(x_u8: np.ndarray, w: ConvWeights, stride: int, padding: int, zx: int, kernel: str) -> np.ndarray:
    """int32 ``sum_t w[o, t] (x[t] - zx)`` as (N, O, OH, OW) for uint8 ``x``; arguments checked by the caller."""
    cols, oh, ow = patches(x_u8, w, stride, padding, zx)
    rowterm = (-zx * w.rowsum).astype(np.int32)  # mod 2**32
    out = np.empty((x_u8.shape[0], w.o, oh * ow), dtype=np.int32)
    CONV_KERNELS[kernel](w.rows(), cols, rowterm, _EMPTY_VEC, _EMPTY_VEC, np.zeros(3, np.int64), out, _EMPTY8)
    return out.reshape(x_u8.shape[0], w.o, oh, ow)


class QuantizedConv:
    """A quantized Conv2D on the VNNI kernel: weights as rows, the per-channel constants of its epilogue computed
    once (``bias[o] - zx * rowsum(w)[o]``, ``m0``, ``shift``)."""

    def __init__(
        self, weights: ConvWeights, stride: int, padding: int, zx: int, bias: np.ndarray, m0: np.ndarray,
        shift: np.ndarray, zy: int, lo: int, hi: int,
    ) -> None:  # fmt: skip
        o = weights.o
        self.weights, self.stride, self.padding, self.zx = weights, stride, padding, zx
        self.rowterm = (bias.astype(np.int64) - zx * weights.rowsum).astype(np.int32)
        self.m0 = np.broadcast_to(m0.reshape(-1), (o,)).astype(np.int32)
        self.shift = np.broadcast_to(shift.reshape(-1), (o,)).astype(np.int32)
        self.zrange = np.array([zy, lo, hi], dtype=np.int64)

    def __call__(self, x_u8: np.ndarray, kernel: str) -> np.ndarray:
        """uint8 codes (N, O, OH, OW) for uint8 ``x`` (N, C, H, W)."""
        cols, oh, ow = patches(x_u8, self.weights, self.stride, self.padding, self.zx)
        out = np.empty((x_u8.shape[0], self.weights.o, oh * ow), dtype=np.uint8)
        CONV_KERNELS[kernel](self.weights.rows(), cols, self.rowterm, self.m0, self.shift, self.zrange, _EMPTY32, out)
        return out.reshape(x_u8.shape[0], self.weights.o, oh, ow)
