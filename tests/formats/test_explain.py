"""bit_fields, explain and format_table against outside oracles: ml_dtypes bit patterns, numpy spacing and finfo."""

from __future__ import annotations

import math

import numpy as np
import pytest

from odyssey_lessons.formats import FORMATS, custom_format, decode_table, encode, finfo, quantize, ulp
from odyssey_lessons.formats._explain import (
    BitFields,
    FormatReadout,
    bit_fields,
    explain,
    format_table,
    storage_bytes,
)
from tests.oracles import ORACLE as ALL_ORACLES
from tests.oracles import ml_dtypes

ORACLE = {name: dtype for name, dtype in ALL_ORACLES.items() if name != "fp32"}  # the <= 16-bit formats


def _sample(rng: np.random.Generator, name: str, n: int = 300) -> np.ndarray:
    """float32 values spanning the format's whole range (subnormal to beyond max), both signs, plus 0 and 1."""
    f = FORMATS[name]
    lo, hi = math.log2(f.smallest_subnormal) - 2, min(math.log2(f.max) + 1, 127.9)  # stay inside float32
    x = np.exp2(rng.uniform(lo, hi, n)) * rng.choice([-1.0, 1.0], n)
    return np.concatenate([x, [0.0, 1.0, f.max, f.smallest_normal]]).astype(np.float32)


def _oracle_bits(x: np.float32, name: str) -> str:
    """The bit pattern ml_dtypes (or numpy, for fp16) writes for ``x``, as a binary string of the format's width."""
    with np.errstate(over="ignore"):  # numpy warns when float16 overflows to inf, which is the oracle's answer
        arr = np.array([x], dtype=np.float32).astype(ORACLE[name])
    code = int(arr.view(np.uint8 if arr.itemsize == 1 else np.uint16)[0])
    return format(code, f"0{FORMATS[name].bits}b")


# ----- bit fields ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ORACLE))
def test_bit_fields_match_ml_dtypes_bits(name, rng):
    for x in _sample(rng, name):
        fields = bit_fields(float(x), name)
        r = float(quantize(np.array([x]), name)[0])
        if math.isnan(r):  # ml_dtypes writes one NaN code per sign; encode writes the canonical one too
            assert int(fields.bits, 2) & ~(1 << (FORMATS[name].bits - 1)) == FORMATS[name].nan_code & ~(
                1 << (FORMATS[name].bits - 1)
            )
            continue
        assert fields.bits == _oracle_bits(x, name), (name, x)


@pytest.mark.parametrize("name", sorted(ORACLE))
def test_field_widths_follow_the_spec(name):
    f = FORMATS[name]
    fields = bit_fields(1.0, name)
    assert (len(fields.sign), len(fields.exponent), len(fields.mantissa)) == (
        int(f.signed),
        f.exponent_bits,
        f.mantissa_bits,
    )
    assert str(fields).replace(" ", "") == fields.bits


def test_fp32_bit_fields_are_the_float32_bit_pattern(rng):
    for x in _sample(rng, "fp16", 200) * np.float32(1e3):
        expected = format(int(np.array([x], np.float32).view(np.uint32)[0]), "032b")
        fields = bit_fields(float(x), "fp32")
        assert fields.bits == expected
        assert (len(fields.sign), len(fields.exponent), len(fields.mantissa)) == (1, 8, 23)


def test_tf32_bit_fields_are_the_top_19_bits_of_the_rounded_float32(rng):
    x = _sample(rng, "bf16", 300)
    r = quantize(x, "tf32")
    for xi, ri in zip(x, r, strict=True):
        f32 = int(np.array([ri], np.float32).view(np.uint32)[0])
        assert f32 & 0x1FFF == 0  # tf32 keeps 10 of float32's 23 mantissa bits
        assert bit_fields(float(xi), "tf32").bits == format(f32 >> 13, "019b")


