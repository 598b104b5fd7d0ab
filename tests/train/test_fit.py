"""The training loop ``fit``: reproducible, equal to a hand-written loop in fp32, rounding where its policy says,
scaling, unscaling, clipping and skipping as PyTorch's AMP does, and recording what it did."""

import math

import numpy as np
import pytest

from odyssey_lessons.data import batches, digits_task, make_classification_blobs
from odyssey_lessons.formats import custom_format, get_format, quantize
from odyssey_lessons.nn import Linear, ReLU, Sequential, mlp, softmax_cross_entropy
from odyssey_lessons.optim import sgd
from odyssey_lessons.train import (
    Caster,
    FitConfig,
    GradScaler,
    NoScaler,
    PrecisionPolicy,
    ProgressBar,
    StaticScaler,
    evaluate,
    fit,
    get_policy,
    gradient_stats,
    mx_block_dequantize,
    mx_block_quantize,
    mx_fake_quantize,
)
from odyssey_lessons.train._config import EPOCH_KEYS, STEP_KEYS
from odyssey_lessons.train._fit import backward, cast_weights, forward

N_TRAIN = 256


@pytest.fixture(scope="module")
def digits():
    """A small subset of the digits training split (fast enough to train many times)."""
    x, y = digits_task("mlp").train
    return x[:N_TRAIN], y[:N_TRAIN]


def small_mlp(seed: int) -> Sequential:
    """Linear(64, 32) - ReLU - Linear(32, 10), initialised from ``default_rng(seed)``."""
    return mlp((64, 32, 10), rng=np.random.default_rng(seed))


def init_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31))


def copy_params(model) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in model.params().items()}


def assert_params_equal(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def representable(x: np.ndarray, fmt) -> bool:
    """Every value of ``x`` is a value of ``fmt`` (rounding to it changes nothing)."""
    return bool(np.array_equal(quantize(x, fmt), x))


# ----- 1. reproducibility ---------------------------------------------------------------------------------------------
def test_same_seed_reproduces_history_and_params_and_another_seed_changes_the_batches(digits, rng):
    seed = init_seed(rng)

    def run(batch_seed: int):
        model = small_mlp(seed)
        history = fit(model, digits, optimizer=sgd(0.05), epochs=2, batch_size=32, seed=batch_seed)
        return history, copy_params(model)

    h1, p1 = run(3)
    h2, p2 = run(3)
    for key in STEP_KEYS:
        np.testing.assert_array_equal(h1.step[key], h2.step[key], err_msg=key)
    for key in EPOCH_KEYS:
        np.testing.assert_array_equal(h1.epoch[key], h2.epoch[key], err_msg=key)
    assert_params_equal(p1, p2)

    h3, p3 = run(4)
    assert not np.array_equal(h1.step["loss"], h3.step["loss"])
    assert not np.array_equal(p1["0.weight"], p3["0.weight"])
    assert h1.step["loss"][0] != h3.step["loss"][0]  # the very first batch already differs


# ----- 2. fp32 oracle -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("clip_norm", [None, 0.5])
def test_fp32_fit_equals_a_hand_written_sgd_loop(digits, rng, clip_norm):
    x, y = digits
    seed, lr, epochs, batch_size, batch_seed = init_seed(rng), 0.05, 2, 48, 7
    model = small_mlp(seed)
    history = fit(
        model,
        digits,
        optimizer=sgd(lr),
        epochs=epochs,
        batch_size=batch_size,
        policy="fp32",
        scaler=NoScaler(),
        clip_norm=clip_norm,
        seed=batch_seed,
    )

    ref = small_mlp(seed)
    losses, norms = [], []
    for epoch in range(epochs):
        for xb, yb in batches(x, y, batch_size=batch_size, seed=batch_seed * 1000 + epoch):
            ref.zero_grad()
            loss, dz = softmax_cross_entropy(ref.forward(xb, training=True), yb)
            ref.backward(dz)
            grads = ref.grads()
            norm = math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads.values()))
            coef = 1.0 if clip_norm is None else min(1.0, clip_norm / (norm + 1e-6))
            for name, p in ref.params().items():
                p -= np.float32(lr) * (grads[name] * np.float32(coef))
            losses.append(loss)
            norms.append(norm)

    np.testing.assert_allclose(history.step["loss"], losses, rtol=1e-6)
    np.testing.assert_allclose(history.step["grad_norm"], norms, rtol=1e-6)
    ref_params = ref.params()
    for name, p in model.params().items():
        np.testing.assert_allclose(p, ref_params[name], rtol=1e-5, atol=1e-6, err_msg=name)
    if clip_norm is not None:
        assert np.max(norms) > clip_norm  # clipping was active


