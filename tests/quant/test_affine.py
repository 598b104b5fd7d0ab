"""Affine quantization against the element-by-element reference in ``tests/reference_quant.py``, float-format
quantization against ``formats.quantize``, and NF4 against the published codebook."""

from __future__ import annotations

import numpy as np
import pytest

from odyssey_lessons.formats import finfo
from odyssey_lessons.formats import quantize as round_to_format
from odyssey_lessons.quant import (
    LOW_BIT_FLOAT_FORMATS,
    NF4_CODEBOOK,
    QParams,
    calc_qparams,
    choose_qparams,
    dequantize_affine,
    fake_quantize,
    nf4_decode,
    nf4_encode,
    qrange,
    quantization_error,
    quantize_affine,
    quantize_float,
    quantize_nf4,
)
from tests.reference_quant import (
    ref_dequantize,
    ref_nearest,
    ref_qparams,
    ref_qrange,
    ref_quantize,
    ref_ranges,
    scale_shape,
    slice_of,
)

GRANS = [
    ("tensor", None, None),
    ("channel", 0, None),
    ("channel", 1, None),
    ("channel", -1, None),
    ("group", 1, 4),
    ("group", 0, 3),
]


def _x(rng, shape=(6, 12)):
    # rows and columns of different spread, so per-channel scales differ
    return (rng.standard_normal(shape) * rng.uniform(0.1, 3.0, size=(shape[0], 1))).astype(np.float32)


