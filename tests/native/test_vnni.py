"""The int8 GEMM and convolution on VNNI (``vpdpbusd``), against int64 references, on every path this machine has:
512-bit, 256-bit and the portable fallback give identical results, the accumulator bound holds at its edge, a
quantized model computes the same codes on each path, the dispatch refuses what the CPU lacks, and the compiled
code really contains the instruction."""

from __future__ import annotations

import warnings

import numba
import numpy as np
import pytest

from odyssey_lessons.native import NATIVE_FEATURES, cpu_features
from odyssey_lessons.nn import digits_cnn, mlp
from odyssey_lessons.perf import machine_info
from odyssey_lessons.quant import INT8_PATHS, QuantizedModel, available_int8_paths, int8_conv2d, int8_matmul
from odyssey_lessons.quant import _vnniconv as VC
from odyssey_lessons.quant import _vnnigemm as VG
from odyssey_lessons.quant import _vnnikernels as VK
from odyssey_lessons.quant._kernels import unpack_signed_kernel
from odyssey_lessons.quant._pack import pack_int, unpack_int
from tests.reference_int import conv2d_int_ref

PATHS = available_int8_paths()
NATIVE = [p for p in INT8_PATHS if p != "portable"]


def native_or_skip(path: str) -> None:
    """The one skip of this file: a native path on a CPU (or numba target) without its instruction."""
    if path not in PATHS:
        pytest.skip(f"this CPU (numba target) has no {path}: cpu_features()={cpu_features()}")


def ref_matmul(a, b, za, zb) -> np.ndarray:
    return (a.astype(np.int64) - za) @ (b.astype(np.int64) - zb)


SHAPES = [(1, 1, 1), (1, 3, 1), (5, 7, 3), (17, 33, 45), (8, 64, 32), (9, 64, 33), (64, 200, 70), (3, 1024, 10)]


@pytest.mark.parametrize("path", INT8_PATHS)
@pytest.mark.parametrize(("m", "k", "n"), SHAPES)
@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_int8_matmul_is_exact_on_every_path(rng, path, m, k, n, dtype):
    native_or_skip(path)
    info = np.iinfo(dtype)
    a = rng.integers(info.min, info.max + 1, (m, k)).astype(dtype)
    b = rng.integers(-128, 128, (k, n)).astype(np.int8)
    za = int(rng.integers(info.min, info.max + 1)) if k < 1024 else 0
    zb = int(rng.integers(-128, 128)) if k < 1024 else 0
    out = int8_matmul(a, b, a_zero_point=za, b_zero_point=zb, path=path)
    assert out.dtype == np.int32 and out.shape == (m, n)
    np.testing.assert_array_equal(out, ref_matmul(a, b, za, zb))


@pytest.mark.parametrize("path", INT8_PATHS)
@pytest.mark.parametrize("shape", [(0, 5, 3), (4, 0, 3), (4, 5, 0)])
def test_empty_dimensions(path, shape):
    native_or_skip(path)
    m, k, n = shape
    out = int8_matmul(np.zeros((m, k), np.uint8), np.zeros((k, n), np.int8), a_zero_point=3, path=path)
    np.testing.assert_array_equal(out, np.zeros((m, n), np.int32))


@pytest.mark.parametrize("path", INT8_PATHS)
@pytest.mark.parametrize(("dtype", "value", "za"), [(np.uint8, 255, 0), (np.int8, -128, 0), (np.int8, 127, -128)])
def test_exact_at_the_accumulator_bound(path, dtype, value, za):
    """The largest K the bound allows, every product at its extreme: the sum is within int32 by a hair, while the
    VNNI path's intermediate sums (unsigned bytes, corrections applied after) pass 2**31 and wrap -- the result is
    still exact, since int32 arithmetic is exact mod 2**32."""
    native_or_skip(path)
    signed_za = za - 128 if dtype == np.uint8 else za
    amax = max(signed_za + 128, 127 - signed_za)
    k = (2**31 - 1) // (amax * 128)
    a = np.full((2, k), value, dtype=dtype)
    b = np.full((k, 3), -128, dtype=np.int8)
    b[:, 1] = 127
    expected = ref_matmul(a, b, za, 0)
    assert np.abs(expected).max() > 2**30  # the test reaches the top of int32's range
    np.testing.assert_array_equal(int8_matmul(a, b, a_zero_point=za, path=path), expected)
    with pytest.raises(ValueError, match="overflow the int32 accumulator"):
        int8_matmul(np.full((1, k + 1), value, dtype), np.zeros((k + 1, 1), np.int8), a_zero_point=za, path=path)