# ----- 3. policies round where they say -------------------------------------------------------------------------------
class RecordingLinear(Linear):
    """A Linear layer that records its input and parameters at forward time and the grad_y it receives."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.inputs, self.weights, self.grad_ys = [], [], []

    def forward(self, x, training):
        self.inputs.append(x.copy())
        self.weights.append({k: v.copy() for k, v in self.params().items()})
        return super().forward(x, training)

    def backward(self, grad_y):
        self.grad_ys.append(grad_y.copy())
        return super().backward(grad_y)


CUSTOM_POLICY = PrecisionPolicy("c", custom_format(4, 5), custom_format(5, 6), custom_format(6, 3))


@pytest.mark.parametrize("policy", ["fp16", "bf16", CUSTOM_POLICY], ids=["fp16", "bf16", "custom"])
def test_every_recorded_tensor_is_representable_in_its_policy_format(digits, rng, policy):
    x, y = digits
    gen = np.random.default_rng(init_seed(rng))
    first, last = RecordingLinear(64, 32, rng=gen), RecordingLinear(32, 10, rng=gen)
    model = Sequential(first, ReLU(), last)
    fit(model, (x[:64], y[:64]), optimizer=sgd(0.1), epochs=1, batch_size=32, policy=policy)

    p = get_policy(policy)
    w_fmt, a_fmt, g_fmt = p.weights, p.activations, p.gradients
    for layer in (first, last):
        # 2 training steps; evaluation after the epoch adds forwards over the whole subset
        assert len(layer.grad_ys) == 2 and len(layer.inputs) >= 2
        for x_in in layer.inputs:
            assert representable(x_in, a_fmt)
            assert not np.all(x_in == 0)
        for params in layer.weights:
            for name, w in params.items():
                assert representable(w, w_fmt), name
        for g in layer.grad_ys:
            assert representable(g, g_fmt)
            assert np.any(g != 0)
    # the checks can fail: the float32 data and master weights are not representable in these formats
    assert not representable(x[:64], a_fmt)
    assert not representable(first.params()["weight"], w_fmt)


@pytest.mark.parametrize("fmt", ["fp16", "bf16"])
def test_master_weights_stay_float32_and_without_them_weights_are_stored_in_the_format(digits, rng, fmt):
    seed = init_seed(rng)
    with_master = small_mlp(seed)
    fit(with_master, digits, optimizer=sgd(0.1), epochs=1, batch_size=64, policy=fmt)
    assert not all(representable(w, fmt) for w in with_master.params().values())

    without = small_mlp(seed)
    policy = PrecisionPolicy("nomaster", fmt, fmt, fmt, master_weights=False)
    fit(without, digits, optimizer=sgd(0.1), epochs=1, batch_size=64, policy=policy)
    assert all(representable(w, fmt) for w in without.params().values())
    assert not np.array_equal(without.params()["0.weight"], small_mlp(seed).params()["0.weight"])  # it trained


# ----- 4. loss scaling ------------------------------------------------------------------------------------------------
def test_a_static_scale_that_overflows_fp16_skips_every_step(digits, rng):
    seed = init_seed(rng)
    model = small_mlp(seed)
    before = copy_params(model)
    history = fit(
        model,
        digits,
        optimizer=sgd(0.1),
        epochs=1,
        batch_size=64,
        policy="fp16",
        scaler=StaticScaler(2.0**40),
    )
    np.testing.assert_array_equal(history.step["skipped"], np.ones(N_TRAIN // 64))
    np.testing.assert_array_equal(history.step["scale"], np.full(N_TRAIN // 64, 2.0**40))
    assert history.skipped_steps == N_TRAIN // 64
    assert not np.any(np.isfinite(history.step["grad_norm"]))  # the overflow reached every step's gradients
    assert_params_equal(model.params(), before)


def reference_scale_trace(init: float, skipped: np.ndarray, growth_interval: int) -> list[float]:
    """PyTorch's GradScaler rule replayed from the skipped flags: x0.5 on overflow, x2 after clean intervals."""
    scale, tracker, trace = np.float32(init), 0, []
    for was_skipped in skipped:
        trace.append(float(scale))
        if was_skipped:
            scale, tracker = np.float32(scale * np.float32(0.5)), 0
        else:
            tracker += 1
            if tracker == growth_interval:
                scale, tracker = np.float32(scale * np.float32(2.0)), 0
    return trace


