"""Loss scaling, clipping, gradient statistics and FP8 scaling, each against a direct re-implementation or ml_dtypes."""

import math

import ml_dtypes
import numpy as np
import pytest

from odyssey_lessons.formats import get_format
from odyssey_lessons.train import (
    DelayedScaling,
    GradScaler,
    LossScaler,
    NoScaler,
    StaticScaler,
    clip_grad_norm,
    current_scale,
    fake_quantize_scaled,
    gradient_stats,
    mx_block_dequantize,
    mx_block_quantize,
)

ML_DTYPES = {
    "fp16": np.float16,
    "bf16": ml_dtypes.bfloat16,
    "e4m3fn": ml_dtypes.float8_e4m3fn,
    "e5m2": ml_dtypes.float8_e5m2,
    "e2m1fn": ml_dtypes.float4_e2m1fn,
}


# ----- GradScaler -----------------------------------------------------------------------------------------------------
def amp_update_scale(scale, tracker, found_inf, growth, backoff, interval):
    """PyTorch's ``_amp_update_scale_`` as documented (aten/src/ATen/native/cuda/AmpKernels.cu), scale in float32."""
    if found_inf:
        return np.float32(scale * np.float32(backoff)), 0
    successful = tracker + 1
    if successful == interval:
        new_scale = np.float32(scale * np.float32(growth))
        return (new_scale if np.isfinite(new_scale) else scale), 0
    return scale, successful


@pytest.mark.parametrize(
    "infs",
    [
        [],
        [0],
        [0, 1, 2],
        [2, 3, 7],
        [5, 6, 9, 13, 14, 15, 16],
        list(range(0, 40, 4)),
    ],
)
@pytest.mark.parametrize("growth, backoff, interval", [(2.0, 0.5, 3), (4.0, 0.25, 1), (1.5, 0.9, 5)])
def test_grad_scaler_trace_matches_pytorch_update(infs, growth, backoff, interval):
    scaler = GradScaler(init_scale=1024.0, growth_factor=growth, backoff_factor=backoff, growth_interval=interval)
    scale, tracker = np.float32(1024.0), 0
    for step in range(40):
        found = step in infs
        scaler.update(found)
        scale, tracker = amp_update_scale(scale, tracker, found, growth, backoff, interval)
        state = scaler.state_dict()
        assert state["scale"] == float(scale) == scaler.get_scale()
        assert state["_growth_tracker"] == tracker


def test_grad_scaler_growth_stops_before_float32_overflow():
    scaler = GradScaler(init_scale=2.0**126, growth_interval=1)
    for _ in range(3):
        scaler.update(False)
    assert scaler.get_scale() == 2.0**127


def test_grad_scaler_scale_unscale_and_found_inf(rng):
    scaler = GradScaler(init_scale=2.0**10)
    assert isinstance(scaler, LossScaler)
    assert scaler.scale(0.75) == 0.75 * 1024
    g = rng.standard_normal(50).astype(np.float32)
    grads = {"w": g * np.float32(1024), "b": np.ones(3, np.float32) * 2048}
    assert scaler.unscale(grads) is False
    np.testing.assert_array_equal(grads["w"], g)
    np.testing.assert_array_equal(grads["b"], 2.0)
    for bad in (np.inf, -np.inf, np.nan):
        grads = {"w": np.ones(4, np.float32), "b": np.array([1.0, bad], np.float32)}
        assert scaler.unscale(grads) is True


def test_grad_scaler_disabled_and_state_round_trip():
    off = GradScaler(enabled=False)
    assert off.get_scale() == 1.0 and off.scale(3.0) == 3.0 and off.state_dict() == {}
    off.update(True)
    assert off.get_scale() == 1.0
    a = GradScaler(init_scale=8.0, growth_interval=3)
    a.update(False)
    b = GradScaler()
    b.load_state_dict(a.state_dict())
    assert b.state_dict() == a.state_dict()


