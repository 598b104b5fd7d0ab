"""Rounding modes, lesson helpers, input validation and the numba cache location."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

import odyssey_lessons
from odyssey_lessons import _numba_cache
from odyssey_lessons.formats import (
    FORMATS,
    FloatFormat,
    accumulate,
    custom_format,
    decode,
    finfo,
    get_format,
    matmul,
    quantize,
    representable_values,
    rounder,
    stall_point,
    ulp,
)
from tests.oracles import require
from tests.reference import neighbours, round_reference

ml_dtypes = require("ml_dtypes")


# ----- stochastic rounding ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["bf16", "fp16", "e4m3fn", "e5m2", "e2m1fn", "tf32", "e8m0fnu"])
def test_stochastic_rounding_is_unbiased_and_picks_neighbours_with_right_probability(name, rng):
    from fractions import Fraction

    fmt = FORMATS[name]
    n = 200_000
    for x in rng.uniform(math.log2(fmt.smallest_subnormal), math.log2(fmt.max) - 1, 4):
        x = float(np.float32(2.0**x))
        lo, hi = (float(v) for v in neighbours(Fraction(x), fmt))
        r = quantize(np.full(n, x, np.float32), name, rounding="stochastic", seed=7).astype(np.float64)
        assert set(np.unique(r)) <= {lo, hi}
        p_up = (x - lo) / (hi - lo)
        sigma = math.sqrt(p_up * (1 - p_up) / n)
        assert abs(np.mean(r == hi) - p_up) <= 6 * sigma + 1e-12
        assert abs(r.mean() - x) <= 6 * sigma * (hi - lo) + 1e-12


def test_stochastic_rounding_is_reproducible_and_seed_dependent():
    x = np.linspace(0.1, 1.0, 1000, dtype=np.float32)
    a = quantize(x, "e4m3fn", rounding="stochastic", seed=1)
    np.testing.assert_array_equal(a, quantize(x, "e4m3fn", rounding="stochastic", seed=1))
    assert not np.array_equal(a, quantize(x, "e4m3fn", rounding="stochastic", seed=2))


def test_stochastic_rounding_of_representable_values_is_exact():
    values = representable_values("e5m2").astype(np.float32)
    np.testing.assert_array_equal(quantize(values, "e5m2", rounding="stochastic", seed=3), values)


def test_toward_zero_never_grows_magnitude(rng):
    x = rng.normal(size=10_000).astype(np.float32) * 100
    q = quantize(x, "e4m3fn", rounding="toward_zero")
    assert np.all(np.abs(q) <= np.abs(x))
    assert np.all(np.abs(quantize(np.array([1e6], np.float32), "fp16", rounding="toward_zero")) == 65504)


# ----- shapes, dtypes, validation -----------------------------------------------------------------------------------
def test_quantize_keeps_shape_and_accepts_non_contiguous_and_float16(rng):
    x = rng.normal(size=(6, 5, 4)).astype(np.float32)
    view = x[:, ::2, :].transpose(2, 0, 1)
    q = quantize(view, "bf16")
    assert q.shape == view.shape and q.dtype == np.float32
    np.testing.assert_array_equal(q, view.astype(ml_dtypes.bfloat16).astype(np.float32))
    h = x.astype(np.float16)
    np.testing.assert_array_equal(quantize(h, "fp16"), h.astype(np.float32))
    assert quantize(np.float32(0.1), "bf16").shape == ()


def test_unknown_format_lists_known_ones():
    with pytest.raises(ValueError, match="e4m3fn") as info:
        quantize(np.ones(2, np.float32), "fp7")
    assert "fp7" in str(info.value)
    with pytest.raises(TypeError, match="fmt"):
        get_format(8)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"exponent_bits": 0, "mantissa_bits": 3}, "exponent_bits"),
        ({"exponent_bits": 9, "mantissa_bits": 3}, "exponent_bits"),
        ({"exponent_bits": 4, "mantissa_bits": 24}, "mantissa_bits"),
        ({"exponent_bits": 4, "mantissa_bits": -1}, "mantissa_bits"),
        ({"exponent_bits": 8, "mantissa_bits": 3, "special": "fnuz", "bias": 100}, "float32"),
        ({"exponent_bits": 8, "mantissa_bits": 3, "special": "finite"}, "float32"),
        ({"exponent_bits": 4, "mantissa_bits": 3, "special": "weird"}, "special"),
    ],
)
def test_bad_format_specs_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FloatFormat("bad", **kwargs)


def test_bad_arguments_raise_clear_errors():
    x = np.ones(3, np.float32)
    with pytest.raises(ValueError, match="rounding"):
        quantize(x, "bf16", rounding="up")
    with pytest.raises(TypeError, match="dtype int64"):
        quantize(np.arange(3), "bf16")
    with pytest.raises(TypeError, match="saturate"):
        quantize(x, "bf16", saturate="yes")
    with pytest.raises(ValueError, match="seed"):
        quantize(x, "bf16", rounding="stochastic", seed=-1)
    with pytest.raises(ValueError, match="at most 16 bits"):
        decode(np.array([0]), "fp32")
    with pytest.raises(ValueError, match="0..255"):
        decode(np.array([256]), "e4m3fn")
    with pytest.raises(TypeError, match="integer"):
        decode(np.array([1.0]), "e4m3fn")
    with pytest.raises(ValueError, match="inner dimensions"):
        matmul(np.ones((2, 3), np.float32), np.ones((2, 3), np.float32))


# ----- helpers used by lesson 1 -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["fp16", "bf16", "e4m3fn", "e5m2", "tf32", "e5m2fnuz"])
def test_stall_point_is_where_adding_one_stops(name):
    fmt = FORMATS[name]
    n = stall_point(name)
    assert n == 2.0 ** (fmt.mantissa_bits + 1)
    assert round_reference(n + 1, fmt) == n and round_reference(n / 2 + 1, fmt) != n / 2


def test_stall_point_refuses_formats_that_never_stall_below_max():
    with pytest.raises(ValueError, match="e3m4"):
        stall_point("e3m4")  # max 15.5 < 2**5


def test_stall_point_matches_ml_dtypes_arithmetic():
    for name, dtype in [("fp16", np.float16), ("bf16", ml_dtypes.bfloat16), ("e4m3fn", ml_dtypes.float8_e4m3fn)]:
        n = dtype(stall_point(name))
        assert dtype(n + dtype(1)) == n


def test_accumulate_matches_stepwise_ml_dtypes_rounding(rng):
    x = rng.uniform(0, 1, 3000).astype(np.float32)
    s, expected = ml_dtypes.bfloat16(0), []
    for v in x.astype(ml_dtypes.bfloat16):
        s = ml_dtypes.bfloat16(np.float32(s) + np.float32(v))
        expected.append(np.float32(s))
    np.testing.assert_array_equal(accumulate(x, "bf16"), np.array(expected, np.float32))


def test_matmul_with_narrow_accumulator_matches_stepwise_reference(rng):
    a = rng.normal(size=(4, 300)).astype(np.float32)
    b = rng.normal(size=(300, 3)).astype(np.float32)
    out = matmul(a, b, input_format="bf16", accumulator_format="bf16")
    qa, qb = quantize(a, "bf16").astype(np.float64), quantize(b, "bf16").astype(np.float64)
    ref = np.empty((4, 3))
    for i in range(4):
        for j in range(3):
            s = 0.0
            for k in range(300):
                s = round_reference(s + qa[i, k] * qb[k, j], FORMATS["bf16"])
            ref[i, j] = s
    np.testing.assert_array_equal(out, ref.astype(np.float32))
    full = matmul(a, b)  # fp32 inputs and accumulator: close to BLAS
    np.testing.assert_allclose(full, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["fp16", "fp32"])
def test_ulp_matches_numpy_spacing(name, rng):
    dtype = {"fp16": np.float16, "fp32": np.float32}[name]
    x = np.minimum(rng.lognormal(0, 6, 2000), np.finfo(dtype).max).astype(dtype)
    x = x[np.isfinite(x) & (x != 0) & (x < np.finfo(dtype).max)]
    np.testing.assert_array_equal(ulp(x, name), np.spacing(x).astype(np.float64))  # spacing upward from x > 0
    np.testing.assert_array_equal(ulp(-x, name), ulp(x, name))


def test_representable_values_count_finite_codes():
    # FACTS: e4m3fn has 253 finite values counting +0 and -0 separately; representable_values merges the zeros.
    for name in ["e4m3fn", "e5m2", "fp16", "bf16", "e2m1fn"]:
        codes = np.arange(2 ** FORMATS[name].bits, dtype=np.uint32)
        n_finite_codes = np.isfinite(decode(codes, name)).sum()
        assert representable_values(name).size == n_finite_codes - 1
    np.testing.assert_array_equal(representable_values("e2m1fn")[8:], [0.5, 1, 1.5, 2, 3, 4, 6])


def test_custom_format_finfo_is_derived_consistently():
    fmt = custom_format(5, 4)
    info = finfo(fmt)
    assert info.max == float(representable_values(fmt).max())
    assert info.smallest_subnormal == float(representable_values(fmt)[representable_values(fmt) > 0].min())
    assert quantize(np.array([1 + info.eps], np.float32), fmt)[0] == 1 + info.eps
    assert quantize(np.array([1 + info.eps / 4], np.float32), fmt)[0] == 1


# ----- numba cache location -----------------------------------------------------------------------------------------
def test_cache_goes_to_user_dir_when_package_dir_is_read_only(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(_numba_cache, "_writable", lambda directory: False)
    chosen = _numba_cache.configure_numba_cache()
    assert chosen == str(tmp_path / "xdg" / "odyssey_lessons" / "numba")
    assert os.environ["NUMBA_CACHE_DIR"] == chosen and Path(chosen).is_dir()


def test_user_cache_dir_setting_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert _numba_cache.configure_numba_cache() == str(tmp_path)


def test_read_only_install_compiles_into_user_cache():
    """A read-only copy of the package, imported by an unprivileged user, caches its kernels in the user's cache dir.

    Root ignores permission bits, so when the tests run as root the import runs as ``nobody`` through ``setpriv``.
    """
    as_user: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: covered by the monkeypatched test above")
        as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    tmp_path = Path(tempfile.mkdtemp(prefix="odyssey-ro-"))
    tmp_path.chmod(0o755)
    site, home = tmp_path / "site", tmp_path / "home"
    site.mkdir()
    home.mkdir(mode=0o777)
    home.chmod(0o777)
    shutil.copytree(
        Path(odyssey_lessons.__file__).parent, site / "odyssey_lessons", ignore=shutil.ignore_patterns("__pycache__")
    )
    subprocess.run(["chmod", "-R", "a-w,a+rX", str(site)], check=True)
    env = {**os.environ, "PYTHONPATH": str(site), "XDG_CACHE_HOME": str(home / "cache"), "HOME": str(home)}
    env.pop("NUMBA_CACHE_DIR", None)
    code = textwrap.dedent(
        """
        import os, numpy as np, odyssey_lessons.formats as f
        f.quantize(np.ones(4, np.float32), "bf16")
        print(os.environ["NUMBA_CACHE_DIR"])
        """
    )
    try:
        out = subprocess.run([*as_user, sys.executable, "-c", code], env=env, capture_output=True, text=True)
        if out.returncode != 0 and as_user and "Permission denied" in out.stderr and "python" in out.stderr.lower():
            pytest.skip(f"the unprivileged user cannot run this interpreter: {out.stderr[-200:]}")
        assert out.returncode == 0, out.stderr
        cache = Path(out.stdout.strip())
        assert cache.is_relative_to(home)
        assert any(cache.rglob("*.nbi"))
        assert not any((site / "odyssey_lessons").rglob("*.nbi"))
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(site)], check=True)
        shutil.rmtree(tmp_path, ignore_errors=True)


def test_quantize_into_out_buffer(rng):
    x = rng.normal(size=(3, 4)).astype(np.float32)
    buf = np.empty_like(x)
    assert quantize(x, "e5m2", out=buf) is buf
    np.testing.assert_array_equal(buf, quantize(x, "e5m2"))
    with pytest.raises(ValueError, match="shape"):
        quantize(x, "e5m2", out=np.empty(12, np.float32))
    with pytest.raises(TypeError, match="float32"):
        quantize(x, "e5m2", out=np.empty((3, 4)))


@pytest.mark.parametrize("name", list(FORMATS))
@pytest.mark.parametrize("saturate", [False, True])
def test_rounder_equals_quantize(rng, name, saturate):
    r = rounder(name, saturate=saturate)
    x = (rng.standard_normal(3000) * 10.0 ** rng.uniform(-12, 12, 3000)).astype(np.float32)
    x[:4] = [np.inf, -np.inf, np.nan, 0.0]
    for arr in (x, x.reshape(60, 50)[:, ::2], x.astype(np.float64)):  # contiguous, strided, float64
        got, want = r(arr), quantize(arr, name, saturate=saturate)
        assert got.shape == want.shape and got.dtype == np.float32
        np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))


def test_rounder_rejects_bad_arguments_and_keeps_fp32():
    x = np.ones(3, np.float32)
    assert rounder("fp32")(x) is x
    with pytest.raises(ValueError, match="unknown format"):
        rounder("fp7")
    with pytest.raises(TypeError, match="saturate"):
        rounder("fp16", saturate=1)


def test_every_rounding_mode_has_a_float32_fast_kernel():
    from odyssey_lessons.formats._quantize import _FAST_KERNELS, ROUNDING_MODES

    assert _FAST_KERNELS.keys() == ROUNDING_MODES.keys()