def test_grad_scaler_backs_off_from_a_huge_scale_then_trains(digits, rng):
    model = small_mlp(init_seed(rng))
    history = fit(
        model,
        digits,
        optimizer=sgd(0.1),
        epochs=8,
        batch_size=32,
        policy="fp16",
        scaler=GradScaler(init_scale=2.0**40, growth_interval=4),
    )
    skipped = history.step["skipped"]
    np.testing.assert_array_equal(history.step["scale"], reference_scale_trace(2.0**40, skipped, 4))
    first_clean = int(np.argmin(skipped))
    assert first_clean >= 5 and np.all(skipped[:first_clean] == 1)
    assert skipped.sum() < len(skipped) / 2  # then most steps go through
    assert history.step["scale"].max() == 2.0**40 and history.step["scale"][-1] < 2.0**30
    assert history.epoch["train_loss"][-1] < 0.5 * history.step["loss"][0]


@pytest.mark.parametrize("clip_norm", [None, 0.25])
def test_power_of_two_static_scale_is_exact_in_fp32_and_unscales_before_clipping(digits, rng, clip_norm):
    seed = init_seed(rng)
    runs = []
    for scaler in (NoScaler(), StaticScaler(1024.0)):
        model = small_mlp(seed)
        history = fit(
            model,
            digits,
            optimizer=sgd(0.1),
            epochs=2,
            batch_size=32,
            policy="fp32",
            scaler=scaler,
            clip_norm=clip_norm,
        )
        runs.append((history, copy_params(model)))
    (h_plain, p_plain), (h_scaled, p_scaled) = runs
    np.testing.assert_array_equal(h_scaled.step["grad_norm"], h_plain.step["grad_norm"])  # the unscaled norm
    np.testing.assert_array_equal(h_scaled.step["loss"], h_plain.step["loss"])
    np.testing.assert_array_equal(h_scaled.step["scale"], np.full(len(h_scaled.step["scale"]), 1024.0))
    assert_params_equal(p_scaled, p_plain)
    if clip_norm is not None:
        assert np.all(h_plain.step["grad_norm"] > clip_norm)  # clipping acted on every step


# ----- 5. clipping ----------------------------------------------------------------------------------------------------
def test_clip_norm_records_the_pre_clip_norm_and_bounds_the_step(digits, rng):
    x, y = digits
    one_batch = (x[:32], y[:32])  # batch_size = n: exactly one step per epoch
    seed, lr, clip = init_seed(rng), 0.1, 1e-3

    free = small_mlp(seed)
    h_free = fit(free, one_batch, optimizer=sgd(lr), epochs=1, batch_size=32)
    clipped = small_mlp(seed)
    before = copy_params(clipped)
    h_clip = fit(clipped, one_batch, optimizer=sgd(lr), epochs=1, batch_size=32, clip_norm=clip)

    assert h_clip.step["grad_norm"][0] == h_free.step["grad_norm"][0] > 100 * clip
    delta = math.sqrt(sum(float(np.sum((clipped.params()[k] - before[k]).astype(np.float64) ** 2)) for k in before))
    assert delta <= lr * clip * (1 + 1e-5)
    assert delta >= lr * clip * 0.99  # the step was rescaled to the threshold, not zeroed


