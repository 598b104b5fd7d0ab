"""Integer kernels against exact oracles: the int8 GEMM and convolution against int64 numpy / a direct loop in
``tests/reference_int.py``, requantization bit for bit against gemmlowp's fixed-point routines in Python ints."""

from __future__ import annotations

import numpy as np
import pytest

from odyssey_lessons.quant._intgemm import int8_conv2d, int8_matmul
from odyssey_lessons.quant._requant import quantize_multiplier, requantize
from tests.reference_int import conv2d_int_ref, requantize_ref, rounding_divide_by_pot, srdhm

SHAPES = [(1, 1, 1), (1, 64, 128), (3, 1, 5), (7, 13, 9), (2, 3, 1), (1, 1024, 3), (33, 65, 17), (256, 64, 10)]


def int_array(rng, shape, dtype=np.int8):
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max + 1, size=shape, dtype=dtype)


def int64_matmul(a, b, za=0, zb=0):
    return (a.astype(np.int64) - za) @ (b.astype(np.int64) - zb)


# ----- GEMM -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("m", "k", "n"), SHAPES)
def test_int8_matmul_equals_int64_matmul(rng, m, k, n):
    a, b = int_array(rng, (m, k)), int_array(rng, (k, n))
    out = int8_matmul(a, b)
    assert out.dtype == np.int32 and out.shape == (m, n)
    np.testing.assert_array_equal(out, int64_matmul(a, b))


@pytest.mark.parametrize(("va", "vb"), [(-128, -128), (127, 127), (-128, 127), (127, -128)])
def test_int8_matmul_extreme_values_do_not_overflow(va, vb):
    k = 4096
    a, b = np.full((3, k), va, np.int8), np.full((k, 5), vb, np.int8)
    np.testing.assert_array_equal(int8_matmul(a, b), int64_matmul(a, b))


@pytest.mark.parametrize(("m", "k", "n"), SHAPES[:6])
def test_int8_matmul_zero_points_and_uint8_activations(rng, m, k, n):
    b = int_array(rng, (k, n))
    a_u8 = int_array(rng, (m, k), np.uint8)
    za, zb = int(rng.integers(0, 256)), int(rng.integers(-128, 128))
    np.testing.assert_array_equal(int8_matmul(a_u8, b, a_zero_point=za, b_zero_point=zb), int64_matmul(a_u8, b, za, zb))
    a_s8 = int_array(rng, (m, k))
    zs = int(rng.integers(-128, 128))
    np.testing.assert_array_equal(int8_matmul(a_s8, b, a_zero_point=zs), int64_matmul(a_s8, b, zs))


def test_int8_matmul_accepts_non_contiguous_inputs(rng):
    a, b = int_array(rng, (10, 40))[:, ::2], int_array(rng, (9, 20)).T
    np.testing.assert_array_equal(int8_matmul(a, b), int64_matmul(a, b))


def test_int8_matmul_errors(rng):
    a, b = int_array(rng, (2, 3)), int_array(rng, (3, 4))
    with pytest.raises(TypeError, match="a must have dtype"):
        int8_matmul(a.astype(np.int16), b)
    with pytest.raises(TypeError, match="b must have dtype int8"):
        int8_matmul(a, b.view(np.uint8))
    with pytest.raises(ValueError, match="share K"):
        int8_matmul(a, int_array(rng, (4, 4)))
    with pytest.raises(ValueError, match="ndim 2"):
        int8_matmul(a[0], b)
    with pytest.raises(ValueError, match="a_zero_point must be in"):
        int8_matmul(a, b, a_zero_point=200)
    with pytest.raises(TypeError, match="b_zero_point must be an int"):
        int8_matmul(a, b, b_zero_point=0.5)
    big_k = 2**17
    with pytest.raises(ValueError, match="overflow"):
        int8_matmul(np.zeros((1, big_k), np.int8), np.zeros((big_k, 1), np.int8))


# ----- convolution ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("shape", "o", "k", "stride", "padding"),
    [((2, 1, 8, 8), 4, 3, 1, 1), ((1, 3, 7, 6), 5, 3, 2, 0), ((3, 2, 5, 5), 2, 1, 1, 0), ((1, 2, 6, 7), 3, 5, 3, 2)],
)
@pytest.mark.parametrize("signed", [True, False])
def test_int8_conv2d_equals_direct_int64_convolution(rng, shape, o, k, stride, padding, signed):
    x = int_array(rng, shape, np.int8 if signed else np.uint8)
    w = int_array(rng, (o, shape[1], k, k))
    zx = int(rng.integers(-128, 128)) if signed else int(rng.integers(0, 256))
    out = int8_conv2d(x, w, stride=stride, padding=padding, x_zero_point=zx)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, conv2d_int_ref(x, w, stride=stride, padding=padding, x_zero_point=zx))


