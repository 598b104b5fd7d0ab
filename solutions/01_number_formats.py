# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exercises 1 · Number formats from the bits up
#
# Three tasks, each checked against the course package (`odyssey_lessons.formats`, which is bit-exact with
# `ml_dtypes`) and, where it is installed, against `ml_dtypes` itself:
#
# 1. **`round_to_format`**: round float32 values to any IEEE-style format with integer operations on the bits.
# 2. **`derive_finfo`**: derive a format's max, smallest normal, smallest subnormal and eps from E and M.
# 3. **`stall_value` / `stall_ulp`**: find where repeatedly adding 1.0 stops changing a sum, and explain why.
#
# Write your code in place of the `raise NotImplementedError(...)` lines, run the cell, then run the check cell
# below it. A check prints `[PASS] ...` or `[FAIL] ...` with a hint. Before you run anything, each check cell shows
# the output a correct answer prints: that is what your run is compared with. To score the whole notebook, save it
# and run `odyssey check exercises/01_number_formats.ipynb` in a terminal.

# %%
import math

import numpy as np

from odyssey_lessons.formats import (
    accumulate,
    custom_format,
    decode,
    encode,
    finfo,
    get_format,
    quantize,
    representable_values,
    stall_point,
    ulp,
)
from odyssey_lessons.grading import check

try:  # ml_dtypes is an optional second oracle (installed with the course's test extras)
    import ml_dtypes
except ImportError:
    ml_dtypes = None

# %% [markdown]
# ## Task 1 · Round to a format with bit operations
#
# An **IEEE-style** format with E exponent bits and M mantissa bits has bias $2^{E-1}-1$, smallest normal exponent
# $e_{\min} = 1 - \text{bias}$, the all-ones exponent field reserved for inf/NaN, subnormals below $2^{e_{\min}}$, and
# overflows to inf. fp16 is (5, 10), bf16 is (8, 7).
#
# A float32 is `sign | 8-bit exponent field | 23-bit mantissa`. Rounding it to M mantissa bits means dropping the
# low `23 - M` bits of its 24-bit significand (with the implicit leading 1) **round to nearest, ties to even**:
#
# - `drop = 23 - M` low bits go; `half = 1 << (drop - 1)`; `lsb = (bits >> drop) & 1` is the lowest bit you keep;
# - `((bits + half - 1 + lsb) >> drop) << drop` rounds to nearest, and an exact tie goes to the even neighbour.
#
# In the normal range you can apply this to the float32 bit pattern (sign cleared) directly: a carry out of the
# mantissa (1.1111 rounding up to 10.000) runs into the exponent field, which is exactly the next binade. Below the
# target's smallest normal the target has fewer significant bits: work on the 24-bit significand (implicit 1
# included) and drop `emin - e` more bits (that is gradual underflow). Finally, values above the format's max become
# ±inf; inf and NaN pass through.
#
# Write `round_to_format(x, exponent_bits, mantissa_bits)` returning float32. Use integer operations for the
# rounding (`x.view(np.uint32)`, shifts, masks); `np.ldexp` is fine for turning `kept` and its exponent back into a
# float, since that step is exact. Watch for numpy's unsigned arithmetic: converting the bits to `np.int64` first
# avoids surprises. Both checks compare your bits with the package's `quantize`. The first runs on eight (E, M) pairs,
# fp16 (5, 10), bf16 (8, 7) and E = 2 .. 8, M = 0 .. 10 among them, and covers the normal range, exact ties between
# normal values and overflow (including the tie halfway above max, which goes to inf), plus bf16 against `ml_dtypes`
# when it is installed. The second (**optional**, 2 points) runs on five of those pairs and covers the subnormal
# range (down to values that round to zero), exact ties there, signed zeros, ±inf and NaN.