def test_static_and_no_scaler():
    s = StaticScaler(256.0)
    assert isinstance(s, LossScaler) and isinstance(NoScaler(), LossScaler)
    grads = {"w": np.full(4, 512.0, np.float32)}
    assert s.scale(2.0) == 512.0 and s.unscale(grads) is False
    np.testing.assert_array_equal(grads["w"], 2.0)
    s.update(True)
    assert s.get_scale() == 256.0 and s.state_dict() == {"scale": 256.0}
    n = NoScaler()
    grads = {"w": np.array([3.0, np.nan], np.float32)}
    assert n.scale(2.5) == 2.5 and n.get_scale() == 1.0 and n.unscale(grads) is True
    assert grads["w"][0] == 3.0
    n.update(False)
    assert n.state_dict() == {}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"init_scale": 0.0},
        {"init_scale": -1.0},
        {"init_scale": math.inf},
        {"init_scale": math.nan},
        {"init_scale": 1e300},
        {"growth_factor": 1.0},
        {"backoff_factor": 1.0},
        {"backoff_factor": 0.0},
        {"growth_interval": 0},
    ],
)
def test_grad_scaler_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        GradScaler(**kwargs)


def test_scalers_reject_bad_types():
    with pytest.raises(TypeError, match="growth_interval"):
        GradScaler(growth_interval=2.5)
    with pytest.raises(TypeError, match="init_scale"):
        GradScaler(init_scale="big")
    with pytest.raises(ValueError, match="scale"):
        StaticScaler(0.0)
    with pytest.raises(TypeError, match="grads"):
        GradScaler().unscale([np.ones(3)])
    with pytest.raises(TypeError, match="floating"):
        GradScaler().unscale({"w": np.ones(3, dtype=np.int32)})
    with pytest.raises(TypeError, match="found_inf"):
        GradScaler().update(None)
    with pytest.raises(TypeError, match="loss"):
        GradScaler().scale("1.0")
    ro = np.ones(3, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        GradScaler().unscale({"w": ro})


# ----- clipping -------------------------------------------------------------------------------------------------------
def _grads(rng, scale=1.0):
    return {
        "w1": (rng.standard_normal((8, 5)) * scale).astype(np.float32),
        "b1": (rng.standard_normal(5) * scale).astype(np.float32),
        "w2": (rng.standard_normal((5, 3)) * scale).astype(np.float32),
    }


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, 0.5, math.inf])
def test_clip_grad_norm_matches_direct_computation(rng, norm_type):
    grads = _grads(rng, scale=3.0)
    flat = np.concatenate([g.astype(np.float64).ravel() for g in grads.values()])
    expected = np.max(np.abs(flat)) if math.isinf(norm_type) else np.sum(np.abs(flat) ** norm_type) ** (1 / norm_type)
    before = {k: g.copy() for k, g in grads.items()}
    max_norm = expected / 4
    total = clip_grad_norm(grads, max_norm, norm_type=norm_type)
    assert total == pytest.approx(expected, rel=1e-12)
    coef = max_norm / (expected + 1e-6)
    for k in grads:
        np.testing.assert_allclose(grads[k], before[k] * np.float32(coef), rtol=1e-6)
    after = np.concatenate([g.astype(np.float64).ravel() for g in grads.values()])
    after_norm = (
        np.max(np.abs(after)) if math.isinf(norm_type) else np.sum(np.abs(after) ** norm_type) ** (1 / norm_type)
    )
    assert after_norm == pytest.approx(max_norm, rel=1e-5)


def test_clip_grad_norm_is_a_no_op_below_max_norm(rng):
    grads = _grads(rng)
    before = {k: g.copy() for k, g in grads.items()}
    total = clip_grad_norm(grads, 1e6)
    for k in grads:
        np.testing.assert_array_equal(grads[k], before[k])
    assert total < 1e6


def test_clip_grad_norm_leaves_nonfinite_alone(rng):
    grads = _grads(rng)
    grads["b1"][0] = np.inf
    before = {k: g.copy() for k, g in grads.items()}
    assert clip_grad_norm(grads, 1.0) == math.inf
    for k in grads:
        np.testing.assert_array_equal(grads[k], before[k])
    grads["b1"][0] = np.nan
    assert math.isnan(clip_grad_norm(grads, 1.0))


def test_clipping_rejects_bad_arguments(rng):
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="max_norm"):
            clip_grad_norm(_grads(rng), bad)
    for bad in (0.0, -2.0, math.nan):
        with pytest.raises(ValueError, match="norm_type"):
            clip_grad_norm(_grads(rng), 1.0, norm_type=bad)
    with pytest.raises(TypeError, match="norm_type"):
        clip_grad_norm(_grads(rng), 1.0, norm_type="fro")


