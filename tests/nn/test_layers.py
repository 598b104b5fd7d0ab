"""Tests of odyssey_lessons.nn: every gradient against central finite differences in float64, kernels against slow
reference loops written here, and the PyTorch formulas (running statistics, label smoothing) written out."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from odyssey_lessons.nn import (
    BatchNorm,
    Conv2D,
    Dropout,
    Flatten,
    Layer,
    Linear,
    MaxPool2D,
    ReLU,
    Sequential,
    layer_like,
    softmax_cross_entropy,
)


# ----- references -----------------------------------------------------------------------------------------------------
def numeric_grad(f: Callable[[], float], a: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central finite differences ``(f(a + h e_i) - f(a - h e_i)) / 2h``, perturbing ``a`` in place."""
    grad = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + h
        plus = f()
        a[i] = old - h
        minus = f()
        a[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def check_layer_gradients(layer: Layer, x: np.ndarray, rng: np.random.Generator, *, training: bool = True) -> None:
    """Input and parameter gradients of ``layer`` (run in float64) vs finite differences of ``L = sum(y * r)``."""
    layer.to(np.float64)
    x = x.astype(np.float64)
    r = rng.standard_normal(layer.forward(x, training).shape)
    layer.zero_grad()
    grad_x = layer.backward(r)

    def loss() -> float:
        return float((layer.forward(x, training) * r).sum())

    np.testing.assert_allclose(grad_x, numeric_grad(loss, x), rtol=1e-6, atol=1e-7, err_msg="grad of x")
    for name, p in layer.params().items():
        np.testing.assert_allclose(layer.grads()[name], numeric_grad(loss, p), rtol=1e-6, atol=1e-7, err_msg=name)


def conv2d_reference(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """Direct convolution: one output pixel at a time from its padded input window."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    n, _, h, wd = xp.shape
    o, c, k, _ = w.shape
    oh, ow = (h - k) // stride + 1, (wd - k) // stride + 1
    y = np.zeros((n, o, oh, ow))
    for ni in range(n):
        for oi in range(o):
            for i in range(oh):
                for j in range(ow):
                    window = xp[ni, :, i * stride : i * stride + k, j * stride : j * stride + k]
                    y[ni, oi, i, j] = (window * w[oi]).sum() + b[oi]
    return y


def maxpool_reference(x: np.ndarray, k: int, stride: int) -> np.ndarray:
    n, c, h, w = x.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    y = np.zeros((n, c, oh, ow), dtype=x.dtype)
    for ni in range(n):
        for ci in range(c):
            for i in range(oh):
                for j in range(ow):
                    y[ni, ci, i, j] = x[ni, ci, i * stride : i * stride + k, j * stride : j * stride + k].max()
    return y


# ----- gradients vs finite differences --------------------------------------------------------------------------------
def test_linear_gradients(rng):
    check_layer_gradients(Linear(5, 3, rng=rng), rng.standard_normal((4, 5)), rng)


@pytest.mark.parametrize(("kernel_size", "stride", "padding"), [(3, 1, 0), (3, 1, 1), (3, 2, 1), (2, 2, 0)])
def test_conv2d_gradients(rng, kernel_size, stride, padding):
    layer = Conv2D(2, 3, kernel_size, stride=stride, padding=padding, rng=rng)
    check_layer_gradients(layer, rng.standard_normal((2, 2, 5, 6)), rng)


@pytest.mark.parametrize(("kernel_size", "stride"), [(2, None), (3, 2), (2, 1)])
def test_maxpool_gradients(rng, kernel_size, stride):
    check_layer_gradients(MaxPool2D(kernel_size, stride), rng.standard_normal((2, 2, 6, 7)), rng)


def test_relu_and_flatten_gradients(rng):
    check_layer_gradients(ReLU(), rng.standard_normal((3, 4, 5)), rng)
    check_layer_gradients(Flatten(), rng.standard_normal((3, 2, 2, 5)), rng)


@pytest.mark.parametrize("shape", [(6, 3), (3, 2, 4, 3)], ids=["1d", "2d"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batchnorm_gradients(rng, shape, training):
    layer = BatchNorm(shape[1])
    layer.load_params({"weight": rng.uniform(0.5, 2, shape[1]), "bias": rng.standard_normal(shape[1])})
    layer.buffers()["running_var"][...] = rng.uniform(0.5, 2, shape[1])
    check_layer_gradients(layer, rng.standard_normal(shape) * 2 + 1, rng, training=training)


def test_small_cnn_gradients(rng):
    model = Sequential(
        Conv2D(1, 2, 3, padding=1, rng=rng), BatchNorm(2), ReLU(), MaxPool2D(2), Flatten(), Linear(8, 3, rng=rng)
    )
    check_layer_gradients(model, rng.standard_normal((3, 1, 4, 4)), rng)


# ----- forward passes vs references -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("kernel_size", "stride", "padding"), [(3, 1, 0), (3, 1, 1), (3, 2, 1), (1, 1, 0), (5, 2, 2)])
def test_conv2d_matches_direct_convolution(rng, kernel_size, stride, padding):
    layer = Conv2D(3, 4, kernel_size, stride=stride, padding=padding, rng=rng)
    layer.load_params({"weight": layer.params()["weight"], "bias": rng.standard_normal(4)})
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    y = layer.forward(x, training=False)
    assert y.dtype == np.float32
    p = layer.params()
    np.testing.assert_allclose(y, conv2d_reference(x, p["weight"], p["bias"], stride, padding), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("kernel_size", "stride"), [(2, None), (3, 2), (3, 1), (2, 3)])
def test_maxpool_matches_loop(rng, kernel_size, stride):
    x = rng.standard_normal((2, 3, 8, 7)).astype(np.float32)
    y = MaxPool2D(kernel_size, stride).forward(x, training=True)
    np.testing.assert_array_equal(y, maxpool_reference(x, kernel_size, stride or kernel_size))


def test_maxpool_routes_gradient_to_first_maximum_and_propagates_nan():
    x = np.zeros((1, 1, 2, 2), dtype=np.float32)
    pool = MaxPool2D(2)
    pool.forward(x, training=True)
    np.testing.assert_array_equal(pool.backward(np.ones((1, 1, 1, 1), np.float32))[0, 0], [[1, 0], [0, 0]])
    x[0, 0, 1, 0] = np.nan
    assert np.isnan(pool.forward(x, training=True)).all()


def test_linear_forward_formula_and_init(rng):
    layer = Linear(200, 300, rng=rng)
    w, b = layer.params()["weight"], layer.params()["bias"]
    assert w.dtype == b.dtype == np.float32 and w.shape == (300, 200) and not b.any()
    assert abs(w.var() - 2 / 200) < 0.1 * 2 / 200  # He init: Var(w) = 2 / fan_in
    assert np.abs(w).max() <= np.sqrt(6 / 200)
    x = rng.standard_normal((4, 200)).astype(np.float32)
    np.testing.assert_allclose(layer.forward(x, training=True), x @ w.T + b, rtol=1e-6)


# ----- dropout --------------------------------------------------------------------------------------------------------
def test_dropout_preserves_expectation(rng):
    p, masks = 0.3, 4000
    layer = Dropout(p, rng=rng)
    x = rng.uniform(0.5, 2.0, 50).astype(np.float32)
    ys = np.stack([layer.forward(x, training=True) for _ in range(masks)])
    std_of_mean = x * np.sqrt(p / (1 - p)) / np.sqrt(masks)
    assert np.all(np.abs(ys.mean(axis=0) - x) < 5 * std_of_mean)
    assert abs((ys == 0).mean() - p) < 0.01


def test_dropout_identity_at_eval_and_gradient_is_scaled_mask(rng):
    p = 0.25
    layer = Dropout(p, rng=rng)
    x = rng.uniform(0.5, 2.0, (8, 16)).astype(np.float32)
    assert layer.forward(x, training=False) is x
    assert layer.backward(x) is x
    y = layer.forward(x, training=True)
    mask = y != 0
    assert 0 < mask.mean() < 1
    np.testing.assert_allclose(y, x * mask / (1 - p), rtol=1e-6)
    g = rng.standard_normal(x.shape).astype(np.float32)
    np.testing.assert_allclose(layer.backward(g), g * mask / (1 - p), rtol=1e-6)


# ----- batch norm -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5, 2)], ids=["1d", "2d"])
def test_batchnorm_running_stats_follow_pytorch(rng, shape):
    layer = BatchNorm(3)
    axes = (0,) if len(shape) == 2 else (0, 2, 3)
    mean, var = np.zeros(3), np.ones(3)
    for _ in range(3):
        x = (rng.standard_normal(shape) * 3 + 2).astype(np.float32)
        y = layer.forward(x, training=True)
        np.testing.assert_allclose(y.mean(axis=axes), 0, atol=1e-5)
        np.testing.assert_allclose(y.var(axis=axes), 1, rtol=1e-3)  # biased batch variance, eps = 1e-5
        mean = 0.9 * mean + 0.1 * x.mean(axis=axes, dtype=np.float64)
        var = 0.9 * var + 0.1 * x.var(axis=axes, ddof=1, dtype=np.float64)  # unbiased, as PyTorch
    np.testing.assert_allclose(layer.buffers()["running_mean"], mean, rtol=1e-5)
    np.testing.assert_allclose(layer.buffers()["running_var"], var, rtol=1e-5)


@pytest.mark.parametrize("shape", [(5, 3), (2, 3, 4, 4)], ids=["1d", "2d"])
def test_batchnorm_eval_uses_running_stats(rng, shape):
    layer = BatchNorm(3)
    gamma, beta = rng.uniform(0.5, 2, 3), rng.standard_normal(3)
    layer.load_params({"weight": gamma, "bias": beta})
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    layer.buffers()["running_mean"][...] = rm
    layer.buffers()["running_var"][...] = rv
    x = rng.standard_normal(shape).astype(np.float32)
    c = (3,) if len(shape) == 2 else (3, 1, 1)
    want = gamma.reshape(c) * (x - rm.reshape(c)) / np.sqrt(rv.reshape(c) + 1e-5) + beta.reshape(c)
    np.testing.assert_allclose(layer.forward(x, training=False), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.buffers()["running_mean"], rm.astype(np.float32))  # eval does not update


# ----- loss -----------------------------------------------------------------------------------------------------------
def _direct_ce(logits: np.ndarray, labels: np.ndarray, eps: float) -> float:
    k = logits.shape[1]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    t = (1 - eps) * np.eye(k)[labels] + eps / k
    return float(-(t * np.log(p)).sum(axis=1).mean())


@pytest.mark.parametrize("eps", [0.0, 0.1, 1.0])
def test_softmax_cross_entropy_loss_and_gradient(rng, eps):
    logits, labels = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    loss, grad = softmax_cross_entropy(logits, labels, label_smoothing=eps)
    assert isinstance(loss, float) and grad.dtype == np.float64
    assert loss == pytest.approx(_direct_ce(logits, labels, eps), rel=1e-12)

    def f() -> float:
        return softmax_cross_entropy(logits, labels, label_smoothing=eps)[0]

    np.testing.assert_allclose(grad, numeric_grad(f, logits), rtol=1e-6, atol=1e-9)


def test_label_smoothing_mixes_hard_loss_and_uniform_loss(rng):
    logits, labels, eps = rng.standard_normal((7, 4)), rng.integers(0, 4, 7), 0.2
    hard = softmax_cross_entropy(logits, labels)[0]
    uniform = softmax_cross_entropy(logits, labels, label_smoothing=1.0)[0]
    assert softmax_cross_entropy(logits, labels, label_smoothing=eps)[0] == pytest.approx(
        (1 - eps) * hard + eps * uniform, rel=1e-12
    )


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 1000.0]], dtype=np.float32)
    loss, grad = softmax_cross_entropy(logits, np.array([0, 1]))
    assert grad.dtype == np.float32 and np.isfinite(grad).all()
    assert loss == pytest.approx(np.log(2) / 2, rel=1e-6)


# ----- the small CNN of the lessons -----------------------------------------------------------------------------------
def test_sequential_small_cnn(rng):
    model = Sequential(Conv2D(1, 4, 3, padding=1, rng=rng), ReLU(), MaxPool2D(2), Flatten(), Linear(64, 10, rng=rng))
    x = rng.standard_normal((5, 1, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 10, 5)
    logits = model.forward(x, training=True)
    assert logits.shape == (5, 10) and logits.dtype == np.float32
    loss, grad = softmax_cross_entropy(logits, labels)
    grad_x = model.backward(grad)
    assert grad_x.shape == x.shape and grad_x.dtype == np.float32
    params, grads = model.params(), model.grads()
    assert list(params) == ["0.weight", "0.bias", "4.weight", "4.bias"]
    assert {k: v.shape for k, v in grads.items()} == {k: v.shape for k, v in params.items()}
    assert all(g.dtype == np.float32 and g.any() for g in grads.values())

    # gradients accumulate until zero_grad, as in PyTorch
    first = {k: v.copy() for k, v in grads.items()}
    model.forward(x, training=True)
    model.backward(grad)
    for k in grads:
        np.testing.assert_allclose(model.grads()[k], 2 * first[k], rtol=1e-5)
    model.zero_grad()
    assert not any(g.any() for g in model.grads().values())

    # one SGD step through load_params lowers the loss
    model.load_params({k: p - 0.05 * first[k] for k, p in params.items()})
    assert softmax_cross_entropy(model.forward(x, training=False), labels)[0] < loss


# ----- bad inputs -----------------------------------------------------------------------------------------------------
def _x(*shape: int) -> np.ndarray:
    return np.zeros(shape, dtype=np.float32)


def _ce(labels: list[int], **kwargs: float) -> tuple[float, np.ndarray]:
    return softmax_cross_entropy(_x(2, 3), np.array(labels), **kwargs)


BAD_CALLS = {
    "linear in_features=0": (ValueError, "in_features", lambda rng: Linear(0, 3, rng=rng)),
    "linear float size": (TypeError, "out_features", lambda rng: Linear(2, 2.5, rng=rng)),
    "linear no generator": (TypeError, "rng", lambda rng: Linear(2, 3, rng=0)),
    "linear wrong width": (ValueError, r"x.shape=\(4, 3\)", lambda rng: Linear(2, 3, rng=rng).forward(_x(4, 3), True)),
    "linear 3-d input": (ValueError, "ndim", lambda rng: Linear(2, 3, rng=rng).forward(_x(4, 2, 1), True)),
    "linear float16": (TypeError, "float16", lambda rng: Linear(2, 3, rng=rng).forward(_x(4, 2).astype("f2"), True)),
    "linear list": (TypeError, "list", lambda rng: Linear(2, 3, rng=rng).forward([[0.0, 0.0]], True)),
    "linear float64 x": (TypeError, "layer.to", lambda rng: Linear(2, 3, rng=rng).forward(_x(4, 2).astype("f8"), True)),
    "training not bool": (TypeError, "training", lambda rng: ReLU().forward(_x(2, 2), "yes")),
    "dropout p=1": (ValueError, "p=1.0", lambda rng: Dropout(1.0, rng=rng)),
    "dropout p<0": (ValueError, "p=-0.1", lambda rng: Dropout(-0.1, rng=rng)),
    "conv 3-d input": (ValueError, "ndim", lambda rng: Conv2D(1, 2, 3, rng=rng).forward(_x(1, 5, 5), True)),
    "conv channels": (ValueError, "channels", lambda rng: Conv2D(1, 2, 3, rng=rng).forward(_x(1, 2, 5, 5), True)),
    "conv too small": (ValueError, "kernel_size=3", lambda rng: Conv2D(1, 2, 3, rng=rng).forward(_x(1, 1, 2, 5), True)),
    "conv padding": (ValueError, "padding=-1", lambda rng: Conv2D(1, 2, 3, padding=-1, rng=rng)),
    "pool stride 0": (ValueError, "stride", lambda rng: MaxPool2D(2, 0)),
    "bn channels": (ValueError, "channels", lambda rng: BatchNorm(3).forward(_x(4, 2), True)),
    "bn one value": (ValueError, "more than 1", lambda rng: BatchNorm(3).forward(_x(1, 3), True)),
    "bn momentum": (ValueError, "momentum", lambda rng: BatchNorm(3, momentum=1.5)),
    "backward first": (RuntimeError, "before forward", lambda rng: ReLU().backward(_x(2))),
    "ce labels float": (TypeError, "labels", lambda rng: softmax_cross_entropy(_x(2, 3), np.zeros(2))),
    "ce labels range": (ValueError, r"\[0, 3\)", lambda rng: _ce([0, 3])),
    "ce labels shape": (ValueError, "labels", lambda rng: _ce([0])),
    "ce smoothing": (ValueError, "label_smoothing=1.5", lambda rng: _ce([0, 1], label_smoothing=1.5)),
    "sequential empty": (ValueError, "at least one", lambda rng: Sequential()),
    "sequential non-layer": (TypeError, r"layers\[1\]", lambda rng: Sequential(ReLU(), object())),
    "load wrong keys": (ValueError, "keys", lambda rng: Linear(2, 3, rng=rng).load_params({"weight": _x(3, 2)})),
    "load wrong shape": (
        ValueError,
        "shape",
        lambda rng: Linear(2, 3, rng=rng).load_params({"weight": _x(2, 3), "bias": _x(3)}),
    ),
    "to int": (ValueError, "dtype", lambda rng: ReLU().to(np.int32)),
}


@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_bad_inputs_raise(rng, case):
    error, match, call = BAD_CALLS[case]
    with pytest.raises(error, match=match):
        call(rng)


def test_backward_checks_grad_shape(rng):
    layer = Linear(2, 3, rng=rng)
    layer.forward(_x(4, 2), training=True)
    with pytest.raises(ValueError, match="grad_y.shape"):
        layer.backward(_x(4, 2))
    with pytest.raises(TypeError, match="grad_y.dtype"):
        layer.backward(np.zeros((4, 3)))


# ----- dtypes and training with the optimizers ------------------------------------------------------------------------
LAYERS = {
    "linear": (lambda rng: Linear(6, 4, rng=rng), (3, 6)),
    "conv": (lambda rng: Conv2D(2, 3, 3, stride=2, padding=1, rng=rng), (2, 2, 5, 5)),
    "pool": (lambda rng: MaxPool2D(2), (2, 2, 4, 4)),
    "relu": (lambda rng: ReLU(), (3, 6)),
    "flatten": (lambda rng: Flatten(), (2, 2, 3, 3)),
    "dropout": (lambda rng: Dropout(0.5, rng=rng), (3, 6)),
    "batchnorm1d": (lambda rng: BatchNorm(6), (3, 6)),
    "batchnorm2d": (lambda rng: BatchNorm(2), (2, 2, 3, 3)),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layers_stay_float32(rng, name):
    make, shape = LAYERS[name]
    layer = make(rng)
    x = rng.standard_normal(shape).astype(np.float32)
    y = layer.forward(x, training=True)
    assert y.dtype == np.float32
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    assert all(a.dtype == np.float32 for d in (layer.params(), layer.grads(), layer.buffers()) for a in d.values())


def test_training_with_optim_sgd_fits_a_tiny_batch(rng):
    from odyssey_lessons.optim import apply_updates, sgd

    model = Sequential(
        Conv2D(1, 4, 3, padding=1, rng=rng), BatchNorm(4), ReLU(), MaxPool2D(2), Flatten(), Linear(64, 10, rng=rng)
    )
    x = rng.standard_normal((16, 1, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 10, 16)
    opt = sgd(0.1, momentum=0.9)
    state = opt.init(model.params())
    losses = []
    for _ in range(30):
        model.zero_grad()
        loss, grad = softmax_cross_entropy(model.forward(x, training=True), labels, label_smoothing=0.1)
        model.backward(grad)
        updates, state = opt.update(model.grads(), state, model.params())
        model.load_params(apply_updates(model.params(), updates))
        losses.append(loss)
    assert losses[-1] < 0.5 * losses[0]
    assert set(model.buffers()) == {"1.running_mean", "1.running_var"}


@pytest.mark.parametrize(("k", "stride"), [(2, 2), (3, 1), (2, 1), (3, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_maxpool_inference_equals_training_forward(rng, k, stride, dtype):
    """Inference skips the argmax bookkeeping (its own kernel, 2x2/2 written out); the values, NaN and -inf
    included, are those of the training forward."""
    x = rng.standard_normal((3, 2, 9, 8)).astype(dtype)
    x[0, 0, 0, 1] = x[1, 1, 4, 4] = np.nan
    x[2, 0, 5, 5] = -np.inf
    pool = MaxPool2D(k, stride)
    trained = pool.forward(x, training=True)
    np.testing.assert_array_equal(pool.forward(x, training=False), trained)
    with pytest.raises(RuntimeError, match="training=True"):
        pool.backward(np.ones_like(trained))


def test_layer_like_copies_the_shape_not_the_weights():
    rng = np.random.default_rng(3)
    conv = Conv2D(2, 5, 3, stride=2, padding=1, rng=rng)
    twin = layer_like(conv, Conv2D)
    assert (twin.in_channels, twin.out_channels, twin.kernel_size, twin.stride, twin.padding) == (2, 5, 3, 2, 1)
    assert {k: v.shape for k, v in twin.params().items()} == {k: v.shape for k, v in conv.params().items()}
    lin = layer_like(Linear(4, 7, rng=rng), Linear)
    assert (lin.in_features, lin.out_features) == (4, 7)
    with pytest.raises(TypeError, match="layer must be a Linear or Conv2D, got ReLU"):
        layer_like(ReLU(), Linear)