# ----- 6. underflow statistic -----------------------------------------------------------------------------------------
TINY_BLOBS = {"n": 128, "n_features": 64, "n_classes": 10, "scale": 1e-5}


def test_underflow_share_equals_gradient_stats_of_a_replayed_first_step(rng):
    x, y = make_classification_blobs(**TINY_BLOBS, seed=init_seed(rng))
    seed, scale = init_seed(rng), 4.0
    policy = PrecisionPolicy("g16", "fp32", "fp32", "fp16")  # only gradients are rounded
    model = small_mlp(seed)
    history = fit(
        model,
        (x, y),
        optimizer=sgd(0.1),
        epochs=1,
        batch_size=32,
        policy=policy,
        scaler=StaticScaler(scale),
    )

    ref = small_mlp(seed)
    xb, yb = next(batches(x, y, batch_size=32, seed=0))
    ref.zero_grad()
    _, dz = softmax_cross_entropy(ref.forward(xb, training=True), yb)
    g = quantize(dz * np.float32(scale), "fp16")
    g = quantize(ref[2].backward(g), "fp16")
    ref[0].backward(ref[1].backward(g))
    stats = gradient_stats(ref.grads(), "fp16")
    assert stats.underflow > 0
    assert history.step["underflow"][0] == stats.underflow_fraction
    assert history.step["overflow"][0] == stats.overflow_fraction == 0


def test_underflow_is_a_share_zero_in_fp32_and_shrinks_with_a_larger_loss_scale(rng):
    data = make_classification_blobs(**TINY_BLOBS, seed=init_seed(rng))
    seed = init_seed(rng)

    def underflow(policy, scaler):
        history = fit(small_mlp(seed), data, optimizer=sgd(0.1), epochs=1, policy=policy, scaler=scaler)
        return history.step["underflow"]

    assert np.all(underflow("fp32", None) == 0)
    small, large = underflow("fp16", GradScaler(init_scale=1.0)), underflow("fp16", GradScaler(init_scale=2.0**12))
    for u in (small, large):
        assert np.all((u >= 0) & (u <= 1))
    assert small[0] > large[0]
    assert small.mean() > large.mean()


# ----- 7. stochastic rounding of weight updates -----------------------------------------------------------------------
def test_stochastic_update_rounding_beats_swamped_nearest_rounding_without_master_weights(digits, rng):
    seed, lr = init_seed(rng), 0.01

    def run(rounding: str, batch_seed: int = 1):
        policy = PrecisionPolicy("w8", "e4m3fn", "fp32", "fp32", master_weights=False, update_rounding=rounding)
        model = small_mlp(seed)
        history = fit(model, digits, optimizer=sgd(lr), epochs=8, batch_size=32, policy=policy, seed=batch_seed)
        return history, copy_params(model)

    # the premise: almost every first SGD update is below half a spacing of the e4m3fn weight it updates
    ref = small_mlp(seed)
    xb, yb = next(batches(*digits, batch_size=32, seed=1000))
    _, dz = softmax_cross_entropy(ref.forward(xb, training=True), yb)
    ref.backward(dz)
    w = quantize(ref.params()["0.weight"], "e4m3fn")
    _, exponent = np.frexp(w)  # |w| = m * 2**exponent, m in [0.5, 1): spacing 2**(exponent - 1 - 3), subnormal 2**-9
    spacing = np.maximum(np.ldexp(1.0, exponent - 4), 2.0**-9)
    assert np.mean(lr * np.abs(ref.grads()["0.weight"]) < spacing / 2) > 0.9

    h_near, _ = run("nearest")
    h_sto, p_sto = run("stochastic")
    assert h_sto.epoch["train_loss"][-1] < 0.8 * h_near.epoch["train_loss"][-1]
    assert h_sto.epoch["train_loss"][-1] < h_sto.epoch["train_loss"][0]
    h_again, p_again = run("stochastic")
    np.testing.assert_array_equal(h_again.step["loss"], h_sto.step["loss"])
    assert_params_equal(p_again, p_sto)
    h_other, _ = run("stochastic", batch_seed=2)
    assert not np.array_equal(h_other.step["loss"], h_sto.step["loss"])