CONVS = [
    (2, 3, 7, 6, 5, 3, 1, 1),
    (1, 2, 5, 5, 9, 2, 2, 0),
    (3, 1, 8, 8, 8, 3, 1, 1),
    (1, 4, 9, 9, 17, 3, 2, 2),
    (2, 1, 3, 3, 1, 3, 1, 0),
    (1, 2, 20, 11, 3, 3, 1, 1),
    (1, 1, 40, 7, 2, 5, 2, 1),
]


@pytest.mark.parametrize("path", INT8_PATHS)
@pytest.mark.parametrize(("n", "c", "h", "w", "o", "k", "stride", "padding"), CONVS)
@pytest.mark.parametrize("dtype", [np.int8, np.uint8])
def test_int8_conv2d_is_exact_on_every_path(rng, path, n, c, h, w, o, k, stride, padding, dtype):
    native_or_skip(path)
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max + 1, (n, c, h, w)).astype(dtype)
    wt = rng.integers(-128, 128, (o, c, k, k)).astype(np.int8)
    zx = int(rng.integers(info.min, info.max + 1))
    out = int8_conv2d(x, wt, stride=stride, padding=padding, x_zero_point=zx, path=path)
    np.testing.assert_array_equal(out, conv2d_int_ref(x, wt, stride=stride, padding=padding, x_zero_point=zx))