def test_fp32_codes_are_the_float32_bit_patterns(rng):
    x = np.concatenate([rng.standard_normal(500) * 1e3, [0.0, -0.0, np.inf, -np.inf, 1e-45, 3.4e38]]).astype(np.float32)
    np.testing.assert_array_equal(encode(x, "fp32"), x.view(np.uint32))


def test_wide_custom_format_bits_decode_back_to_the_rounded_value(rng):
    f = custom_format(6, 17)  # 24 bits, not a float32 prefix: encoded from the spec by encode()
    for x in _sample(rng, "fp16", 200):
        state = explain(float(x), f)
        b = state.bits
        if state.kind in ("inf", "overflow->inf"):
            assert b.exponent == "1" * 6 and int(b.mantissa, 2) == 0
            continue
        field, mant = int(b.exponent, 2), int(b.mantissa, 2)
        mag = math.ldexp(mant / 2**17, f.min_exponent) if field == 0 else math.ldexp(1 + mant / 2**17, field - f.bias)
        assert (-mag if b.sign == "1" else mag) == state.rounded


# ----- explain ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(FORMATS))
def test_explain_matches_quantize_and_reports_consistent_errors(name, rng):
    for x in _sample(rng, name, 100):
        state = explain(float(x), name)
        assert isinstance(state, FormatReadout) and isinstance(state.bits, BitFields)
        r = float(quantize(np.array([x], np.float64), name)[0])
        assert state.rounded == r or (math.isnan(r) and math.isnan(state.rounded))
        assert state.code == int(state.bits.bits, 2)
        if math.isfinite(r):
            assert state.abs_error == abs(r - float(x))
            if x != 0:
                assert state.rel_error == pytest.approx(abs(r - float(x)) / abs(float(x)), rel=1e-12)
        assert state.ulp == float(ulp(np.array([x]), name)[0])
        fi = finfo(name)
        assert (state.max, state.smallest_normal, state.smallest_subnormal) == (
            fi.max,
            fi.smallest_normal,
            fi.smallest_subnormal,
        )


@pytest.mark.parametrize("name, numpy_type", [("fp16", np.float16), ("fp32", np.float32)])
def test_ulp_equals_numpy_spacing(name, numpy_type, rng):
    x = np.exp2(rng.uniform(-30, 15, 500)).astype(numpy_type)
    for xi in x[(x > 0) & np.isfinite(x)]:
        assert explain(float(xi), name).ulp == float(np.spacing(xi)), xi


def _expected_kind(x: float, r: float, name: str) -> str:
    fi = finfo(name)
    if math.isfinite(x) and x != 0 and not math.isfinite(r) and abs(x) > fi.max:
        return "overflow->inf" if math.isinf(r) else "overflow->nan"
    if math.isnan(r):
        return "nan"
    if math.isinf(r):
        return "inf"
    if r == 0:
        return "zero" if x == 0 else "underflow->zero"
    return "subnormal" if abs(r) < fi.smallest_normal else "normal"


@pytest.mark.parametrize("name", ["fp16", "bf16", "e4m3fn", "e5m2", "e5m2fnuz", "e3m4"])
def test_kind_classifies_results_like_the_oracle(name, rng):
    for x in _sample(rng, name, 300):
        with np.errstate(over="ignore"):
            r = float(np.array([x], np.float32).astype(ORACLE[name]).astype(np.float64)[0])
        assert explain(float(x), name).kind == _expected_kind(float(x), r, name), (name, x, r)


