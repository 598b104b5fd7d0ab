"""QuantizedModel: digits MLP and CNN trained briefly, quantized to int8 (and int4 weights), against the float model's
measured accuracy, a float fake-quant simulation with the same parameters (``tests/reference_int.py``), exact size
accounting, BatchNorm folding and clear refusals."""

from __future__ import annotations

import numpy as np
import pytest

from odyssey_lessons.data import digits_task
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
    digits_cnn,
    mlp,
)
from odyssey_lessons.optim import adam
from odyssey_lessons.quant._qlayers import QGemm
from odyssey_lessons.quant._qmodel import QuantizedModel
from odyssey_lessons.train import fit
from tests.reference_int import fake_quant_logits

N_CALIB = 512


def trained(layout: str, seed: int = 0):
    task = digits_task(layout, seed=0)
    rng = np.random.default_rng(seed)
    if layout == "mlp":
        model = mlp((64, 128, 10), rng=rng, dropout=0.1)
    else:
        model = digits_cnn(rng=rng)
    fit(model, task.train, optimizer=adam(1e-2), epochs=6, batch_size=64, seed=seed)
    return model, task


@pytest.fixture(scope="module", params=["mlp", "cnn"])
def trained_model(request):
    return trained(request.param)


def accuracy(pred, y) -> float:
    return float(np.mean(pred == y))


def test_int8_accuracy_close_to_float_and_agrees_with_fake_quant(trained_model):
    model, task = trained_model
    x_test, y_test = task.test
    float_acc = accuracy(model.forward(x_test, training=False).argmax(axis=1), y_test)
    qmodel = QuantizedModel.from_float(model, task.train[0][:N_CALIB])
    logits = qmodel.predict_logits(x_test)
    assert logits.dtype == np.float32 and logits.shape == (len(x_test), 10)
    int_acc = accuracy(qmodel.predict(x_test), y_test)
    assert abs(int_acc - float_acc) <= 0.015, (int_acc, float_acc)
    sim = fake_quant_logits(qmodel, x_test)
    agreement = float(np.mean(sim.argmax(axis=1) == logits.argmax(axis=1)))
    assert agreement >= 0.98
    # the simulation differs only by the fixed-point rounding (1 LSB per requantization, rarely propagating):
    # logits within 2 output steps
    assert np.max(np.abs(sim - logits)) <= 2 * float(qmodel.output_qp.scale) * (1 + 1e-5)


def test_predict_is_argmax_of_logits(trained_model):
    model, task = trained_model
    qmodel = QuantizedModel.from_float(model, task.train[0][:N_CALIB])
    x = task.val[0][:64]
    np.testing.assert_array_equal(qmodel.predict(x), qmodel.predict_logits(x).argmax(axis=1))


@pytest.mark.parametrize("weight_bits", [8, 4])
def test_size_accounting_is_exact(trained_model, weight_bits):
    model, task = trained_model
    qmodel = QuantizedModel.from_float(model, task.train[0][:N_CALIB], weight_bits=weight_bits)
    report = qmodel.size_report()
    gemms = [layer for layer in qmodel.layers if isinstance(layer, QGemm)]
    n_weights = sum(int(np.prod(g.weight_shape)) for g in gemms)
    n_out = sum(g.weight_shape[0] for g in gemms)
    assert report["weight_bytes"] == sum(
        (int(np.prod(g.weight_shape[1:])) * g.weight_shape[0] * weight_bits + 7) // 8 for g in gemms
    )
    assert report["float_weight_bytes"] == 4 * n_weights
    assert report["bias_bytes"] == 4 * n_out
    # per output channel: float32 scale, int32 m0, int32 shift; per activation tensor: float32 scale, int32 zero point
    assert report["overhead_bytes"] == 12 * n_out + 8 * (len(gemms) + 1)
    assert qmodel.nbytes == report["weight_bytes"] + report["bias_bytes"] + report["overhead_bytes"]
    float_nbytes = sum(a.nbytes for a in model.params().values())
    assert qmodel.float_nbytes == report["float_nbytes"] == float_nbytes
    if all(np.prod(g.weight_shape) % 2 == 0 for g in gemms):
        assert report["weight_ratio"] == 32 / weight_bits