# ----- gradient statistics --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(ML_DTYPES))
def test_gradient_stats_matches_ml_dtypes_counts(rng, name):
    grads = {
        "a": (rng.standard_normal(2000) * 10.0 ** rng.uniform(-12, 8, 2000)).astype(np.float32),
        "b": (rng.standard_normal((30, 30)) * 10.0 ** rng.uniform(-10, 6, (30, 30))).astype(np.float32),
    }
    grads["a"][:50] = 0.0
    grads["b"][0, :3] = [np.inf, -np.inf, np.nan]
    flat = np.concatenate([g.ravel() for g in grads.values()])
    finite = np.isfinite(flat)
    live = finite & (flat != 0)
    f = get_format(name)
    with np.errstate(over="ignore"):
        rounded = flat.astype(ML_DTYPES[name]).astype(np.float32)
    lost = ~np.isfinite(rounded) | ((np.abs(flat) > f.max) if f.saturates else False)
    stats = gradient_stats(grads, name)
    assert stats.count == flat.size and stats.nonzero == np.count_nonzero(live) and stats.nonfinite == 3
    assert stats.underflow == np.count_nonzero(live & (rounded == 0))
    assert stats.overflow == np.count_nonzero(finite & lost)
    assert stats.underflow_fraction == stats.underflow / stats.nonzero
    assert math.isnan(stats.norm)


def test_gradient_stats_fp16_thresholds():
    g = np.array([2.0**-26, 2.0**-25, 1.01 * 2.0**-25, 2.0**-24, 1.0, 65519.0, 65520.0, 1e6, 0.0], np.float32)
    stats = gradient_stats(g, "fp16")
    with np.errstate(over="ignore"):
        g16 = g.astype(np.float16)
    below, above = np.count_nonzero((g != 0) & (g16 == 0)), np.count_nonzero(np.isinf(g16))
    assert (stats.underflow, stats.overflow) == (below, above) == (2, 2)
    assert stats.nonzero == 8 and stats.norm == pytest.approx(np.linalg.norm(g.astype(np.float64)))
    assert gradient_stats({"g": g}, "bf16").overflow == 0


def test_gradient_stats_rejects_bad_input():
    with pytest.raises(TypeError, match="grads"):
        gradient_stats([1.0, 2.0], "fp16")
    with pytest.raises(ValueError, match="unknown format"):
        gradient_stats(np.ones(3, np.float32), "fp7")


# ----- FP8 scaling ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["e4m3fn", "e5m2", "e2m1fn"])
def test_current_scale_maps_amax_to_format_max(rng, name):
    x = rng.standard_normal((16, 16)) * 1e-3
    f = get_format(name)
    s = current_scale(x, name)
    assert np.max(np.abs(x)) * s == pytest.approx(f.max, rel=1e-12)
    assert current_scale(x, name, margin=2) == pytest.approx(s / 4)
    y = fake_quantize_scaled(x, name, s)
    product = x.astype(np.float32) * np.float32(s)  # float32 arithmetic, as Transformer Engine's cast
    oracle = np.clip(product, -f.max, f.max).astype(ML_DTYPES[name]).astype(np.float32) * np.float32(1 / s)
    np.testing.assert_array_equal(y, oracle)
    assert current_scale(np.zeros(5), name) == 1.0


def test_fake_quantize_scaled_saturates_and_rejects_bad_scale():
    y = fake_quantize_scaled(np.array([1000.0, -1e9, 1.0]), "e4m3fn", 1.0)
    np.testing.assert_array_equal(y, [448.0, -448.0, 1.0])
    for bad in (0.0, -1.0, math.inf):
        with pytest.raises(ValueError, match="scale"):
            fake_quantize_scaled(np.ones(3), "e4m3fn", bad)
    with pytest.raises(ValueError, match="margin"):
        current_scale(np.ones(3), "e4m3fn", margin=-1)


def test_delayed_scaling_uses_history_max_and_drops_old_entries():
    ds = DelayedScaling("e4m3fn", history_len=3, margin=1)
    assert ds.scale() == 1.0  # first step: nothing recorded yet
    amaxes = [4.0, 1.0, 2.0, 0.5, 0.25, 8.0]
    for i, a in enumerate(amaxes):
        assert ds.update_amax(np.array([a / 2, -a], np.float32)) == a
        window = amaxes[max(0, i - 2) : i + 1]
        np.testing.assert_array_equal(ds.history, window)
        assert ds.scale() == 448.0 / max(window) / 2
    # a zero amax keeps the scale while the ring still holds larger values, then keeps the previous scale
    for _ in range(3):
        ds.update_amax(np.zeros(4))
    assert ds.scale() == 448.0 / 8.0 / 2
    with pytest.raises(ValueError, match="history_len"):
        DelayedScaling("e4m3fn", history_len=0)
    with pytest.raises(TypeError, match="margin"):
        DelayedScaling("e4m3fn", margin=0.5)