def test_overflow_and_saturation_cases_against_ml_dtypes():
    e4 = ml_dtypes.float8_e4m3fn
    assert math.isnan(float(np.float32(465).astype(e4)))
    assert explain(465.0, "e4m3fn").kind == "overflow->nan" and math.isnan(explain(465.0, "e4m3fn").rounded)
    assert explain(464.0, "e4m3fn").rounded == float(np.float32(464).astype(e4))  # tie to even, not an overflow
    assert explain(464.0, "e4m3fn").kind == "normal"
    sat = explain(465.0, "e4m3fn", saturate=True)
    assert sat.rounded == finfo("e4m3fn").max and sat.kind == "overflow->max"
    e5 = explain(1e6, "e5m2")
    assert e5.rounded == float(np.float32(1e6).astype(ml_dtypes.float8_e5m2)) == math.inf
    assert e5.kind == "overflow->inf" and e5.rel_error == math.inf
    # IEEE: round-toward-zero overflow gives max, and is still an overflow
    tz = explain(70000.0, "fp16", rounding="toward_zero")
    assert tz.rounded == float(np.finfo(np.float16).max) and tz.kind == "overflow->max"
    # FP4 has neither inf nor NaN: it saturates by default
    fp4 = explain(100.0, "e2m1fn")
    assert fp4.rounded == float(np.float32(100).astype(ml_dtypes.float4_e2m1fn)) and fp4.kind == "overflow->max"


def test_underflow_subnormal_and_signed_zero():
    tiny = explain(1e-8, "fp16")
    assert tiny.rounded == float(np.float16(1e-8)) == 0.0 and tiny.kind == "underflow->zero"
    assert tiny.rel_error == 1.0
    sub = explain(1e-6, "fp16")
    assert sub.rounded == float(np.float16(1e-6)) and sub.kind == "subnormal"
    assert sub.bits.exponent == "00000"
    neg = explain(-0.0, "fp16")
    assert (
        neg.kind == "zero" and neg.bits.sign == "1" and neg.code == int(np.array([-0.0], np.float16).view(np.uint16)[0])
    )


def test_stochastic_explain_returns_a_neighbour():
    lo = float(quantize(np.array([0.1]), "e4m3fn", rounding="toward_zero")[0])
    grid = decode_table(FORMATS["e4m3fn"]).astype(np.float64)
    hi = float(np.min(grid[np.isfinite(grid) & (grid > lo)]))
    seen = {explain(0.1, "e4m3fn", rounding="stochastic", seed=s).rounded for s in range(40)}
    assert seen == {lo, hi}


def test_explain_rejects_non_numbers_and_unknown_formats():
    with pytest.raises(TypeError, match="value"):
        explain("0.1", "fp16")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown format"):
        explain(0.1, "fp7")
    with pytest.raises(ValueError, match="rounding"):
        explain(0.1, "fp16", rounding="up")


# ----- format table -------------------------------------------------------------------------------------------------
def test_format_table_rows_agree_with_ml_dtypes_finfo():
    rows = {row["name"]: row for row in format_table()}
    assert list(rows) == list(FORMATS)
    for name, dtype in ORACLE.items():
        theirs = np.finfo(dtype) if dtype is np.float16 else ml_dtypes.finfo(dtype)
        row = rows[name]
        assert row["max"] == float(theirs.max)
        assert row["smallest_normal"] == float(theirs.smallest_normal)
        assert row["eps"] == float(theirs.eps)
        assert row["bits"] == theirs.bits
        if name != "e8m0fnu":
            assert row["smallest_subnormal"] == float(theirs.smallest_subnormal)
        if theirs.bits >= 8:
            assert row["bytes_per_value"] == np.dtype(dtype).itemsize
    assert rows["e8m0fnu"]["smallest_subnormal"] is None
    assert rows["fp32"]["max"] == float(np.finfo(np.float32).max)
    assert rows["fp32"]["bytes_per_value"] == np.dtype(np.float32).itemsize
    assert rows["tf32"]["bytes_per_value"] == np.dtype(np.float32).itemsize  # tf32 lives in float32 storage


def test_format_table_derived_columns():
    for row in format_table():
        f = FORMATS[row["name"]]
        assert row["decimal_digits"] == pytest.approx((f.mantissa_bits + 1) * math.log10(2))
        assert row["binades"] == pytest.approx(math.log2(f.max / f.smallest_subnormal))
        assert row["bytes_per_value"] == storage_bytes(f)
    assert [r["name"] for r in format_table(("fp16", "bf16"))] == ["fp16", "bf16"]
