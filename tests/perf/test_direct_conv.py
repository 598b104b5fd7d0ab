"""The direct-convolution kernel against ``nn.Conv2D``'s forward (im2col + BLAS) as the oracle, and a slow einsum
reference written out in the test."""

from __future__ import annotations

import numpy as np
import pytest

from odyssey_lessons import nn
from odyssey_lessons.perf._direct_conv import direct_conv2d, im2col_bytes

SHAPES = [  # batch, in channels, out channels, height, width, kernel, stride, padding
    (4, 1, 8, 8, 8, 3, 1, 1),  # the digits CNN's first layer
    (3, 2, 5, 7, 9, 3, 1, 0),  # no padding, H != W
    (2, 3, 4, 9, 7, 3, 2, 1),  # stride 2
    (2, 4, 3, 6, 6, 5, 2, 2),  # 5x5 kernel, stride 2, padding 2
    (1, 2, 6, 4, 4, 1, 1, 0),  # 1x1 kernel
    (2, 1, 2, 3, 3, 3, 1, 2),  # padding larger than the border: outputs that see padding only
]


def reference_conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """The definition, in float64: pad with zeros, then for each output position one einsum over (c, u, v)."""
    k = weight.shape[2]
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = (xp.shape[2] - k) // stride + 1
    ow = (xp.shape[3] - k) // stride + 1
    y = np.empty((x.shape[0], weight.shape[0], oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride : i * stride + k, j * stride : j * stride + k]
            y[:, :, i, j] = np.einsum("ncuv,ocuv->no", patch, weight.astype(np.float64))
    return y + bias.astype(np.float64)[None, :, None, None]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_conv2d_forward_and_the_definition(shape, dtype, rng):
    n, c, o, h, w, k, s, p = shape
    conv = nn.Conv2D(c, o, k, stride=s, padding=p, rng=rng)
    conv.params()["bias"][:] = rng.standard_normal(o)  # a nonzero bias, so adding it is tested too
    if dtype == np.float64:
        conv.to(np.float64)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    weight, bias = conv.params()["weight"], conv.params()["bias"]
    y = direct_conv2d(x, weight, bias, stride=s, padding=p)
    oracle = conv.forward(x, False)
    assert y.shape == oracle.shape and y.dtype == x.dtype
    rtol, atol = (1e-12, 1e-12) if dtype == np.float64 else (1e-5, 1e-5)
    np.testing.assert_allclose(y, oracle, rtol=rtol, atol=atol)
    np.testing.assert_allclose(y, reference_conv2d(x, weight, bias, s, p), rtol=rtol, atol=atol)


def test_small_integers_are_exact(rng):
    """Integer-valued inputs and weights: every partial sum is exact in float32, so any summation order agrees."""
    conv = nn.Conv2D(3, 4, 3, padding=1, rng=rng)
    conv.params()["weight"][:] = rng.integers(-3, 4, conv.params()["weight"].shape)
    conv.params()["bias"][:] = rng.integers(-3, 4, 4)
    x = rng.integers(-4, 5, (2, 3, 8, 8)).astype(np.float32)
    y = direct_conv2d(x, conv.params()["weight"], conv.params()["bias"], padding=1)
    np.testing.assert_array_equal(y, conv.forward(x, False))


def test_non_contiguous_inputs_and_no_side_effects(rng):
    conv = nn.Conv2D(2, 3, 3, padding=1, rng=rng)
    x = rng.standard_normal((6, 8, 8, 2)).astype(np.float32).transpose(0, 3, 1, 2)  # NHWC memory, NCHW view
    assert not x.flags.c_contiguous
    weight, bias = conv.params()["weight"], conv.params()["bias"]
    copies = x.copy(), weight.copy(), bias.copy()
    y = direct_conv2d(x, weight, bias, padding=1)
    np.testing.assert_allclose(y, conv.forward(np.ascontiguousarray(x), False), rtol=1e-5, atol=1e-5)
    assert all(np.array_equal(a, b) for a, b in zip((x, weight, bias), copies, strict=True))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"x": [[1.0]]}, TypeError, "x must be a numpy.ndarray"),
        ({"x": np.zeros((1, 1, 4, 4), np.int64)}, TypeError, "float32 or float64"),
        ({"weight": np.zeros((2, 1, 3, 3), np.float64)}, TypeError, "share a dtype"),
        ({"x": np.zeros((1, 4, 4), np.float32)}, ValueError, "x must be"),
        ({"weight": np.zeros((2, 1, 3, 2), np.float32)}, ValueError, "square kernel"),
        ({"weight": np.zeros((2, 3, 3, 3), np.float32)}, ValueError, "input channels"),
        ({"bias": np.zeros(3, np.float32)}, ValueError, "bias must have shape"),
        ({"stride": 0}, ValueError, "stride"),
        ({"padding": -1}, ValueError, "padding"),
        ({"x": np.zeros((1, 1, 2, 2), np.float32)}, ValueError, "smaller than kernel_size"),
    ],
)
def test_bad_arguments_raise(kwargs, error, match):
    args = {"x": np.zeros((1, 1, 4, 4), np.float32), "weight": np.zeros((2, 1, 3, 3), np.float32),
            "bias": np.zeros(2, np.float32), "stride": 1, "padding": 0}  # fmt: skip
    args.update(kwargs)
    with pytest.raises(error, match=match):
        direct_conv2d(args["x"], args["weight"], args["bias"], stride=args["stride"], padding=args["padding"])


def test_im2col_bytes_is_the_size_of_conv2d_cols(rng):
    for n, c, o, h, w, k, s, p in SHAPES:
        conv = nn.Conv2D(c, o, k, stride=s, padding=p, rng=rng)
        conv.forward(rng.standard_normal((n, c, h, w)).astype(np.float32), True)
        assert im2col_bytes((n, c, h, w), k, stride=s, padding=p) == conv._cols.nbytes
    with pytest.raises(ValueError, match="input_shape"):
        im2col_bytes((1, 8, 8), 3)
