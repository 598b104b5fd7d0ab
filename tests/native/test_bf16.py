"""bf16_matmul: both paths bit-exact against slow references written here, the instruction's arithmetic pinned case
by case on this CPU, accuracy against ml_dtypes + float64, input checks, and the compiled micro-kernel.

The references share no code with the package: inputs are rounded by ml_dtypes, and :func:`fma_ftz_exact` rounds
``acc + x*y`` with Python fractions (the definition), :func:`reference_matmul_fast` with numpy float64 (vectorised
over the output, for larger shapes; checked against the exact one below).
"""

from __future__ import annotations

import math
import re
import warnings
from fractions import Fraction

import ml_dtypes
import numba
import numpy as np
import pytest

from odyssey_lessons.native import BF16_PATHS, bf16_matmul, bf16_matmul_path, bf16_matmul_speed, cpu_features
from odyssey_lessons.native import _bf16 as B
from odyssey_lessons.native import _bf16_kernels as K

HAS_BF16 = cpu_features()["avx512_bf16"]
needs_bf16 = pytest.mark.skipif(not HAS_BF16, reason="numba's compile target lacks AVX512-BF16 (vdpbf16ps)")
PATHS = [pytest.param("native", marks=needs_bf16), "fallback"]

SMALLEST_NORMAL = 2.0**-126
F32_MAX = float(np.finfo(np.float32).max)


# ----- references
def bf16_values(x: np.ndarray) -> np.ndarray:
    """float32 -> bf16 (ml_dtypes, nearest even) -> float64, denormals flushed to signed zero (the DAZ)."""
    v = np.asarray(x, np.float32).astype(ml_dtypes.bfloat16).astype(np.float64)
    return np.where(np.abs(v) < SMALLEST_NORMAL, np.copysign(0.0, v), v)


def fma_ftz_exact(acc: float, x: float, y: float) -> float:
    """``acc + x*y`` rounded once to float32 (nearest even, unbounded exponent), results below 2**-126 flushed to a
    zero of their sign, overflow to inf; exact rational arithmetic. ``acc`` is never denormal (it is a result)."""
    if not all(math.isfinite(v) for v in (acc, x, y)):
        with np.errstate(invalid="ignore"):
            return float(np.float32(acc + x * y))  # IEEE: inf*0 and inf-inf are NaN, NaN propagates
    if x == 0 or y == 0:
        if acc != 0:
            return acc
        negative_product = (math.copysign(1, x) < 0) != (math.copysign(1, y) < 0)
        return -0.0 if math.copysign(1, acc) < 0 and negative_product else 0.0  # -0 + -0 = -0, else +0
    s = Fraction(acc) + Fraction(x) * Fraction(y)
    if s == 0:
        return 0.0  # exact cancellation: +0 when rounding to nearest
    mag = abs(s)
    e = mag.numerator.bit_length() - mag.denominator.bit_length()  # 2**e <= mag < 2**(e+2)
    if Fraction(2) ** e > mag:
        e -= 1
    if Fraction(2) ** (e + 1) <= mag:
        e += 1
    ulp = Fraction(2) ** (e - 23)
    r = round(mag / ulp) * ulp  # round() of a Fraction: half to even
    sign = 1.0 if s > 0 else -1.0
    if r < SMALLEST_NORMAL:
        return math.copysign(0.0, sign)
    if r > F32_MAX:
        return sign * math.inf
    return sign * float(r)


