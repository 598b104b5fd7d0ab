"""FLOP and byte counts: each layer type against a formula derived here, Conv2D from the im2col matrices the layer
actually builds, shapes against a real forward, and Linear/Conv2d against torch's FlopCounterMode when installed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from odyssey_lessons import nn
from odyssey_lessons.perf import COUNTERS, layer_counts, layer_name, model_counts
from tests.oracles import require

# One instance and one input shape per registered layer type.
CASES = {
    nn.Linear: (lambda rng: nn.Linear(6, 5, rng=rng), (4, 6)),
    nn.Conv2D: (lambda rng: nn.Conv2D(3, 4, 3, stride=2, padding=1, rng=rng), (2, 3, 7, 6)),
    nn.MaxPool2D: (lambda rng: nn.MaxPool2D(3, stride=2), (2, 3, 7, 8)),
    nn.ReLU: (lambda rng: nn.ReLU(), (3, 2, 5, 5)),
    nn.Flatten: (lambda rng: nn.Flatten(), (3, 2, 4, 5)),
    nn.Dropout: (lambda rng: nn.Dropout(0.25, rng=rng), (4, 7)),
    nn.BatchNorm: (lambda rng: nn.BatchNorm(3), (4, 3, 5, 2)),
}


def test_every_registered_type_has_a_case():
    assert set(CASES) == set(COUNTERS)


@pytest.mark.parametrize("cls", list(CASES), ids=lambda c: c.__name__)
def test_shapes_and_params_match_a_real_forward(cls, rng):
    make, shape = CASES[cls]
    layer = make(rng)
    y = layer.forward(rng.standard_normal(shape).astype(np.float32), True)
    c = layer_counts(layer, shape)
    assert c.input_shape == shape and c.output_shape == y.shape
    assert c.params == sum(p.size for p in layer.params().values())
    assert c.flops == c.forward_flops + c.backward_flops and c.bytes == c.forward_bytes + c.backward_bytes


def test_linear_formula(rng):
    b, n_in, n_out = 4, 6, 5
    c = layer_counts(nn.Linear(n_in, n_out, rng=rng), (b, n_in), itemsize=8)
    matmul = 2 * b * n_in * n_out  # one multiply and one add per term of each output
    assert c.forward_flops == matmul + b * n_out
    assert c.backward_flops == matmul + matmul + b * n_out  # dx, dW, db
    assert c.forward_bytes == 8 * (b * n_in + n_in * n_out + n_out + b * n_out)
    # backward reads dy, x, W and writes dx, dW, db
    assert c.backward_bytes == 8 * (b * n_out + b * n_in + n_in * n_out + b * n_in + n_in * n_out + n_out)


def test_conv2d_flops_from_the_im2col_matrices(rng):
    layer = nn.Conv2D(3, 4, 3, stride=2, padding=1, rng=rng)
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    layer.forward(x, True)
    rows, k = layer._cols.shape  # (B*Ho*Wo, C*kh*kw): the matrix forward multiplies by W.reshape(O, -1).T
    o = layer.params()["weight"].reshape(layer.out_channels, -1).shape[0]
    c = layer_counts(layer, x.shape)
    assert c.forward_flops == 2 * rows * k * o + rows * o
    # backward: dW = dy^T @ cols (O x rows x k) and dcols = dy @ W (rows x O x k), plus the bias sum
    assert c.backward_flops == 2 * o * rows * k + 2 * rows * o * k + rows * o
    assert c.forward_bytes == 4 * (x.size + layer.params()["weight"].size + o + rows * o)


def test_maxpool_relu_flatten_dropout_batchnorm_formulas(rng):
    pool = layer_counts(nn.MaxPool2D(2), (3, 4, 6, 5))
    outs = 3 * 4 * 3 * 2
    assert (pool.forward_flops, pool.backward_flops) == (outs * 3, outs)  # 3 comparisons for 4 values
    assert pool.forward_bytes == 4 * (3 * 4 * 6 * 5 + outs)

    n = 2 * 3 * 4
    relu = layer_counts(nn.ReLU(), (2, 3, 4))
    assert (relu.forward_flops, relu.backward_flops, relu.forward_bytes, relu.backward_bytes) == (n, n, 8 * n, 12 * n)
    drop = layer_counts(nn.Dropout(0.5, rng=rng), (2, 3, 4))
    assert (drop.forward_flops, drop.backward_flops) == (n, n)
    assert layer_counts(nn.Dropout(0.0, rng=rng), (2, 12)).flops == 0
    flat = layer_counts(nn.Flatten(), (2, 3, 4))
    assert (flat.flops, flat.bytes, flat.output_shape) == (0, 0, (2, 12))

    bn = layer_counts(nn.BatchNorm(3), (2, 3, 4, 4))
    m = 2 * 3 * 4 * 4
    assert (bn.forward_flops, bn.backward_flops) == (8 * m, 11 * m)
    assert bn.forward_bytes == 4 * (2 * m + 2 * 3)


def test_evaluation_forward(rng):
    n, c = 4 * 3 * 5 * 2, 3
    assert layer_counts(nn.Dropout(0.5, rng=rng), (4, 7), training=False).flops == 0
    bn = layer_counts(nn.BatchNorm(c), (4, c, 5, 2), training=False)
    assert bn.forward_flops == 4 * n and bn.forward_bytes == 4 * (2 * n + 4 * c)  # + running mean and variance
    lin = nn.Linear(6, 5, rng=rng)
    assert layer_counts(lin, (4, 6), training=False) == layer_counts(lin, (4, 6))


def test_model_counts_chain_shapes(rng):
    model = nn.digits_cnn(rng=rng)
    counts = model_counts(model, (16, 1, 8, 8))
    assert len(counts) == len(model)
    for prev, nxt in zip(counts, counts[1:], strict=False):
        assert prev.output_shape == nxt.input_shape
    assert counts[-1].output_shape == (16, 10)
    assert sum(c.params for c in counts) == sum(p.size for p in model.params().values())
    mlp = nn.mlp([64, 128, 64, 10], rng=rng)
    pairs = zip(mlp.layers, model_counts(mlp, (8, 64)), strict=True)
    linears = [c for layer, c in pairs if isinstance(layer, nn.Linear)]
    assert [c.forward_flops for c in linears] == [2 * 8 * i * o + 8 * o for i, o in [(64, 128), (128, 64), (64, 10)]]


def test_names(rng):
    model = nn.digits_cnn(rng=rng)
    assert layer_name(model[0]) == "Conv2D(1→8, 3×3)"
    assert layer_name(model[4], 4) == "4: Linear(128→32)"
    assert layer_name(model[1]) == "ReLU"


class _Mystery(nn.Layer):
    pass


def test_unknown_layer_is_named():
    with pytest.raises(TypeError, match="_Mystery"):
        layer_counts(_Mystery(), (2, 3))


@pytest.mark.parametrize(
    ("cls", "shape"),
    [(nn.Linear, (4, 7)), (nn.Linear, (4, 6, 1)), (nn.Conv2D, (2, 2, 7, 6)), (nn.MaxPool2D, (2, 3, 2, 8)),
     (nn.BatchNorm, (4, 2)), (nn.Flatten, (4,)), (nn.ReLU, (4, 0))],
)  # fmt: skip
def test_wrong_input_shapes(cls, shape, rng):
    with pytest.raises(ValueError, match="input_shape"):
        layer_counts(CASES[cls][0](rng), shape)


@pytest.mark.parametrize("shape", ["big", (4, 2.0), (4, True)])
def test_input_shapes_of_another_type(shape, rng):
    with pytest.raises(TypeError, match="input_shape"):
        layer_counts(nn.ReLU(), shape)


def test_bad_itemsize_and_model(rng):
    with pytest.raises(ValueError, match="itemsize=0"):  # a wrong value, not a wrong type
        layer_counts(nn.ReLU(), (2, 3), itemsize=0)
    with pytest.raises(TypeError, match="itemsize=1.5"):
        layer_counts(nn.ReLU(), (2, 3), itemsize=1.5)
    with pytest.raises(TypeError, match="Sequential"):
        model_counts(nn.ReLU(), (2, 3))


# ----- torch's FlopCounterMode as an outside oracle ------------------------------------------------------------------
def _torch_flops(module, x):
    torch = require("torch")
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.tensor(x, requires_grad=True)
    with FlopCounterMode(display=False) as mode:
        out = module(x)
    forward = mode.get_total_flops()
    with FlopCounterMode(display=False) as mode:
        out.sum().backward()
    return forward, mode.get_total_flops()


def test_linear_matches_torch_without_bias_terms(rng):
    torch = require("torch")
    b, n_in, n_out = 5, 7, 3
    fwd, bwd = _torch_flops(torch.nn.Linear(n_in, n_out), rng.standard_normal((b, n_in)).astype(np.float32))
    c = layer_counts(nn.Linear(n_in, n_out, rng=rng), (b, n_in))
    # torch counts addmm/mm only: the bias add and the bias gradient (a sum) are not FLOPs to it
    assert (c.forward_flops - b * n_out, c.backward_flops - b * n_out) == (fwd, bwd)


@pytest.mark.parametrize(("stride", "padding"), [(1, 1), (2, 0)])
def test_conv2d_matches_torch_without_bias_terms(stride, padding, rng):
    torch = require("torch")
    shape = (2, 3, 9, 7)
    fwd, bwd = _torch_flops(
        torch.nn.Conv2d(3, 4, 3, stride=stride, padding=padding), rng.standard_normal(shape).astype(np.float32)
    )
    c = layer_counts(nn.Conv2D(3, 4, 3, stride=stride, padding=padding, rng=rng), shape)
    outs = math.prod(c.output_shape)
    assert (c.forward_flops - outs, c.backward_flops - outs) == (fwd, bwd)