# %%
def round_to_format(x: np.ndarray, exponent_bits: int, mantissa_bits: int) -> np.ndarray:
    """Round float32 ``x`` to the IEEE-style format (E, M): nearest, ties to even, with subnormals and overflow to inf.

    Args:
        x: float32 array (any shape).
        exponent_bits: E, 2..8.
        mantissa_bits: M, 0..23.

    Returns:
        float32 array of the same shape holding values of the format (as float32).
    """
    ### BEGIN SOLUTION
    x = np.ascontiguousarray(x, dtype=np.float32)
    mag = x.view(np.uint32).astype(np.int64) & 0x7FFFFFFF  # int64: room for the carry, no unsigned wrap-around
    bias = 2 ** (exponent_bits - 1) - 1
    emin = 1 - bias
    field = mag >> 23
    e = np.maximum(field, 1) - 127  # float32 subnormals have exponent -126 and no implicit bit
    below = np.clip(emin - e, 0, 3 + mantissa_bits)  # extra bits to drop under the target's smallest normal
    drop = 23 - mantissa_bits + below
    half = np.left_shift(1, np.maximum(drop - 1, 0))
    # Normal range: round the float32 bit pattern itself. Its lowest kept bit decides ties (for M = 0 that is the
    # exponent's last bit), and a carry out of the mantissa runs into the exponent field: the next binade.
    lsb = np.right_shift(mag, drop) & 1
    bits = np.left_shift(np.right_shift(mag + np.where(drop > 0, half - 1 + lsb, 0), drop), drop)
    normal = bits.astype(np.uint32).view(np.float32).astype(np.float64)
    # Subnormal range: round the 24-bit significand (implicit 1 included) at the coarser subnormal spacing.
    significand = (mag & 0x7FFFFF) | np.where(field > 0, 1 << 23, 0)
    lsb_sub = np.right_shift(significand, drop) & 1
    kept = np.right_shift(significand + half - 1 + lsb_sub, drop)
    subnormal = np.ldexp(kept.astype(np.float64), e - 23 + drop)  # exact: kept has at most M + 1 bits
    magnitude = np.where(below > 0, subnormal, normal)
    max_value = (2.0 - 2.0**-mantissa_bits) * 2.0**bias
    magnitude = np.where(magnitude > max_value, np.inf, magnitude)
    magnitude = np.where(field == 255, np.abs(x.astype(np.float64)), magnitude)  # inf and NaN pass through
    return np.copysign(magnitude, x).astype(np.float32)
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def round_oracle(x: np.ndarray, exponent_bits: int, mantissa_bits: int) -> np.ndarray:
    """The package's rounding of float32 ``x`` to the format (E, M)."""
    return quantize(x, custom_format(exponent_bits, mantissa_bits))


def test_round_normal_range(answers) -> None:
    rng = np.random.default_rng(1)
    for e_bits, m_bits in [(5, 10), (8, 7), (4, 3), (5, 2), (3, 4), (6, 9), (2, 5), (8, 0)]:
        fmt = custom_format(e_bits, m_bits)
        # magnitudes across the normal range and past max (overflow), both signs
        lo, hi = math.log2(fmt.smallest_normal), min(math.log2(fmt.max) + 2, 127.9)
        x = (np.exp2(rng.uniform(lo, hi, 5000)) * rng.choice([-1.0, 1.0], 5000)).astype(np.float32)
        # exact ties in the normal range: midpoints of neighbouring normal values
        grid = representable_values(fmt) if fmt.bits <= 16 else np.array([1.0, 1.0 + 2.0**-m_bits])
        grid = grid[grid >= fmt.smallest_normal]
        ties = ((grid[:-1] + grid[1:]) / 2).astype(np.float32)
        ties = ties[ties.astype(np.float64) == (grid[:-1] + grid[1:]) / 2]
        ties = rng.choice(ties, size=min(5000, ties.size), replace=False)
        top_tie = np.float32(fmt.max + (fmt.max - grid[-2]) / 2)  # halfway to the next binade: overflows to inf
        x = np.concatenate([x, ties, -ties, [top_tie, np.float32(fmt.max), np.float32(1.0)]]).astype(np.float32)
        answers.round_to_format(x, e_bits, m_bits)  # bit for bit, float32
    if ml_dtypes is not None:  # a second, outside oracle
        x = rng.standard_normal(2000).astype(np.float32) * 100
        expected = x.astype(ml_dtypes.bfloat16).astype(np.float32)
        assert np.array_equal(answers.round_to_format(x, 8, 7), expected), "bf16 differs from ml_dtypes"


check(
    "formats.round_to_format.normal",
    test_round_normal_range,
    points=3,
    hint="round the bits with ((b + half - 1 + lsb) >> drop) << drop; values above max become inf",
    oracles={"round_to_format": round_oracle},
)


