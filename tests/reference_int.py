"""Slow, obviously correct references for integer inference (Python ints and int64 numpy), used as test oracles.

``srdhm`` and ``rounding_divide_by_pot`` transcribe gemmlowp's fixedpoint.h literally (C semantics: ``/`` truncates
toward zero, ``>>`` on a negative int is an arithmetic shift, as Python's).
"""

from __future__ import annotations

import numpy as np

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def c_div(a: int, b: int) -> int:
    """C integer division: truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def srdhm(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul(int32 a, int32 b)."""
    overflow = a == b and a == INT32_MIN
    ab_64 = a * b
    nudge = (1 << 30) if ab_64 >= 0 else (1 - (1 << 30))
    ab_x2_high32 = c_div(ab_64 + nudge, 1 << 31)
    return INT32_MAX if overflow else ab_x2_high32


def rounding_divide_by_pot(x: int, exponent: int) -> int:
    """gemmlowp RoundingDivideByPOT(int32 x, int exponent)."""
    assert 0 <= exponent <= 31
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def requantize_ref(acc, m0, shift, *, out_zero_point, qmin, qmax, relu=False) -> np.ndarray:
    """Element by element in Python ints; per-channel ``m0``/``shift`` along the last axis."""
    acc = np.asarray(acc)
    m0 = np.broadcast_to(np.atleast_1d(m0), acc.shape[-1:])
    shift = np.broadcast_to(np.atleast_1d(shift), acc.shape[-1:])
    lo = max(qmin, out_zero_point) if relu else qmin
    out = np.empty(acc.shape, dtype=np.int64)
    for idx in np.ndindex(acc.shape):
        c = idx[-1]
        a, sh = int(acc[idx]), int(shift[c])
        if sh < 0:  # TFLite MultiplyByQuantizedMultiplier: left shift (saturated to int32) before the high mul
            a = min(max(a * 2**-sh, -(2**31)), 2**31 - 1)
            sh = 0
        v = rounding_divide_by_pot(srdhm(a, int(m0[c])), sh) + out_zero_point
        out[idx] = min(max(v, lo), qmax)
    return out


def conv2d_int_ref(x, w, *, stride=1, padding=0, x_zero_point=0) -> np.ndarray:
    """Direct 6-deep loop convolution in int64: ``sum w[o,c,u,v] * (x[n,c,i*s+u-p, j*s+v-p] - zx)``, 0 in padding."""
    x = np.asarray(x, dtype=np.int64) - x_zero_point
    w = np.asarray(w, dtype=np.int64)
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    oh, ow = (h + 2 * padding - k) // stride + 1, (wd + 2 * padding - k) // stride + 1
    xp = np.zeros((n, c, h + 2 * padding, wd + 2 * padding), dtype=np.int64)
    xp[:, :, padding : padding + h, padding : padding + wd] = x
    y = np.zeros((n, o, oh, ow), dtype=np.int64)
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride : i * stride + k, j * stride : j * stride + k]
            y[:, :, i, j] = np.einsum("ncuv,ocuv->no", patch, w)
    return y


def fake_quant_logits(qmodel, x: np.ndarray) -> np.ndarray:
    """Float simulation of a ``QuantizedModel`` with the same quantization parameters: every tensor is snapped to its
    grid (``fake_quantize``), but products, sums and the rescaling run in float64 -- no fixed-point arithmetic."""
    from odyssey_lessons.quant._affine import dequantize_affine, fake_quantize
    from odyssey_lessons.quant._qlayers import QFlatten, QGemm, QMaxPool, QReLU

    h = fake_quantize(x.astype(np.float32), qmodel.input_qp).astype(np.float64)
    for layer in qmodel.layers:
        if isinstance(layer, QGemm):
            w = dequantize_affine(layer.weight_codes().reshape(layer.weight_shape), layer.weight_qp).astype(np.float64)
            s_w = np.broadcast_to(layer.weight_qp.scale.astype(np.float64).reshape(-1), (w.shape[0],))
            b = layer.bias * float(layer.in_qp.scale) * s_w
            if layer.kernel_size == 0:
                y = h @ w.T + b
            else:
                y = _conv_float(h, w, layer.stride, layer.padding) + b.reshape(1, -1, 1, 1)
            if layer.relu:
                y = np.maximum(y, 0.0)
            h = fake_quant_float64(y, layer.out_qp)
        elif isinstance(layer, QMaxPool):
            k, s = layer.kernel_size, layer.stride
            n, c, hh, ww = h.shape
            oh, ow = (hh - k) // s + 1, (ww - k) // s + 1
            h = np.stack(
                [
                    np.stack([h[:, :, i * s : i * s + k, j * s : j * s + k].max(axis=(2, 3)) for j in range(ow)], -1)
                    for i in range(oh)
                ],
                -2,
            )
        elif isinstance(layer, QReLU):
            h = np.maximum(h, 0.0)
        elif isinstance(layer, QFlatten):
            h = h.reshape(h.shape[0], -1)
    return h


def fake_quant_float64(y: np.ndarray, qp) -> np.ndarray:
    """``(clamp(round(y / s) + z, qmin, qmax) - z) * s`` in float64 (ties to even)."""
    s, z = float(qp.scale), int(qp.zero_point)
    return (np.clip(np.rint(y / s) + z, qp.qmin, qp.qmax) - z) * s


def _conv_float(x: np.ndarray, w: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """Direct float64 convolution (cross-correlation, zero padding), NCHW."""
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    oh, ow = (h + 2 * padding - k) // stride + 1, (wd + 2 * padding - k) // stride + 1
    xp = np.zeros((n, c, h + 2 * padding, wd + 2 * padding))
    xp[:, :, padding : padding + h, padding : padding + wd] = x
    y = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            y[:, :, i, j] = np.einsum(
                "ncuv,ocuv->no", xp[:, :, i * stride : i * stride + k, j * stride : j * stride + k], w
            )
    return y