def test_int8_conv2d_matches_nn_conv2d_layout(rng):
    from odyssey_lessons.nn import Conv2D

    layer = Conv2D(2, 3, 3, stride=1, padding=1, rng=rng)
    x = int_array(rng, (2, 2, 6, 6))
    w = int_array(rng, (3, 2, 3, 3))
    layer.load_params({"weight": w.astype(np.float32), "bias": np.zeros(3, np.float32)})
    expected = layer.forward(x.astype(np.float32), training=False)  # small integers: exact in float32
    np.testing.assert_array_equal(int8_conv2d(x, w, padding=1), expected.astype(np.int64))


def test_int8_conv2d_errors(rng):
    x, w = int_array(rng, (1, 2, 5, 5)), int_array(rng, (3, 2, 3, 3))
    with pytest.raises(ValueError, match="channels"):
        int8_conv2d(x, int_array(rng, (3, 1, 3, 3)))
    with pytest.raises(ValueError, match="square"):
        int8_conv2d(x, int_array(rng, (3, 2, 3, 2)))
    with pytest.raises(ValueError, match="stride must be an int >= 1"):
        int8_conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match="smaller than kernel_size"):
        int8_conv2d(x[:, :, :2, :2], w)
    with pytest.raises(TypeError, match="x must have dtype"):
        int8_conv2d(x.astype(np.float32), w)


# ----- fixed-point multiplier and requantization ----------------------------------------------------------------------
def test_quantize_multiplier_reconstructs_m(rng):
    ms = np.concatenate([rng.uniform(0, 1, 200), 2.0 ** -rng.uniform(0, 31.9, 200), [0.5, 1 - 2**-40, 2**-31],
                         2.0 ** rng.uniform(0, 30.9, 50), [1.0, 3.0]])  # fmt: skip
    m0, shift = quantize_multiplier(ms)
    assert m0.dtype == np.int32 and m0.shape == ms.shape
    assert np.all(m0.astype(np.int64) >= 2**30) and np.all(m0.astype(np.int64) < 2**31)
    assert np.all((shift >= -31) & (shift <= 31)) and np.all(shift[ms >= 1] < 0) and np.all(shift[ms < 0.5] > 0)
    recon = m0.astype(np.float64) * 2.0 ** (-31 - shift.astype(np.float64))
    assert np.all(np.abs(recon - ms) <= 2**-30 * ms)
    m0s, shs = quantize_multiplier(float(ms[0]))
    assert (m0s, shs) == (int(m0[0]), int(shift[0])) and isinstance(m0s, int)


@pytest.mark.parametrize("bad", [0.0, -0.5, 2.0**31, float("nan"), float("inf"), 2.0**-40])
def test_quantize_multiplier_refuses(bad):
    with pytest.raises(ValueError, match="real_multiplier"):
        quantize_multiplier(bad)
    with pytest.raises(TypeError):
        quantize_multiplier("0.5")


def random_acc(rng, shape):
    acc = rng.integers(-(2**31), 2**31, size=shape, dtype=np.int64)
    small = rng.integers(-(2**16), 2**16, size=shape)
    acc = np.where(rng.random(shape) < 0.5, small, acc)
    acc.flat[:4] = [-(2**31), 2**31 - 1, 0, -1][: acc.size]
    return acc.astype(np.int32)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize(("qmin", "qmax"), [(0, 255), (-127, 127), (-128, 127), (0, 15)])
def test_requantize_per_tensor_bit_exact(rng, relu, qmin, qmax):
    acc = random_acc(rng, (40, 7))
    m0, shift = quantize_multiplier(float(2.0 ** -rng.uniform(0, 31.5)))
    zp = int(rng.integers(qmin, qmax + 1))
    out = requantize(acc, m0, shift, out_zero_point=zp, qmin=qmin, qmax=qmax, relu=relu)
    assert out.dtype == (np.uint8 if qmin >= 0 else np.int8)
    np.testing.assert_array_equal(
        out, requantize_ref(acc, m0, shift, out_zero_point=zp, qmin=qmin, qmax=qmax, relu=relu)
    )


