"""Fake quantization and the straight-through estimator: masks against the element-wise reference (and PyTorch when
installed), QAT layers against float layers holding the fake-quantized weights, and QAT against post-training
quantization on the digits MLP."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from odyssey_lessons.data import digits_task
from odyssey_lessons.nn import Conv2D, Dropout, Linear, ReLU, Sequential, digits_cnn, mlp
from odyssey_lessons.optim import adam, sgd
from odyssey_lessons.quant import (
    FakeQuant,
    QATConv2D,
    QATLinear,
    calc_qparams,
    choose_qparams,
    fake_quantize,
    prepare_qat,
    ste_mask,
)
from odyssey_lessons.train import evaluate, fit
from tests.oracles import require
from tests.reference_quant import ref_ste_mask


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("bits", [2, 4, 8])
def test_ste_mask_matches_reference(rng, symmetric, bits):
    x = (rng.standard_normal((5, 8)) * 2).astype(np.float32)
    qp = calc_qparams(np.float64(-1.0), np.float64(1.5), bits=bits, symmetric=symmetric)
    mask = ste_mask(x, qp)
    np.testing.assert_array_equal(mask, ref_ste_mask(x, qp.scale, qp.zero_point, bits, symmetric))
    assert 0 < mask.sum() < mask.size  # the range clips some values and keeps others
    qpc = choose_qparams(x[:, :4], bits=bits, symmetric=symmetric, granularity="channel", axis=0)
    np.testing.assert_array_equal(
        ste_mask(x[:, 4:], qpc),
        ref_ste_mask(x[:, 4:], qpc.scale, qpc.zero_point, bits, symmetric, "channel", 0),
    )


@pytest.mark.parametrize("symmetric", [True, False])
def test_ste_mask_matches_torch(rng, symmetric):
    torch = require("torch")
    x = (rng.standard_normal(400) * 2).astype(np.float32)
    qp = calc_qparams(np.float64(-1.0), np.float64(1.5), bits=4, symmetric=symmetric)
    xt = torch.tensor(x, requires_grad=True)
    y = torch.fake_quantize_per_tensor_affine(xt, float(qp.scale), int(qp.zero_point), qp.qmin, qp.qmax)
    y.backward(torch.ones_like(xt))
    np.testing.assert_array_equal(ste_mask(x, qp), xt.grad.numpy())
    np.testing.assert_allclose(fake_quantize(x, qp), y.detach().numpy(), rtol=0, atol=1e-6)


def test_fake_quant_layer_trains_then_freezes(rng):
    fq = FakeQuant(bits=4, observer="moving_average", averaging_constant=0.5)
    x1 = rng.standard_normal((8, 6)).astype(np.float32)
    y1 = fq(x1, training=True)
    np.testing.assert_array_equal(y1, fake_quantize(x1, choose_qparams(x1, bits=4, symmetric=False)))
    x2 = (rng.standard_normal((8, 6)) * 3).astype(np.float32)
    fq(x2, training=True)
    frozen = fq.qparams()
    lo1, lo2, hi1, hi2 = (float(v) for v in (x1.min(), x2.min(), x1.max(), x2.max()))
    lo, hi = lo1 + 0.5 * (lo2 - lo1), hi1 + 0.5 * (hi2 - hi1)
    np.testing.assert_array_equal(frozen.scale, calc_qparams(lo, hi, bits=4, symmetric=False).scale)
    x3 = (rng.standard_normal((8, 6)) * 10).astype(np.float32)
    y3 = fq(x3, training=False)  # evaluation: the range stays as observed
    assert fq.qparams() == frozen
    np.testing.assert_array_equal(y3, fake_quantize(x3, frozen))
    g = rng.standard_normal(x3.shape).astype(np.float32)
    expected = g * ref_ste_mask(x3, frozen.scale, frozen.zero_point, 4, False)
    np.testing.assert_array_equal(fq.backward(g), expected)
    with pytest.raises(ValueError, match="empty calibration data"):
        FakeQuant()(x1, training=False)
    with pytest.raises(ValueError, match="observer"):
        FakeQuant(observer="kl")


@pytest.mark.parametrize(("granularity", "group_size"), [("channel", None), ("tensor", None), ("group", 4)])
def test_qat_linear_forward_backward(rng, granularity, group_size):
    lin = Linear(8, 5, rng=rng)
    before = {k: v.copy() for k, v in lin.params().items()}
    q = QATLinear.from_float(lin, bits=3, granularity=granularity, group_size=group_size)
    assert set(q.params()) == {"weight", "bias"}
    axis = None if granularity == "tensor" else (0 if granularity == "channel" else 1)
    w = lin.params()["weight"]
    wq = fake_quantize(w, choose_qparams(w, bits=3, granularity=granularity, axis=axis, group_size=group_size))
    ref = Linear(8, 5, rng=rng)
    ref.load_params({"weight": wq, "bias": lin.params()["bias"]})
    x = rng.standard_normal((4, 8)).astype(np.float32)
    np.testing.assert_array_equal(q(x, training=True), ref(x, training=True))
    g = rng.standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(q.backward(g), ref.backward(g), rtol=1e-6)
    for name in ("weight", "bias"):  # straight through: the master weight gets the quantized weight's gradient
        np.testing.assert_allclose(q.grads()[name], ref.grads()[name], rtol=1e-6)
    np.testing.assert_array_equal(q.params()["weight"], w)  # master weights stay float
    for k, v in lin.params().items():
        np.testing.assert_array_equal(v, before[k])


def test_qat_conv_forward_backward(rng):
    conv = Conv2D(2, 3, 3, padding=1, rng=rng)
    q = QATConv2D.from_float(conv, bits=4)
    w = conv.params()["weight"]
    w2 = w.reshape(3, -1)
    wq = fake_quantize(w2, choose_qparams(w2, bits=4, granularity="channel", axis=0)).reshape(w.shape)
    ref = copy.deepcopy(conv)
    ref.load_params({"weight": wq, "bias": conv.params()["bias"]})
    x = rng.standard_normal((2, 2, 5, 5)).astype(np.float32)
    np.testing.assert_array_equal(q(x, training=True), ref(x, training=True))
    g = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(q.backward(g), ref.backward(g), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(q.grads()["weight"], ref.grads()["weight"], rtol=1e-5, atol=1e-6)


def test_prepare_qat_structure_and_copies(rng):
    model = digits_cnn(rng=rng, dropout=0.1)
    before = {k: v.copy() for k, v in model.params().items()}
    prepared = prepare_qat(model, weight_bits=4, act_bits=8)
    kinds = [type(layer) for layer in prepared.layers]
    assert kinds.count(QATConv2D) == 1 and kinds.count(QATLinear) == 2
    assert kinds.count(FakeQuant) == kinds.count(ReLU) == 2
    for i, layer in enumerate(prepared.layers):
        if isinstance(layer, ReLU):
            assert isinstance(prepared.layers[i + 1], FakeQuant)
    assert not any(isinstance(layer, Dropout) and layer is d for layer in prepared.layers for d in model.layers)
    x = rng.standard_normal((4, 1, 8, 8)).astype(np.float32)
    prepared(x, training=True)
    prepared.backward(np.ones((4, 10), dtype=np.float32))
    for k, v in model.params().items():
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(TypeError, match="model"):
        prepare_qat(Linear(2, 2, rng=rng))
    with pytest.raises(ValueError, match="bits"):
        prepare_qat(model, weight_bits=1)
    with pytest.raises(ValueError, match="group_size"):
        prepare_qat(Sequential(Linear(6, 2, rng=rng)), weight_granularity="group", weight_group_size=4)


def test_qat_beats_ptq_at_2_bits():
    """A float-trained MLP quantized to 2-bit weights (per-channel absmax, 8-bit activations) loses accuracy; two
    epochs of QAT from the float weights recover most of it."""
    task = digits_task(layout="mlp", seed=0)
    model = mlp((64, 64, 10), rng=np.random.default_rng(0))
    fit(model, task.train, optimizer=adam(1e-2), epochs=10, val=task.val, seed=0)
    _, float_acc = evaluate(model, *task.val)

    ptq = prepare_qat(model, weight_bits=2, act_bits=8)
    ptq(task.train[0], training=True)  # calibrate the activation ranges on the training set
    _, ptq_acc = evaluate(ptq, *task.val)

    qat = prepare_qat(model, weight_bits=2, act_bits=8)
    history = fit(qat, task.train, optimizer=adam(3e-3), epochs=2, val=task.val, seed=0)
    _, qat_acc = evaluate(qat, *task.val)
    assert qat_acc == history.final_val_acc
    assert ptq_acc < float_acc
    assert qat_acc > ptq_acc
    assert evaluate(qat, *task.test)[1] > evaluate(ptq, *task.test)[1]  # and on data neither run looked at
    # the QAT model's master weights moved (fit updated them through the STE); the float model did not
    assert not np.array_equal(qat.params()["0.weight"], model.params()["0.weight"])


def test_prepare_qat_group_wise(rng):
    model = mlp((64, 16, 10), rng=rng)
    prepared = prepare_qat(model, weight_bits=4, weight_granularity="group", weight_group_size=16)
    first = prepared.layers[0]
    w = model.params()["0.weight"]
    expected = fake_quantize(w, choose_qparams(w, bits=4, granularity="group", axis=1, group_size=16))
    np.testing.assert_array_equal(first.quantized_weight(), expected)
    assert first.weight_qparams().scale.shape == (16, 4)


def test_fit_runs_on_prepared_cnn(rng):
    task = digits_task(layout="cnn", seed=0)
    model = prepare_qat(digits_cnn(rng=np.random.default_rng(0)), weight_bits=4, act_bits=8)
    x, y = task.train
    history = fit(model, (x[:256], y[:256]), optimizer=sgd(0.05), epochs=1, val=task.val, seed=0)
    assert np.isfinite(history.step["loss"]).all()