def reference_matmul_exact(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The stated order, element by element: acc = +0; for each pair p: the odd k first, then the even k."""
    av, bv = bf16_values(a), bf16_values(b)
    m, k = av.shape
    n = bv.shape[1]
    out = np.zeros((m, n), np.float32)
    for i in range(m):
        for j in range(n):
            acc = 0.0
            for p in range((k + 1) // 2):
                for kk in (2 * p + 1, 2 * p):
                    x, y = (av[i, kk], bv[kk, j]) if kk < k else (0.0, 0.0)
                    acc = fma_ftz_exact(acc, x, y)
            out[i, j] = acc
    return out


def reference_matmul_fast(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The same order, vectorised over the output in float64 (exact products; finite inputs only)."""
    av, bv = bf16_values(a), bf16_values(b)
    k = av.shape[1]
    acc = np.zeros((av.shape[0], bv.shape[1]), np.float32)
    tiny = 2.0**-126 - 2.0**-151
    with np.errstate(over="ignore", invalid="ignore"):
        for p in range((k + 1) // 2):
            for kk in (2 * p + 1, 2 * p):
                if kk >= k:
                    s = acc.astype(np.float64) + 0.0
                else:
                    s = acc.astype(np.float64) + np.outer(av[:, kk], bv[kk, :])
                acc = np.where(np.abs(s) < tiny, s * 0.0, s).astype(np.float32)
    return acc


def assert_same_bits(got: np.ndarray, want: np.ndarray) -> None:
    """Equal float32 bits, except that any NaN matches any NaN."""
    assert got.dtype == np.float32 and got.shape == want.shape
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(got.view(np.uint32)[~nan], want.astype(np.float32).view(np.uint32)[~nan])


# ----- the instruction's arithmetic, case by case
# (name, acc, (a_even, a_odd), (b_even, b_odd), expected): one output element, K = 2, the accumulator preset by a
# first pair (acc, 1) x (1, 0) -- which adds acc exactly -- so each case is a K = 4 matmul.
T = 2.0**-126
CASES = [
    ("odd element first: (1 + 2**-24) ties to 1, then -1", 1.0, (-1.0, 2.0**-24), (1.0, 1.0), 0.0),
    ("even element first would give 2**-24", 1.0, (2.0**-24, -1.0), (1.0, 1.0), 2.0**-24),
    ("two roundings, not one fused sum", 1.0, (2.0**-24, 2.0**-24), (1.0, 1.0), 1.0),
    ("products are not rounded: fma", T, (2.0**-70, 0.0), (2.0**-70, 0.0), T + 2.0**-140),
    ("FTZ: a tiny result is flushed", T, (2.0**-63, 0.0), (-(2.0**-64), 0.0), 0.0),
    ("FTZ keeps the sign", -T, (2.0**-63, 0.0), (2.0**-64, 0.0), -0.0),
    ("FTZ after rounding: rounds up to 2**-126, kept", T, (2.0**-76, 0.0), (-(2.0**-76), 0.0), T),
    ("FTZ after rounding, unbounded exponent", T, (3 * 2.0**-76, 0.0), (-(2.0**-76), 0.0), 0.0),
    ("FTZ between the two products", T, (2.0**-63, -(2.0**-63)), (2.0**-64, 2.0**-64), 0.0),
    ("DAZ: a bf16 denormal input is zero", 0.0, (2.0**-130, 0.0), (2.0**100, 0.0), 0.0),
    ("DAZ: denormal times inf is NaN", 0.0, (2.0**-130, 0.0), (math.inf, 0.0), math.nan),
    ("a product beyond float32 overflows", 0.0, (2.0**100, 0.0), (2.0**100, 0.0), math.inf),
    ("inf * 0 is NaN", 0.0, (math.inf, 0.0), (0.0, 0.0), math.nan),
    ("inf - inf is NaN", 0.0, (math.inf, math.inf), (1.0, -1.0), math.nan),
    ("NaN propagates", 0.0, (math.nan, 0.0), (1.0, 0.0), math.nan),
    ("ties to even", 1.0, (3 * 2.0**-24, 0.0), (1.0, 0.0), 1.0 + 2.0**-22),
]


def _case_matrices(acc: float, a: tuple, b: tuple) -> tuple[np.ndarray, np.ndarray]:
    a_row = np.array([[acc, 1.0, a[0], a[1]]], np.float32)
    b_col = np.array([[1.0], [0.0], [b[0]], [b[1]]], np.float32)
    return a_row, b_col


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name, acc, a, b, expected", CASES, ids=[c[0] for c in CASES])
def test_instruction_arithmetic_case_by_case(path, name, acc, a, b, expected):
    """Each case tells one property of the stated arithmetic from the alternatives; on the native path it checks that
    this CPU's vdpbf16ps behaves as stated (found so on AMD Zen 4: Intel's pseudo-code)."""
    a_row, b_col = _case_matrices(acc, a, b)
    want = np.array([[expected]], np.float32)
    assert_same_bits(reference_matmul_exact(a_row, b_col), want)  # the reference agrees with the case
    assert_same_bits(bf16_matmul(a_row, b_col, path=path), want)


# ----- whole matrices, bit-exact
SHAPES = [(1, 1, 1), (1, 2, 1), (3, 5, 7), (1, 64, 128), (6, 8, 64), (7, 9, 65), (13, 33, 70)]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_bit_exact_against_exact_reference(rng, path, shape):
    m, k, n = shape
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    assert_same_bits(bf16_matmul(a, b, path=path), reference_matmul_exact(a, b))


INTERESTING = np.array(
    [0.0, -0.0, 1.0, -1.5, 3.0, 2.0**-63, -(2.0**-64), 3 * 2.0**-76, 2.0**-130, -(2.0**-133), 2.0**64, -(2.0**100),
     2.0**127, np.inf, -np.inf, np.nan, 1.0 + 2.0**-7, 2.0**-24, 7.5e-39],
    np.float32,
)  # fmt: skip


@pytest.mark.parametrize("path", PATHS)
def test_special_values_bit_exact(rng, path):
    """Zeros of both signs, denormals, tiny and huge products, inf and NaN mixed: every element as the reference
    says (NaN where the reference has NaN)."""

    def sprinkled(shape):  # about one special value in eight, the rest normal values
        x = rng.standard_normal(shape).astype(np.float32)
        mask = rng.random(shape) < 0.12
        x[mask] = rng.choice(INTERESTING, size=int(mask.sum()))
        return x

    a, b = sprinkled((9, 11)), sprinkled((11, 67))
    a[0, 0], b[0, :2] = 2.0**-130, [np.inf, np.nan]  # a denormal row: zeros, except its DAZ zero times inf or NaN
    a[0, 1:] = 2.0**-133
    with np.errstate(invalid="ignore", over="ignore"):
        want = reference_matmul_exact(a, b)
    assert np.isnan(want).any() and np.isinf(want).any() and (want == 0).any()  # the mix reaches every case
    assert_same_bits(bf16_matmul(a, b, path=path), want)


def test_fast_reference_equals_exact_reference(rng):
    a = rng.choice(INTERESTING[np.isfinite(INTERESTING)], size=(8, 13)) * rng.standard_normal((8, 13)).astype("f4")
    b = rng.standard_normal((13, 9), dtype=np.float32)
    assert_same_bits(reference_matmul_fast(a, b), reference_matmul_exact(a, b))
    a, b = rng.standard_normal((5, 31), dtype=np.float32), rng.standard_normal((31, 6), dtype=np.float32)
    assert_same_bits(reference_matmul_fast(a, b), reference_matmul_exact(a, b))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("shape", [(97, 600, 130), (100, 513, 65)], ids=["blocks", "odd-k-blocks"])
def test_bit_exact_across_blocks(rng, path, shape):
    """More than one block of k (256 pairs) and of rows (16 x 6): the blocking keeps every element's order."""
    m, k, n = shape
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    assert_same_bits(bf16_matmul(a, b, path=path), reference_matmul_fast(a, b))


@needs_bf16
def test_paths_agree_bit_for_bit(rng):
    a = rng.standard_normal((70, 301), dtype=np.float32) * np.float32(1e-19)
    b = rng.standard_normal((301, 129), dtype=np.float32) * np.float32(1e-19)  # products near the FTZ threshold
    native = bf16_matmul(a, b, path="native")
    assert (native == 0).any() and (native != 0).any()
    assert_same_bits(native, bf16_matmul(a, b, path="fallback"))


# ----- accuracy against an outside oracle
@pytest.mark.parametrize("shape", [(256, 1024, 64), (3, 7, 5), (256, 64, 128)], ids=lambda s: "x".join(map(str, s)))
def test_within_float32_summation_bound_of_float64(rng, shape):
    """Against ml_dtypes-rounded inputs multiplied in float64: a sequential float32 sum of K exact products is off by
    at most gamma_K * sum_k |a_ik b_kj|, gamma_K = K u / (1 - K u), u = 2**-24 (Higham, Accuracy and Stability of
    Numerical Algorithms, 3.1); one more addition for the zero pad of an odd K."""
    m, k, n = shape
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    a64 = a.astype(ml_dtypes.bfloat16).astype(np.float64)
    b64 = b.astype(ml_dtypes.bfloat16).astype(np.float64)
    steps = k + 1
    gamma = steps * 2.0**-24 / (1 - steps * 2.0**-24)
    err = np.abs(bf16_matmul(a, b).astype(np.float64) - a64 @ b64)
    bound = gamma * (np.abs(a64) @ np.abs(b64))
    assert (err <= bound).all(), f"worst error / bound = {(err / bound).max():.3g}"
    if k >= 64:
        assert err.max() > 0  # float32 accumulation, not float64: the test can tell them apart


@pytest.mark.parametrize("path", PATHS)
def test_input_kinds_give_the_same_result(rng, path):
    """float32 (rounded here), uint16 bf16 bits and ml_dtypes.bfloat16 arrays of the same values."""
    a = rng.standard_normal((5, 9), dtype=np.float32)
    b = rng.standard_normal((9, 4), dtype=np.float32)
    a_bf, b_bf = a.astype(ml_dtypes.bfloat16), b.astype(ml_dtypes.bfloat16)
    want = bf16_matmul(a, b, path=path)
    assert_same_bits(bf16_matmul(a_bf, b_bf, path=path), want)
    assert_same_bits(bf16_matmul(a_bf.view(np.uint16), b_bf.view(np.uint16), path=path), want)
    assert_same_bits(bf16_matmul(np.asfortranarray(a), b[:, ::1], path=path), want)  # layout does not matter


def test_float32_inputs_round_to_nearest_even_and_overflow_to_inf():
    """float32 inputs are rounded as ml_dtypes.bfloat16 casts: ties to even, beyond bf16's max to inf."""
    assert 3.4e38 > float(ml_dtypes.finfo(ml_dtypes.bfloat16).max)
    one = np.ones((1, 1), np.float32)
    for x, want in [(1.0 + 2.0**-8, 1.0), (1.0 + 3 * 2.0**-8, 1.0 + 2.0**-6), (3.4e38, np.inf)]:
        assert bf16_matmul(np.full((1, 1), x, np.float32), one)[0, 0] == np.float32(want)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("shape", [(0, 3, 4), (2, 0, 4), (2, 3, 0), (0, 0, 0)])
def test_empty_dimensions(path, shape):
    m, k, n = shape
    out = bf16_matmul(np.ones((m, k), np.float32), np.ones((k, n), np.float32), path=path)
    assert out.shape == (m, n) and out.dtype == np.float32 and not out.any()


# ----- paths and input checks
def test_auto_path_follows_cpu_features():
    assert bf16_matmul_path() == ("native" if HAS_BF16 else "fallback")
    assert set(BF16_PATHS) == {"auto", "native", "fallback"}


def test_native_without_the_instruction_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(B, "cpu_features", lambda: {"avx512_vnni": False, "vnni_256": False, "avx512_bf16": False})
    assert bf16_matmul_path() == "fallback"
    with pytest.raises(ValueError, match="path='native' needs AVX512-BF16"):
        bf16_matmul(np.ones((2, 2), np.float32), np.ones((2, 2), np.float32), path="native")


@pytest.mark.parametrize(
    "a, b, kwargs, error, match",
    [
        (np.ones((2, 2)), np.ones((2, 2), np.float32), {}, TypeError, "a must be float32.*got dtype float64"),
        (np.ones((2, 2), np.float32), np.ones((2, 2), np.int32), {}, TypeError, "b must be float32.*got dtype int32"),
        (np.ones(3, np.float32), np.ones((3, 2), np.float32), {}, ValueError, r"a must be a 2-D.*a.shape=\(3,\)"),
        (np.ones((2, 3), np.float32), np.ones((2, 3), np.float32), {}, ValueError, r"a.shape=\(2, 3\) and b.shape"),
        (np.ones((2, 2), np.float32), np.ones((2, 2), np.float32), {"path": "gpu"}, ValueError, "path='gpu'"),
    ],
)
def test_bad_inputs(a, b, kwargs, error, match):
    with pytest.raises(error, match=match):
        bf16_matmul(a, b, **kwargs)


# ----- measurement
def test_speed_returns_data():
    r = bf16_matmul_speed(8, 16, 32, repeats=2)
    assert set(r["gflops"]) == {"bf16", "bf16_from_f32", "fp32_blas"}
    assert all(len(t) == 2 for t in r["seconds"].values())
    assert r["speedup"] > 0 and r["path"] == bf16_matmul_path()
    with pytest.raises(ValueError, match="k=0"):
        bf16_matmul_speed(8, 0, 8)


# ----- compiled code
@needs_bf16
def test_micro_kernel_runs_vdpbf16ps_on_register_accumulators():
    """An uncached copy of the native kernel (numba cannot inspect code loaded from its cache): the IR calls the
    intrinsic, the asm runs vdpbf16ps, and no zmm register goes to or from the stack between the first and the last
    vdpbf16ps (the 24 accumulators stay in registers across the k loop)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", numba.NumbaPerformanceWarning)
        copy = numba.njit(K.matmul_native.py_func)
        ap = np.zeros((1, 3, K.MR), np.uint32)
        bp = np.zeros((1, 3, K.NR), np.uint32)
        copy(ap, bp, np.zeros((K.MR, K.NR), np.float32))
    sig = copy.signatures[0]
    assert "@llvm.x86.avx512bf16.dpbf16ps.512(<16 x float>" in copy.inspect_llvm(sig)
    lines = copy.inspect_asm(sig).splitlines()
    dp = [i for i, line in enumerate(lines) if "vdpbf16ps" in line]
    assert len(dp) >= K.MR * K.NV
    accumulators = {re.findall(r"%zmm\d+", lines[i])[-1] for i in dp}
    assert len(accumulators) == K.MR * K.NV
    spills = [line for line in lines[dp[0] : dp[-1]] if "zmm" in line and "(%rsp)" in line]
    assert not spills, spills