# ----- 8. FP8 recipes -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("policy", ["fp8_current", "fp8_delayed", "fp8_mx"])
def test_fp8_recipes_train_and_are_deterministic(digits, rng, policy):
    seed = init_seed(rng)

    def run():
        model = small_mlp(seed)
        return fit(model, digits, optimizer=sgd(0.1), epochs=3, batch_size=32, policy=policy)

    h1, h2 = run(), run()
    assert h1.epoch["train_acc"][-1] > h1.epoch["train_acc"][0]
    assert h1.skipped_steps == 0
    assert np.all(h1.step["overflow"] == 0)  # the scaling recipes saturate
    for key in STEP_KEYS:
        np.testing.assert_array_equal(h1.step[key], h2.step[key], err_msg=key)
    np.testing.assert_array_equal(h1.epoch["train_loss"], h2.epoch["train_loss"])


def test_delayed_scaling_keeps_one_history_per_site(digits, rng):
    x, y = digits
    model = small_mlp(init_seed(rng))
    caster = Caster("fp8_delayed")
    master = copy_params(model)
    cast_weights(model, master, caster)
    logits = forward(model, x[:32], caster, training=True)
    _, dz = softmax_cross_entropy(logits, y[:32])
    backward(model, dz, caster)

    scales = caster.scales()
    weights = {f"w:{name}" for name in master}
    assert set(scales) == weights | {"a:in", "a:0", "a:2", "g:out", "g:2"}  # ReLU (layer 1) is not re-cast
    e4m3_max, e5m2_max = get_format("e4m3fn").max, get_format("e5m2").max
    for name, w in master.items():
        amax = float(np.max(np.abs(w)))
        assert scales[f"w:{name}"] == (e4m3_max / amax if amax > 0 else 1.0)  # biases start at 0: scale stays 1
    assert scales["a:in"] == e4m3_max / float(np.max(np.abs(x[:32])))
    assert scales["g:out"] == e5m2_max / float(np.max(np.abs(dz)))
    assert len(set(scales.values())) > 4  # distinct histories, not one shared scale


@pytest.mark.parametrize("fmt", ["e4m3fn", "e5m2", "e2m3fn", "e3m2fn", "e2m1fn"])
def test_mx_fake_quantize_equals_block_quantize_then_dequantize(rng, fmt):
    """The fused one-pass kernel against the two public steps, including blocks at E8M0's clamps, blocks of zeros,
    and blocks holding inf or NaN (which decode to NaN)."""
    x = (rng.standard_normal((12, 64)) * 10.0 ** rng.uniform(-3, 3, (12, 64))).astype(np.float32)
    x[1, :32] = 0.0
    x[1, 32:40] = -0.0
    x[2, 5], x[2, 40], x[3, 7] = np.inf, np.nan, -np.inf
    x[4] *= np.float32(1e-38)  # float32 subnormals: the scale clamps at 2**-127
    x[5, :32] = np.float32(3e38)  # the largest binades
    x[6] = np.float32(2.0) ** rng.integers(-30, 30, 64)  # exact powers of two: amax on a binade edge
    q, scales = mx_block_quantize(x.reshape(-1), fmt, block_size=32)
    expected = mx_block_dequantize(q, scales).reshape(x.shape)
    got = mx_fake_quantize(x, get_format(fmt))
    np.testing.assert_array_equal(got, expected)
    assert np.array_equal(np.signbit(got[1]), np.signbit(expected[1]))  # -0 stays -0
    assert not np.array_equal(expected, x)


def test_mx_fake_quantize_padding_changes_nothing(rng):
    fmt = get_format("e4m3fn")
    x = (rng.standard_normal((5, 7)) * 10.0 ** rng.uniform(-3, 3, (5, 7))).astype(np.float32)  # 35 values
    flat = x.reshape(-1)
    padded = np.concatenate([flat, np.zeros(64 - flat.size, np.float32)])
    q, scales = mx_block_quantize(padded, fmt, block_size=32)
    by_hand = mx_block_dequantize(q, scales)[: flat.size].reshape(x.shape)
    got = mx_fake_quantize(x, fmt)
    np.testing.assert_array_equal(got, by_hand)
    # the zero padding does not change the tail block's amax: it rounds as a block of its own 3 values would
    q_tail, s_tail = mx_block_quantize(flat[32:], fmt, block_size=3)
    np.testing.assert_array_equal(got.reshape(-1)[32:], mx_block_dequantize(q_tail, s_tail))