@pytest.mark.parametrize("bits", range(2, 9))
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize(("granularity", "axis", "group_size"), GRANS)
def test_quantize_matches_reference(rng, bits, symmetric, granularity, axis, group_size):
    x = _x(rng)
    kw = dict(granularity=granularity, axis=axis, group_size=group_size)
    qp = choose_qparams(x, bits=bits, symmetric=symmetric, **kw)
    lo, hi = ref_ranges(x, **kw)
    scale, zero = ref_qparams(lo, hi, bits, symmetric)
    assert qp.scale.shape == scale_shape(x.shape, granularity, axis, group_size)
    np.testing.assert_array_equal(qp.scale, scale)
    np.testing.assert_array_equal(qp.zero_point, zero)
    assert (qp.qmin, qp.qmax) == ref_qrange(bits, symmetric) == qrange(bits, symmetric)

    q = quantize_affine(x, qp)
    assert q.dtype == (np.int8 if symmetric else np.uint8)
    np.testing.assert_array_equal(q, ref_quantize(x, scale, zero, bits, symmetric, **kw))
    xhat = dequantize_affine(q, qp)
    assert xhat.dtype == np.float32
    np.testing.assert_array_equal(xhat, ref_dequantize(q, scale, zero, **kw))
    np.testing.assert_array_equal(fake_quantize(x, qp), xhat)

    # inside the range the round trip is off by at most half a step
    s_elem = np.empty(x.shape, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        s_elem[idx] = scale[slice_of(idx, x.shape, granularity, axis, group_size)]
    assert np.all(np.abs(x.astype(np.float64) - xhat) <= s_elem / 2 * (1 + 1e-5))

    # a narrower range than the data: values outside saturate, still as the reference says
    qp_narrow = calc_qparams(lo / 2, hi / 2, bits=bits, symmetric=symmetric, **kw)
    s2, z2 = ref_qparams(lo / 2, hi / 2, bits, symmetric)
    np.testing.assert_array_equal(quantize_affine(x, qp_narrow), ref_quantize(x, s2, z2, bits, symmetric, **kw))


@pytest.mark.parametrize("symmetric", [True, False])
def test_zero_is_exact_and_symmetric_grid(rng, symmetric):
    x = _x(rng)
    x[0, 0] = 0.0
    qp = choose_qparams(x, bits=4, symmetric=symmetric, granularity="channel", axis=0)
    assert fake_quantize(x, qp)[0, 0] == 0.0
    if symmetric:  # restricted range: -x quantizes to -q
        np.testing.assert_array_equal(quantize_affine(-x, qp), -quantize_affine(x, qp).astype(np.int16))


def test_constant_tensor_has_positive_scale():
    for value in (0.0, 3.5, -2.0):
        x = np.full((4, 5), value, dtype=np.float32)
        for sym in (True, False):
            qp = choose_qparams(x, bits=8, symmetric=sym, granularity="channel", axis=1)
            assert np.all(qp.scale > 0) and np.all(np.isfinite(qp.scale))
            np.testing.assert_allclose(fake_quantize(x, qp), x, atol=float(qp.scale.max()) / 2)


def test_per_channel_beats_per_tensor_on_skewed_channels(rng):
    w = (rng.standard_normal((16, 32)) * np.logspace(-2, 0, 16)[:, None]).astype(np.float32)
    per_tensor = quantization_error(w, choose_qparams(w, bits=4))
    per_channel = quantization_error(w, choose_qparams(w, bits=4, granularity="channel", axis=0))
    grouped = quantization_error(w, choose_qparams(w, bits=4, granularity="group", axis=1, group_size=8))
    assert per_channel["mse"] < per_tensor["mse"]
    assert per_channel["sqnr_db"] > per_tensor["sqnr_db"]
    assert grouped["mse"] <= per_channel["mse"]


def test_quantization_error_matches_numpy(rng):
    x = _x(rng)
    qp = choose_qparams(x, bits=3, symmetric=False)
    err = x.astype(np.float64) - fake_quantize(x, qp)
    out = quantization_error(x, qp)
    assert out["mse"] == pytest.approx(np.mean(err**2))
    assert out["max_abs"] == pytest.approx(np.max(np.abs(err)))
    assert out["sqnr_db"] == pytest.approx(10 * np.log10(np.sum(x.astype(np.float64) ** 2) / np.sum(err**2)))


def test_qparams_compare_by_value_and_are_read_only(rng):
    x = _x(rng)
    a, b = choose_qparams(x, bits=4, granularity="channel"), choose_qparams(x.copy(), bits=4, granularity="channel")
    assert a == b and hash(a) == hash(b)
    assert a != choose_qparams(x, bits=5, granularity="channel")
    with pytest.raises(ValueError, match="read-only"):
        a.scale[0] = 1.0


def test_overhead_bytes(rng):
    x = _x(rng)
    sym = choose_qparams(x, bits=4, granularity="group", axis=1, group_size=4)
    asym = choose_qparams(x, bits=4, symmetric=False, granularity="channel", axis=0)
    assert sym.overhead_bytes() == 4 * (6 * 12 // 4)
    assert asym.overhead_bytes() == 4 * 6 + 4 * 6


def test_inf_saturates(rng):
    x = _x(rng)
    qp = choose_qparams(x, bits=8)
    y = x.copy()
    y[0, :2] = [np.inf, -np.inf]
    q = quantize_affine(y, qp)
    assert q[0, 0] == qp.qmax and q[0, 1] == qp.qmin


# ----- bad input ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bits", [1, 9, 0, -3])
def test_bits_out_of_range(rng, bits):
    with pytest.raises(ValueError, match="bits"):
        qrange(bits, True)
    with pytest.raises(ValueError, match="bits"):
        choose_qparams(_x(rng), bits=bits)


def test_bad_types(rng):
    with pytest.raises(TypeError, match="bits"):
        qrange(4.0, True)
    with pytest.raises(TypeError, match="bits"):
        qrange(True, True)
    with pytest.raises(TypeError, match="x"):
        choose_qparams([1.0, 2.0])
    with pytest.raises(TypeError, match="x"):
        quantize_affine(np.arange(4), choose_qparams(_x(rng)))


def test_empty_calibration_data():
    with pytest.raises(ValueError, match="empty calibration data"):
        choose_qparams(np.zeros((0, 4), dtype=np.float32))


@pytest.mark.parametrize("axis", [2, -3, 5])
def test_axis_does_not_exist(rng, axis):
    with pytest.raises(ValueError, match="axis"):
        choose_qparams(_x(rng), granularity="channel", axis=axis)
    with pytest.raises(ValueError, match="axis"):
        choose_qparams(_x(rng), granularity="group", axis=axis, group_size=2)


def test_group_size_must_divide(rng):
    with pytest.raises(ValueError, match=r"group_size=5 does not divide the dimension 12"):
        choose_qparams(_x(rng), granularity="group", axis=1, group_size=5)
    with pytest.raises(ValueError, match="group_size"):
        choose_qparams(_x(rng), granularity="group", axis=1, group_size=0)
    with pytest.raises(TypeError, match="group_size"):
        choose_qparams(_x(rng), granularity="group", axis=1)
    with pytest.raises(ValueError, match="group_size"):
        choose_qparams(_x(rng), granularity="channel", axis=1, group_size=4)


def test_unknown_granularity_and_observer(rng):
    with pytest.raises(ValueError, match="granularity"):
        choose_qparams(_x(rng), granularity="row")
    with pytest.raises(ValueError, match="observer"):
        choose_qparams(_x(rng), observer="histogram")


def test_nan_input(rng):
    x = _x(rng)
    qp = choose_qparams(x)
    x[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        quantize_affine(x, qp)
    with pytest.raises(ValueError, match="finite"):
        choose_qparams(x)
    with pytest.raises(ValueError, match="NaN"):
        quantize_float(x, "e4m3fn")


def test_qparams_must_fit_the_tensor(rng):
    qp = choose_qparams(_x(rng), granularity="channel", axis=0)
    with pytest.raises(ValueError, match="do not fit"):
        quantize_affine(_x(rng, (5, 12)), qp)
    with pytest.raises(ValueError, match="zero_point"):
        QParams(np.float32(1.0), np.int32(3), 8, True)
    with pytest.raises(ValueError, match="scale"):
        QParams(np.float32(0.0), np.int32(0), 8, True)
    with pytest.raises(ValueError, match=r"q must lie"):
        dequantize_affine(np.full((6, 12), 100, dtype=np.int8), choose_qparams(_x(rng), bits=4))


# ----- float formats and NF4 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", LOW_BIT_FLOAT_FORMATS)
@pytest.mark.parametrize(
    ("granularity", "axis", "group_size"), [("tensor", None, None), ("channel", 0, None), ("group", 1, 4)]
)
def test_quantize_float_matches_formats(rng, fmt, granularity, axis, group_size):
    x = _x(rng)
    xhat, scale = quantize_float(x, fmt, granularity=granularity, axis=axis, group_size=group_size)
    lo, hi = ref_ranges(np.abs(x), granularity, axis, group_size)
    np.testing.assert_array_equal(scale, (hi / finfo(fmt).max).astype(np.float32))
    s = np.empty(x.shape, dtype=np.float32)
    for idx in np.ndindex(x.shape):
        s[idx] = scale[slice_of(idx, x.shape, granularity, axis, group_size)]
    np.testing.assert_array_equal(xhat, round_to_format(x / s, fmt) * s)
    # the absmax element lands exactly on the format's max (up to the rounding of the float32 scale)
    assert np.abs(xhat).max() == pytest.approx(np.abs(x).max(), rel=2**-20)


def test_float_formats_are_the_fp8_fp6_fp4_registry():
    assert set(LOW_BIT_FLOAT_FORMATS) >= {"e4m3fn", "e5m2", "e2m3fn", "e3m2fn", "e2m1fn"}
    assert all(finfo(f).bits <= 8 for f in LOW_BIT_FLOAT_FORMATS)
    with pytest.raises(ValueError, match="fmt"):
        quantize_float(np.ones(4, dtype=np.float32), "bf16")


# QLoRA (Dettmers et al. 2023), Appendix E / bitsandbytes' NF4 table: a published spec, used as the oracle
NF4_PUBLISHED = [
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
    -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
    0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]  # fmt: skip


def test_nf4_codebook():
    assert NF4_CODEBOOK.shape == (16,)
    assert np.all(np.diff(NF4_CODEBOOK) > 0)
    assert NF4_CODEBOOK[0] == -1.0 and NF4_CODEBOOK[-1] == 1.0 and 0.0 in NF4_CODEBOOK
    np.testing.assert_allclose(NF4_CODEBOOK, NF4_PUBLISHED, atol=1e-6)


def test_nf4_nearest_entry(rng):
    x = rng.standard_normal((4, 32)).astype(np.float32)
    codes, absmax = nf4_encode(x, group_size=16)
    blocks = x.reshape(-1, 16)
    np.testing.assert_array_equal(absmax, np.abs(blocks).max(axis=1))
    expected = np.concatenate([ref_nearest(b / a, NF4_CODEBOOK) for b, a in zip(blocks, absmax, strict=True)])
    np.testing.assert_array_equal(codes.reshape(-1), expected)
    xhat, scales = quantize_nf4(x, group_size=16)
    np.testing.assert_array_equal(scales, absmax)
    np.testing.assert_array_equal(xhat, nf4_decode(codes, absmax, group_size=16))
    np.testing.assert_array_equal(xhat.reshape(-1, 16), NF4_CODEBOOK[expected.reshape(-1, 16)] * absmax[:, None])
    with pytest.raises(ValueError, match="group_size"):
        quantize_nf4(x, group_size=48)