def mx_reference(x, name, block_size):
    """One block at a time along the last axis: shared exponent floor(log2 amax) - emax, elements via ml_dtypes."""
    f = get_format(name)
    rows = x.reshape(-1, x.shape[-1]).astype(np.float64)
    q = np.empty_like(rows)
    scales = np.empty((rows.shape[0], rows.shape[1] // block_size))
    for r in range(rows.shape[0]):
        for b in range(scales.shape[1]):
            block = rows[r, b * block_size : (b + 1) * block_size]
            amax = np.max(np.abs(block))
            scale = 2.0 ** (math.floor(math.log2(amax)) - f.max_exponent) if amax > 0 else 1.0
            scales[r, b] = scale
            clipped = np.clip(block / scale, -f.max, f.max)
            q[r, b * block_size : (b + 1) * block_size] = clipped.astype(ML_DTYPES[name]).astype(np.float64)
    return q.reshape(x.shape), scales.reshape(*x.shape[:-1], -1)


@pytest.mark.parametrize("name", ["e4m3fn", "e5m2", "e2m1fn"])
def test_mx_block_quantize_matches_reference_and_error_bound(rng, name):
    f = get_format(name)
    x = (rng.standard_normal((6, 128)) * 10.0 ** rng.uniform(-6, 4, (6, 1))).astype(np.float32)
    x[2, 32:64] = 0.0
    q, scales = mx_block_quantize(x, name)
    assert q.shape == x.shape and scales.shape == (6, 4)
    ref_q, ref_s = mx_reference(x, name, 32)
    np.testing.assert_array_equal(scales, ref_s)
    np.testing.assert_array_equal(q, ref_q)
    mant, _ = np.frexp(scales)
    assert np.all(mant == 0.5)  # powers of two
    assert np.all(np.abs(q) <= f.max)
    block_amax = np.abs(x).reshape(6, 4, 32).max(axis=-1)
    live = block_amax > 0
    assert np.all(block_amax[live] / scales[live] < 2.0 ** (f.max_exponent + 1))
    assert np.all(block_amax[live] / scales[live] >= 2.0**f.max_exponent)
    # error: half an ulp of the top binade, or the saturated part above max, times the block scale
    top = 2.0 ** (f.max_exponent + 1)
    bound = max(top * 2.0 ** -(f.mantissa_bits + 2), top - f.max) * np.repeat(scales, 32, axis=1)
    err = np.abs(mx_block_dequantize(q, scales).astype(np.float64) - x)
    assert np.all(err <= bound)


def test_mx_block_quantize_axis_and_specials(rng):
    x = rng.standard_normal((64, 3)).astype(np.float32)
    q0, s0 = mx_block_quantize(x, "e4m3fn", block_size=16, axis=0)
    qt, st = mx_block_quantize(np.ascontiguousarray(x.T), "e4m3fn", block_size=16)
    np.testing.assert_array_equal(q0, qt.T)
    np.testing.assert_array_equal(s0, st.T)
    np.testing.assert_array_equal(mx_block_dequantize(q0, s0, axis=0), mx_block_dequantize(qt, st).T)
    x = np.ones((2, 32), np.float32)
    x[1, 5] = np.inf
    _, s = mx_block_quantize(x, "e4m3fn")
    assert s[0, 0] == 2.0**-8 and np.isnan(s[1, 0])


def test_mx_block_quantize_rejects_bad_arguments():
    with pytest.raises(ValueError, match="block_size=32 must divide"):
        mx_block_quantize(np.ones((4, 48), np.float32), "e4m3fn")
    with pytest.raises(ValueError, match="block_size"):
        mx_block_quantize(np.ones(32, np.float32), "e4m3fn", block_size=0)
    with pytest.raises(ValueError, match="axis"):
        mx_block_quantize(np.ones(32, np.float32), "e4m3fn", axis=1)
    with pytest.raises(TypeError, match="floating"):
        mx_block_quantize(np.ones(32, np.int64), "e4m3fn")