# ----- 9. evaluate ----------------------------------------------------------------------------------------------------
def test_evaluate_fp32_matches_a_manual_computation(digits, rng):
    x, y = digits
    model = small_mlp(init_seed(rng))
    logits = model.forward(x, training=False)
    loss, _ = softmax_cross_entropy(logits, y)
    acc = float(np.mean(np.argmax(logits, axis=1) == y))
    got_loss, got_acc = evaluate(model, x, y, policy="fp32")
    assert got_loss == pytest.approx(loss, rel=1e-6)
    assert got_acc == acc


def test_evaluate_fp16_casts_forward_and_leaves_params_unchanged(digits, rng):
    x, y = digits
    model = small_mlp(init_seed(rng))
    for p in model.params().values():
        p += np.float32(1e-4) * rng.standard_normal(p.shape).astype(np.float32)  # not representable in fp16
    before = copy_params(model)
    got_loss, got_acc = evaluate(model, x, y, policy="fp16")
    assert_params_equal(model.params(), before)

    w = {k: quantize(v, "fp16") for k, v in before.items()}
    h = quantize(x, "fp16")
    h = np.maximum(quantize(h @ w["0.weight"].T + w["0.bias"], "fp16"), 0)
    logits = quantize(h @ w["2.weight"].T + w["2.bias"], "fp16")
    loss, _ = softmax_cross_entropy(logits, y)
    assert got_loss == pytest.approx(loss, rel=1e-6)
    assert got_acc == float(np.mean(np.argmax(logits, axis=1) == y))
    assert got_loss != evaluate(model, x, y, policy="fp32")[0]


# ----- 10. bad input --------------------------------------------------------------------------------------------------
def _bad_fit_calls(x, y):
    good = {"optimizer": sgd(0.1), "epochs": 1}
    return [
        ([x, y], good, TypeError, r"^train must be a tuple"),
        ((x.astype(np.float64), y), good, TypeError, r"train\[0\]"),
        ((x, y.astype(np.float32)), good, TypeError, r"train\[1\]"),
        ((x, y[:-1]), good, ValueError, r"^train must hold the same"),
        ((x, y), {**good, "val": (x, y.astype(np.float32))}, TypeError, r"val\[1\]"),
        ((x, y), {**good, "epochs": 0}, ValueError, "epochs=0"),
        ((x, y), {**good, "batch_size": "8"}, TypeError, "batch_size='8'"),
        ((x, y), {**good, "clip_norm": -1}, ValueError, "clip_norm=-1"),
        ((x, y), {**good, "clip_value": math.inf}, ValueError, "clip_value=inf"),
        ((x, y), {**good, "seed": -1}, ValueError, "seed=-1"),
        ((x, y), {**good, "optimizer": lambda g: g}, TypeError, "optimizer"),
        ((x, y), {**good, "scaler": 1024.0}, TypeError, "scaler"),
        ((x, y), {**good, "policy": "fp12"}, ValueError, "policy 'fp12'"),
    ]


@pytest.mark.parametrize("case", range(13))
def test_bad_input_raises_a_clear_error(digits, case):
    x, y = digits
    train, kwargs, error, match = _bad_fit_calls(x[:16], y[:16])[case]
    with pytest.raises(error, match=match):
        fit(small_mlp(0), train, **kwargs)


def test_bad_model_raises():
    x, y = make_classification_blobs(8, n_features=4, n_classes=2, scale=1.0, seed=0)
    with pytest.raises(TypeError, match="model"):
        fit(lambda v: v, (x, y), optimizer=sgd(0.1), epochs=1)