@pytest.mark.parametrize("relu", [False, True])
def test_requantize_per_channel_bit_exact(rng, relu):
    acc = random_acc(rng, (3, 5, 11))
    m0, shift = quantize_multiplier(2.0 ** -rng.uniform(0, 31.5, size=11))
    out = requantize(acc, m0, shift, out_zero_point=7, qmin=0, qmax=255, relu=relu)
    np.testing.assert_array_equal(out, requantize_ref(acc, m0, shift, out_zero_point=7, qmin=0, qmax=255, relu=relu))


def test_requantize_left_shift_for_multipliers_above_one(rng):
    """M >= 1 (coarse weights): TFLite's saturating left shift, bit-exact against the reference and within 1 LSB of
    round(acc * M) wherever the shifted accumulator fits int32."""
    acc = rng.integers(-(2**12), 2**12, size=(200, 6)).astype(np.int32)
    ms = np.array([1.0, 1.5, 2.75, 7.9, 0.3, 33.0])
    m0, shift = quantize_multiplier(ms)
    assert list(shift < 0) == [True, True, True, True, False, True]
    out = requantize(acc, m0, shift, out_zero_point=0, qmin=-127, qmax=127)
    np.testing.assert_array_equal(out, requantize_ref(acc, m0, shift, out_zero_point=0, qmin=-127, qmax=127))
    exact = np.clip(np.round(acc.astype(np.float64) * ms), -127, 127)
    assert np.max(np.abs(out.astype(np.int64) - exact)) <= 1
    big = np.full((1, 1), 2**30, np.int32)  # the left shift saturates instead of wrapping around
    m0b, shb = quantize_multiplier(np.array([4.0]))
    assert requantize(big, m0b, shb, out_zero_point=0, qmin=-127, qmax=127)[0, 0] == 127


def test_requantize_within_one_of_float64_rounding(rng):
    """Two roundings (half away from zero) -> within 1 LSB of round(acc * M) computed in float64."""
    acc = rng.integers(-(2**24), 2**24, size=(500, 4)).astype(np.int32)
    ms = rng.uniform(1e-6, 1e-2, size=4)
    m0, shift = quantize_multiplier(ms)
    out = requantize(acc, m0, shift, out_zero_point=0, qmin=-128, qmax=127)
    exact = np.clip(np.round(acc.astype(np.float64) * ms), -128, 127)
    assert np.max(np.abs(out.astype(np.int64) - exact)) <= 1


def test_srdhm_saturates_and_reference_edge_cases():
    from odyssey_lessons.quant._kernels import rounding_divide_by_pot as rdbpot_jit
    from odyssey_lessons.quant._kernels import srdhm as srdhm_jit

    cases = [(-(2**31), -(2**31)), (-(2**31), 2**31 - 1), (2**31 - 1, 2**31 - 1), (-1, 2**30), (1, 2**30), (-3, 2**30)]
    for a, b in cases:
        assert srdhm_jit(np.int64(a), np.int64(b)) == srdhm(a, b)
    for x in (-5, -4, -3, -2, -1, 0, 1, 2, 3, 5, -(2**31), 2**31 - 1):
        for e in (0, 1, 2, 31):
            assert rdbpot_jit(np.int64(x), np.int64(e)) == rounding_divide_by_pot(x, e)


def test_requantize_errors(rng):
    acc = np.zeros((2, 3), np.int32)
    m0, shift = quantize_multiplier(0.01)
    with pytest.raises(TypeError, match="acc must be an int32"):
        requantize(acc.astype(np.int64), m0, shift, out_zero_point=0, qmin=0, qmax=255)
    with pytest.raises(ValueError, match="length acc.shape"):
        requantize(acc, np.full(2, m0), np.full(2, shift), out_zero_point=0, qmin=0, qmax=255)
    with pytest.raises(ValueError, match="m0 must be in"):
        requantize(acc, 5, shift, out_zero_point=0, qmin=0, qmax=255)
    with pytest.raises(ValueError, match="shift must be in"):
        requantize(acc, m0, -40, out_zero_point=0, qmin=0, qmax=255)
    with pytest.raises(ValueError, match="out_zero_point must be in"):
        requantize(acc, m0, shift, out_zero_point=300, qmin=0, qmax=255)
    with pytest.raises(ValueError, match="qmin, qmax"):
        requantize(acc, m0, shift, out_zero_point=0, qmin=-200, qmax=255)