# %%
# NBVAL_CHECK_OUTPUT
def test_round_subnormals_and_specials(answers) -> None:
    rng = np.random.default_rng(2)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan], dtype=np.float32)
    for e_bits, m_bits in [(5, 10), (8, 7), (4, 3), (5, 2), (3, 4)]:
        fmt = custom_format(e_bits, m_bits)
        lo, hi = math.log2(fmt.smallest_subnormal) - 3, math.log2(fmt.smallest_normal) + 1
        x = (np.exp2(rng.uniform(max(lo, -149), hi, 5000)) * rng.choice([-1.0, 1.0], 5000)).astype(np.float32)
        grid = representable_values(fmt)
        grid = grid[(grid >= 0) & (grid <= 2 * fmt.smallest_normal)]
        ties = ((grid[:-1] + grid[1:]) / 2).astype(np.float32)  # includes half the smallest subnormal
        x = np.concatenate([x, ties, -ties, specials]).astype(np.float32)
        answers.round_to_format(x, e_bits, m_bits)  # bit for bit: signed zeros, inf and NaN included


check(
    "formats.round_to_format.subnormals",
    test_round_subnormals_and_specials,
    points=2,
    hint="optional: below 2**emin drop (emin - e) extra bits; keep the sign of zeros; let inf and NaN through",
    oracles={"round_to_format": round_oracle},
)

# %% [markdown]
# ## Task 2 · Derive the limits of a format
#
# For the IEEE-style format (E, M), write `derive_finfo(exponent_bits, mantissa_bits)` returning a dict with
#
# - `"max"`: the largest finite value (top usable exponent field, all-ones mantissa),
# - `"smallest_normal"`: $2^{e_{\min}}$,
# - `"smallest_subnormal"`: the spacing of the subnormal grid,
# - `"eps"`: the gap between 1 and the next larger value.
#
# Use only arithmetic on E and M (no calls into the format package): the check compares your dict with `finfo` of
# the same format, and with `ml_dtypes.finfo` for fp16, bf16, E5M2 and E3M4 when ml_dtypes is installed.


# %%
def derive_finfo(exponent_bits: int, mantissa_bits: int) -> dict[str, float]:
    """Limits of the IEEE-style format with ``exponent_bits`` E and ``mantissa_bits`` M.

    Returns:
        ``{"max", "smallest_normal", "smallest_subnormal", "eps"}`` as floats.
    """
    ### BEGIN SOLUTION
    bias = 2 ** (exponent_bits - 1) - 1
    emin, emax = 1 - bias, (2**exponent_bits - 2) - bias  # the all-ones field is reserved for inf/NaN
    return {
        "max": (2.0 - 2.0**-mantissa_bits) * 2.0**emax,
        "smallest_normal": 2.0**emin,
        "smallest_subnormal": 2.0 ** (emin - mantissa_bits),
        "eps": 2.0**-mantissa_bits,
    }
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
FINFO_KEYS = ("max", "smallest_normal", "smallest_subnormal", "eps")


def finfo_oracle(exponent_bits: int, mantissa_bits: int) -> dict[str, float]:
    """The package's limits of the format (E, M)."""
    fi = finfo(custom_format(exponent_bits, mantissa_bits))
    return {key: float(getattr(fi, key)) for key in FINFO_KEYS}


def test_derive_finfo(answers) -> None:
    for e_bits in range(2, 9):
        for m_bits in range(0, 11):
            answers.derive_finfo(e_bits, m_bits)
    if ml_dtypes is not None:  # a second, outside oracle
        outside = {(5, 10): np.float16, (8, 7): ml_dtypes.bfloat16, (5, 2): ml_dtypes.float8_e5m2}
        outside[(3, 4)] = ml_dtypes.float8_e3m4
        for (e_bits, m_bits), dtype in outside.items():
            theirs = np.finfo(dtype) if dtype is np.float16 else ml_dtypes.finfo(dtype)
            got = answers.derive_finfo(e_bits, m_bits)
            for key in FINFO_KEYS:
                assert float(got[key]) == float(getattr(theirs, key)), f"{dtype.__name__} {key}"


check(
    "formats.derive_finfo",
    test_derive_finfo,
    points=3,
    hint="bias = 2**(E-1) - 1; the top exponent field is reserved, so emax = 2**E - 2 - bias; eps = 2**-M",
    oracles={"derive_finfo": finfo_oracle},
)