# ----- 11. history fields ---------------------------------------------------------------------------------------------
def test_history_has_one_entry_per_step_and_per_epoch(digits, rng):
    x, y = digits
    n, batch_size, epochs = 100, 32, 3
    history = fit(
        small_mlp(init_seed(rng)),
        (x[:n], y[:n]),
        optimizer=sgd(0.05),
        epochs=epochs,
        batch_size=batch_size,
        val=(x[n : 2 * n], y[n : 2 * n]),
    )
    steps = epochs * math.ceil(n / batch_size)
    assert set(history.step) == set(STEP_KEYS) and set(history.epoch) == set(EPOCH_KEYS)
    for key in STEP_KEYS:
        assert history.step[key].shape == (steps,), key
    for key in EPOCH_KEYS:
        assert history.epoch[key].shape == (epochs,), key
    np.testing.assert_array_equal(history.epoch["epoch"], np.arange(1, epochs + 1))
    np.testing.assert_array_equal(history.step["lr"], np.full(steps, 0.05))
    np.testing.assert_array_equal(history.step["scale"], np.ones(steps))
    assert np.all(np.isfinite(history.epoch["val_acc"]))
    assert history.final_val_acc == history.epoch["val_acc"][-1]
    assert np.all((history.epoch["train_acc"] >= 0) & (history.epoch["train_acc"] <= 1))


def test_scheduled_lr_follows_the_optimizer_step_which_skipped_steps_do_not_advance(digits, rng):
    def schedule(step: int) -> float:
        return 0.1 / (1 + step)

    history = fit(
        small_mlp(init_seed(rng)),
        digits,
        optimizer=sgd(schedule),
        epochs=3,
        batch_size=32,
        policy="fp16",
        scaler=GradScaler(init_scale=2.0**30, growth_interval=3),
    )
    skipped = history.step["skipped"]
    assert 0 < skipped.sum() < len(skipped)
    optimizer_steps = np.concatenate([[0], np.cumsum(1 - skipped)[:-1]]).astype(int)
    np.testing.assert_array_equal(history.step["lr"], [schedule(int(s)) for s in optimizer_steps])
    assert not np.array_equal(history.step["lr"], [schedule(i) for i in range(len(skipped))])


def test_no_validation_data_gives_nan_val_metrics(digits, rng):
    history = fit(small_mlp(init_seed(rng)), digits, optimizer=sgd(0.05), epochs=1)
    assert np.isnan(history.epoch["val_loss"]).all() and np.isnan(history.epoch["val_acc"]).all()


# ----- 12. the config record ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("settings", "error", "match"),
    [
        ({"epochs": 0}, ValueError, r"epochs.*epochs=0"),
        ({"batch_size": 2.5}, TypeError, r"batch_size.*batch_size=2\.5"),
        ({"label_smoothing": 1.5}, ValueError, r"label_smoothing.*label_smoothing=1\.5"),
        ({"l2": -0.1}, ValueError, r"l2.*l2=-0\.1"),
        ({"max_norm": "1"}, TypeError, r"max_norm.*max_norm='1'"),
        ({"early_stopping": 3}, TypeError, r"early_stopping.*early_stopping=3"),
        ({"scaler": 1024.0}, TypeError, r"scaler.*scaler=1024\.0"),
        ({"augment": "flip"}, TypeError, r"augment.*augment='flip'"),
        ({"optimizer": "sgd"}, TypeError, r"optimizer.*optimizer='sgd'"),
        ({"policy": "fp12"}, ValueError, "fp12"),
    ],
)
def test_config_errors_name_the_setting_and_its_value(settings, error, match):
    with pytest.raises(error, match=match):
        FitConfig(**{"optimizer": sgd(0.1), "epochs": 1, **settings})