def test_patch_panels_hold_every_tap(rng):
    """The VNNI convolution's panels against a direct gather: pixel q's taps t at [q // 32, t // 4, q % 32, t % 4]."""
    x = rng.integers(0, 256, (2, 3, 6, 5)).astype(np.uint8)
    k, stride, pad, zx = 3, 2, 1, 7
    weights = VC.ConvWeights(np.zeros((1, 3 * k * k), np.int8), k)
    panels, oh, ow = VC.patches(x, weights, stride, pad, zx)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=zx)
    for n in range(2):
        for q in range(oh * ow):
            i, j = divmod(q, ow)
            taps = xp[n, :, i * stride : i * stride + k, j * stride : j * stride + k].reshape(-1)
            got = panels[n, q // 32, :, q % 32, :].reshape(-1)[: taps.size]
            np.testing.assert_array_equal(got, taps)


@pytest.mark.parametrize("bits", range(1, 9))
def test_numba_unpack_equals_unpack_int(rng, bits):
    for count in (1, 7, 64, 1001):
        lo = -(2 ** (bits - 1))
        q = rng.integers(lo, -lo, count).astype(np.int8)
        packed = pack_int(q, bits)
        out = np.empty(count, np.int8)
        unpack_signed_kernel(packed, bits, out)
        np.testing.assert_array_equal(out, unpack_int(packed, bits, count=count, signed=True))


@pytest.fixture(scope="module", params=["mlp", "cnn"])
def digits_models(request):
    from odyssey_lessons.data import digits_task
    from odyssey_lessons.optim import adam
    from odyssey_lessons.train import fit

    task = digits_task(request.param, seed=0)
    rng = np.random.default_rng(0)
    model = mlp((64, 48, 10), rng=rng) if request.param == "mlp" else digits_cnn(rng=rng)
    fit(model, task.train, optimizer=adam(1e-2), epochs=2, batch_size=64, seed=0)
    return model, task


@pytest.mark.parametrize("weight_bits", [8, 4, 3])
def test_quantized_model_gives_the_same_codes_on_every_path(digits_models, weight_bits):
    model, task = digits_models
    qmodel = QuantizedModel.from_float(model, task.train[0][:256], weight_bits=weight_bits)
    assert qmodel.path == PATHS[0]
    x = task.test[0]
    codes = {p: qmodel.use_path(p).forward_int(x) for p in PATHS}
    for path, c in codes.items():
        np.testing.assert_array_equal(c, codes["portable"], err_msg=path)


def test_dispatch_refuses_what_the_cpu_lacks(monkeypatch):
    monkeypatch.setattr(VG, "cpu_features", lambda: dict.fromkeys(NATIVE_FEATURES, False))
    assert VG.available_int8_paths() == ("portable",)
    assert VG.resolve_int8_path("auto") == "portable"
    a, b = np.ones((2, 3), np.uint8), np.ones((3, 2), np.int8)
    for path in NATIVE:
        with pytest.raises(ValueError, match=f"path='{path}' needs a CPU feature"):
            int8_matmul(a, b, path=path)
    np.testing.assert_array_equal(int8_matmul(a, b), np.full((2, 2), 3))


@pytest.mark.parametrize(("path", "error"), [("vnni", ValueError), ("AUTO", ValueError), (512, TypeError)])
def test_bad_path_is_named(path, error):
    with pytest.raises(error, match="path"):
        int8_matmul(np.ones((2, 3), np.uint8), np.ones((3, 2), np.int8), path=path)
    with pytest.raises(error, match="path"):
        QuantizedModel([], None, None, 0, path=path)


def test_machine_info_reports_the_paths():
    native = machine_info()["native"]
    assert set(native["features"]) == set(NATIVE_FEATURES)
    assert native["int8_gemm"] == PATHS[0]
    assert native["bf16_matmul"] in ("native", "fallback")


def fresh_asm(kernel, args) -> str:
    """Machine code of an uncached copy of ``kernel`` compiled for ``args`` (numba cannot inspect cached code)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", numba.NumbaPerformanceWarning)
        copy = numba.njit(kernel.py_func)
        copy(*args)
    return copy.inspect_asm(copy.signatures[0])


def _gemm_args(rng):
    a = rng.integers(0, 256, (9, 64), dtype=np.uint8)
    w = VG.PackedWeights(rng.integers(-128, 128, (40, 64), dtype=np.int8))
    e = np.zeros(0, np.int32)
    out = np.zeros((9, 40), np.int32)
    return (a, w.panels(), VG.padded(np.zeros(40, np.int32)), np.zeros(9, np.int32), e, e, np.zeros(4, np.int64), out,
            np.zeros((0, 0), np.uint8))  # fmt: skip


def _conv_args(rng):
    w = VC.ConvWeights(rng.integers(-128, 128, (8, 9), dtype=np.int8), 3)
    cols, _, _ = VC.patches(rng.integers(0, 256, (2, 1, 8, 8), dtype=np.uint8), w, 1, 1, 3)
    out = np.zeros((2, 8, 64), np.uint8)
    e = np.zeros(8, np.int32)
    return (w.rows(), cols, e, e + (1 << 30), e + 8, np.array([0, 0, 255]), np.zeros((0, 0, 0), np.int32), out)


@pytest.mark.parametrize(
    ("kernel", "feature", "register", "make_args"),
    [
        (VK.gemm_vnni512, "avx512_vnni", "zmm", _gemm_args),
        (VK.gemm_vnni256, "vnni_256", "ymm", _gemm_args),
        (VK.conv_vnni512, "avx512_vnni", "zmm", _conv_args),
        (VK.conv_vnni256, "vnni_256", "ymm", _conv_args),
    ],
    ids=["gemm512", "gemm256", "conv512", "conv256"],
)
def test_kernels_run_on_vpdpbusd(rng, kernel, feature, register, make_args):
    """The speed comes from ``vpdpbusd`` (64 byte products per 512-bit instruction); check that the compiled tile
    loops contain it on the vector width they were written for, instead of trusting a stopwatch."""
    native_or_skip(feature)
    asm = fresh_asm(kernel, make_args(rng))
    lines = [line for line in asm.splitlines() if "vpdpbusd" in line]
    assert len(lines) >= 16, f"{kernel.__name__}: {len(lines)} vpdpbusd instructions"
    assert all(register in line for line in lines), lines[:3]