def test_int4_weights_are_stored_packed_and_use_the_4_bit_range(trained_model):
    model, task = trained_model
    qmodel = QuantizedModel.from_float(model, task.train[0][:N_CALIB], weight_bits=4)
    for g in (layer for layer in qmodel.layers if isinstance(layer, QGemm)):
        assert g.weight.dtype == np.uint8
        codes = g.weight_codes()
        assert codes.dtype == np.int8 and codes.min() >= -7 and codes.max() <= 7
    sim = fake_quant_logits(qmodel, task.test[0])
    agreement = float(np.mean(sim.argmax(axis=1) == qmodel.predict(task.test[0])))
    assert agreement >= 0.98


def test_batchnorm_is_folded(rng):
    model = Sequential(
        Conv2D(1, 4, 3, padding=1, rng=rng),
        BatchNorm(4),
        ReLU(),
        MaxPool2D(2),
        Flatten(),
        Linear(64, 16, rng=rng),
        BatchNorm(16),
        ReLU(),
        Dropout(0.2, rng=rng),
        Linear(16, 10, rng=rng),
    )
    x = rng.standard_normal((200, 1, 8, 8)).astype(np.float32)
    for _ in range(3):  # give BatchNorm non-trivial running statistics
        model.forward(x, training=True)
    for layer in (model[1], model[6]):
        layer.params()["weight"][...] = rng.uniform(0.5, 2.0, layer.num_features)
        layer.params()["bias"][...] = rng.normal(0, 0.5, layer.num_features)
    qmodel = QuantizedModel.from_float(model, x)
    assert sum(isinstance(layer, QGemm) for layer in qmodel.layers) == 3
    ref = model.forward(x, training=False)
    got = qmodel.predict_logits(x)
    assert np.mean(ref.argmax(1) == got.argmax(1)) >= 0.9
    spread = ref.max() - ref.min()
    assert np.median(np.abs(ref - got)) < 0.05 * spread


def test_refuses_unsupported_models(rng):
    x = rng.standard_normal((8, 4)).astype(np.float32)

    class Tanh(Layer):
        pass

    with pytest.raises(ValueError, match="not supported"):
        QuantizedModel.from_float(Sequential(Linear(4, 3, rng=rng), Tanh()), x)
    with pytest.raises(ValueError, match="BatchNorm"):
        QuantizedModel.from_float(Sequential(ReLU(), BatchNorm(4), Linear(4, 2, rng=rng)), x)
    with pytest.raises(TypeError, match="Sequential"):
        QuantizedModel.from_float(Linear(4, 2, rng=rng), x)
    with pytest.raises(TypeError, match="calibration_x"):
        QuantizedModel.from_float(mlp((4, 2), rng=rng), x.astype(np.int32))
    with pytest.raises(ValueError, match="weight_granularity"):
        QuantizedModel.from_float(mlp((4, 2), rng=rng), x, weight_granularity="group")


def test_input_quantization_and_output_dequantization_match_the_affine_functions(rng):
    from odyssey_lessons.quant import choose_qparams, dequantize_affine, quantize_affine

    x = (rng.standard_normal((50, 7)) * 3).astype(np.float32)
    qp = choose_qparams(x[:20], bits=8, symmetric=False)  # calibrated on part of x: the rest saturates too
    identity = QuantizedModel([], qp, qp, float_nbytes=0)
    np.testing.assert_array_equal(identity.forward_int(x), quantize_affine(x, qp))
    np.testing.assert_array_equal(identity.predict_logits(x), dequantize_affine(quantize_affine(x, qp), qp))
    with pytest.raises(ValueError, match="NaN"):
        identity.forward_int(np.full((1, 7), np.nan, np.float32))
    with pytest.raises(TypeError, match="x must be a float"):
        identity.forward_int(x.astype(np.int8))