def test_fit_takes_a_config_or_its_fields_and_history_keeps_it(digits):
    config = FitConfig(optimizer=sgd(0.05), epochs=1, batch_size=32, policy="bf16", seed=2)
    assert config.policy is get_policy("bf16") and config.scaler is None
    by_record, by_keywords = small_mlp(0), small_mlp(0)
    h1 = fit(by_record, digits, config)
    h2 = fit(by_keywords, digits, optimizer=config.optimizer, epochs=1, batch_size=32, policy="bf16", seed=2)
    assert h1.config is config and h2.config == config and h1.policy is config.policy
    np.testing.assert_array_equal(h1.step["loss"], h2.step["loss"])
    assert_params_equal(copy_params(by_record), copy_params(by_keywords))
    h3 = fit(small_mlp(0), digits, config, seed=3)  # keywords with a config replace its fields
    assert h3.config.seed == 3 and h3.config.policy is config.policy
    assert not np.array_equal(h1.step["loss"], h3.step["loss"])
    with pytest.raises(TypeError, match="config"):
        fit(small_mlp(0), digits, {"optimizer": sgd(0.1), "epochs": 1})
    with pytest.raises(TypeError, match="epoch"):
        fit(small_mlp(0), digits, optimizer=sgd(0.1), epoch=1)  # a misspelt setting


def test_fit_leaves_the_callers_scaler_and_stopper_as_they_were(digits):
    from odyssey_lessons.train import EarlyStopping

    x, y = digits
    scaler = GradScaler(init_scale=2.0**30, growth_interval=3)
    stopper = EarlyStopping(patience=1, monitor="val_loss")
    before = (scaler.state_dict(), dict(vars(stopper)))
    config = FitConfig(
        optimizer=sgd(0.1), epochs=6, batch_size=32, policy="fp16", scaler=scaler, early_stopping=stopper
    )
    runs = [fit(small_mlp(0), (x[:128], y[:128]), config, val=(x[128:], y[128:])) for _ in range(2)]
    assert (scaler.state_dict(), dict(vars(stopper))) == before
    assert runs[0].skipped_steps > 0 and runs[0].best_epoch is not None
    assert runs[0].scaler_state["scale"] != before[0]["scale"]  # the run's own scaler moved
    for key in STEP_KEYS:  # one config, two runs, the same result: no state carried from one run to the next
        np.testing.assert_array_equal(runs[0].step[key], runs[1].step[key], err_msg=key)
    assert (runs[0].best_epoch, runs[0].stopped_epoch) == (runs[1].best_epoch, runs[1].stopped_epoch)


# ----- 13. progress ---------------------------------------------------------------------------------------------------
def test_progress_callback_gets_start_steps_epochs_end_in_order(digits):
    from odyssey_lessons.train import EarlyStopping

    x, y = digits
    events = []
    h = fit(small_mlp(0), (x[:96], y[:96]), optimizer=sgd(0.05), epochs=2, batch_size=32, progress=events.append)
    assert [e.kind for e in events] == ["start", *["step"] * 3, "epoch", *["step"] * 3, "epoch", "end"]
    assert all(e.total_steps == 6 and e.epochs == 2 and e.policy == "fp32" for e in events)
    assert [e.step for e in events] == [0, 1, 2, 3, 3, 4, 5, 6, 6, 6]
    assert [e.epoch for e in events] == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    epochs = [e for e in events if e.kind == "epoch"]
    np.testing.assert_array_equal([e.metrics["train_loss"] for e in epochs], h.epoch["train_loss"])
    assert all(e.metrics["skipped"] == 0 and math.isnan(e.metrics["val_acc"]) for e in epochs)
    # early stopping ends the run before total_steps; the end event still comes
    events.clear()
    h = fit(small_mlp(0), (x[:64], y[:64]), optimizer=sgd(0.5), epochs=50, batch_size=32, val=(x[64:], y[64:]),
            early_stopping=EarlyStopping(patience=1), progress=events.append)  # fmt: skip
    assert h.stopped_epoch is not None and events[-1].kind == "end"
    assert events[-1].epoch == h.stopped_epoch and events[-1].step == 2 * h.stopped_epoch < events[-1].total_steps


def test_progress_bar_opens_and_closes_a_bar_per_run(digits):
    bar = ProgressBar(delay=0)
    for _ in range(2):
        fit(small_mlp(0), digits, optimizer=sgd(0.05), epochs=1, batch_size=64, progress=bar)
        assert bar._bar is None
    with pytest.raises(TypeError, match="progress=True"):
        fit(small_mlp(0), digits, optimizer=sgd(0.05), epochs=1, progress=True)