# %% [markdown]
# Your formula gives 240 for (4, 3), yet the FP8 format everyone calls E4M3 reaches 448. The difference is the
# special-value policy, computed here from the package's specs: e4m3fn gives up infinities and keeps a single NaN
# code, so the top binade holds ordinary values.

# %%
try:
    print(f"IEEE-style (4, 3) max from your derive_finfo: {derive_finfo(4, 3)['max']:g}")
except NotImplementedError:
    print("(finish derive_finfo above to see its value here)")
print(f"e4m3fn max (finfo)                         : {finfo('e4m3fn').max:g}")

# %% [markdown]
# ## Task 3 · Where does a sum stall?
#
# Start from 0 and add 1.0 again and again, rounding the running sum to the format after each addition (the
# package's `accumulate(values, fmt)` returns exactly these running sums). Write
#
# - `stall_value(fmt_name)`: the value at which adding 1.0 no longer changes the sum (compute it; don't use
#   `stall_point` or a formula);
# - `stall_ulp(fmt_name)`: the gap between the stall value and the next representable value above it (hint:
#   for a positive value the next value up has the next bit code: `encode`, `+ 1`, `decode`).
#
# The checks run on fp16, bf16, e4m3fn and e5m2: the stall value is compared with $2^{M+1}$ for the format's M and
# with the package's `stall_point`, and $N + 1$ must round back to $N$ in the format; the gap is compared with the
# package's `ulp` at $N$ and with 2.
# Think about why the gap is exactly 2 (twice the addend) at the stall: where does $N + 1$ fall, and which way do
# ties round?


# %%
def stall_value(fmt_name: str) -> float:
    """The running sum at which adding 1.0 (rounded to ``fmt_name`` after every step) stops changing it."""
    ### BEGIN SOLUTION
    n = 8
    while True:
        sums = accumulate(np.ones(n), fmt_name)
        if sums[-1] == sums[-2]:
            return float(sums[-1])
        n *= 2
    ### END SOLUTION


def stall_ulp(fmt_name: str) -> float:
    """Gap between ``stall_value(fmt_name)`` and the next representable value above it."""
    ### BEGIN SOLUTION
    s = stall_value(fmt_name)
    code = encode(np.array([s], dtype=np.float32), fmt_name)
    return float(decode(code + 1, fmt_name)[0]) - s
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def test_stall_value(answers) -> None:
    for name in ("fp16", "bf16", "e4m3fn", "e5m2"):
        m_bits = get_format(name).mantissa_bits
        got = answers.stall_value(name)  # equals the package's stall_point
        assert got == 2.0 ** (m_bits + 1), f"{name}: got {got}, expected 2**(M+1) = {2.0 ** (m_bits + 1)}"
        assert float(quantize(np.array([got + 1.0]), name)[0]) == got, f"{name}: {got} + 1 does not round back"


check(
    "formats.stall_value",
    test_stall_value,
    points=2,
    hint="loop: add 1.0, round to the format, stop when the sum no longer changes (accumulate does the rounding)",
    oracles={"stall_value": stall_point},
)


# %%
# NBVAL_CHECK_OUTPUT
def ulp_at_stall(fmt_name: str) -> float:
    """The package's ulp of the format at its stall point."""
    return float(ulp(np.array([stall_point(fmt_name)]), fmt_name)[0])


def test_stall_ulp(answers) -> None:
    for name in ("fp16", "bf16", "e4m3fn", "e5m2"):
        got = answers.stall_ulp(name)  # equals the format's ulp at the stall
        assert got == 2 * 1.0, f"{name}: at the stall the gap should be twice the addend 1.0, got {got}"


check(
    "formats.stall_ulp",
    test_stall_ulp,
    points=1,
    hint="the next value above a positive value has the next bit code: decode(encode(s) + 1) - s",
    oracles={"stall_ulp": ulp_at_stall},
)

# %% [markdown]
# **Why 2?** At $N = 2^{M+1}$ the significand has no bits left below the units place: neighbours are $N$ and $N+2$.
# $N + 1$ is exactly halfway, and ties go to the even significand, which is $N$. Below $N$ the gap is at most 1, so
# every +1 lands on a representable value. That is the whole story of "sums stall in low precision": the sum stops
# growing once the addend is at most half the gap at the current value.
