"""The post-training quantization study and its widget: every value is checked against the quant package's own
functions (choose_qparams, quantization_error, size_report, quantize_float) and against the integer-only model."""

from __future__ import annotations

import numpy as np
import pytest

from odyssey_lessons.quant import (
    OBSERVERS,
    FakeQuant,
    QuantizedModel,
    approximation_error,
    choose_qparams,
    fake_quantize,
    levels,
    prepare_qat,
    quantization_error,
    quantize_float,
    quantize_weight,
    size_report,
    weight_slices,
)
from odyssey_lessons.studies import QuantSetup, float_copy, ptq_evaluate, ptq_run, trained_digits
from odyssey_lessons.widgets._quant_explorer import BITS_RANGE, QuantExplorer

TINY = QuantSetup(mlp_sizes=(64, 32, 16, 10), mlp_epochs=3, cnn_epochs=1, n_calib=128, calib_batch=32)


def test_trained_models_are_cached_and_trained():
    run = trained_digits("mlp", TINY)
    assert trained_digits("mlp", TINY) is run
    assert run.test_acc > 0.8 and len(run.history.epoch["epoch"]) == TINY.mlp_epochs


@pytest.mark.parametrize("layout", ["mlp", "cnn"])
@pytest.mark.parametrize("granularity", ["tensor", "channel", "group"])
@pytest.mark.parametrize("observer", list(OBSERVERS))
def test_weights_sizes_and_errors_match_the_package(layout, granularity, observer):
    result = ptq_run(layout, 3, granularity, observer, setup=TINY)
    model = trained_digits(layout, TINY).model
    bias_bytes = 0
    for q in result.layers:
        w = model.params()[q.name]
        rows = w.reshape(w.shape[0], -1)
        np.testing.assert_array_equal(q.weight, rows)  # the float weight, not its quantized copy
        axis, group = weight_slices(rows.shape[1], granularity, TINY.group_size)
        qp = choose_qparams(rows, bits=3, granularity=granularity, axis=axis, group_size=group, observer=observer)
        assert q.qparams == qp
        np.testing.assert_array_equal(q.dequantized, fake_quantize(rows, qp))
        assert q.error == quantization_error(rows, qp)
        report = size_report(rows.size, qp)
        assert (q.payload_bytes, q.scale_bytes) == (report["payload_bytes"], report["overhead_bytes"])
        bias_bytes += 4 * model.params()[q.name.replace("weight", "bias")].size
    assert result.bias_bytes == bias_bytes
    assert result.float_nbytes == sum(v.nbytes for v in model.params().values())
    assert result.nbytes == sum(q.payload_bytes + q.scale_bytes for q in result.layers) + bias_bytes


def test_simulation_is_a_fake_quantized_forward():
    """Oracle: the MLP written out by hand with fake_quantize at the input and after every layer."""
    run = trained_digits("mlp", TINY)
    calib = run.calibration_x[: TINY.n_calib]
    p = run.model.params()
    result = ptq_run("mlp", 4, "channel", "minmax", act_bits=6, setup=TINY)

    def forward(x, quant_w, quant_a):
        h = quant_a(0, x)
        for k, i in enumerate((0, 2)):
            h = quant_a(k + 1, np.maximum(h @ quant_w(p[f"{i}.weight"]).T + p[f"{i}.bias"], 0))
        return quant_a(3, h @ quant_w(p["4.weight"]).T + p["4.bias"])

    acts = []
    forward(calib, lambda w: w, lambda k, h: acts.append(h) or h)  # float activations of the calibration set
    qps = [choose_qparams(a, bits=6, symmetric=False) for a in acts]

    def quant_w(w):
        return fake_quantize(w, choose_qparams(w, bits=4, granularity="channel", axis=0))

    logits = forward(run.task.test[0], quant_w, lambda k, h: fake_quantize(h, qps[k]))
    want = np.mean(np.argmax(logits, axis=1) == run.task.test[1])
    assert result.test_acc == pytest.approx(want, abs=1.5 / len(logits))  # float32 sums in another order


@pytest.mark.parametrize("layout", ["mlp", "cnn"])
def test_simulation_agrees_with_the_integer_model(layout):
    run = trained_digits(layout, TINY)
    for bits in (8, 4):
        qm = QuantizedModel.from_float(run.model, run.calibration_x[: TINY.n_calib], weight_bits=bits)
        sim = ptq_run(layout, bits, "channel", "minmax", setup=TINY)
        assert abs(np.mean(qm.predict(run.task.test[0]) == run.task.test[1]) - sim.test_acc) <= 3 / 269


def test_float_formats_use_quantize_float():
    result = ptq_run("mlp", weight_format="e4m3fn", act_format="e4m3fn", setup=TINY)
    model = trained_digits("mlp", TINY).model
    for q in result.layers:
        w = model.params()[q.name]
        want, scales = quantize_float(w, "e4m3fn", granularity="channel", axis=0)
        np.testing.assert_array_equal(q.dequantized, want)
        assert q.qparams is None and q.scale_bytes == 4 * scales.size and q.payload_bytes == w.size
    assert result.test_acc > result.float_test_acc - 0.05


def test_float_copy_strips_qat_layers():
    run = trained_digits("cnn", TINY)
    prepared = prepare_qat(run.model, weight_bits=4)
    plain = float_copy(prepared)
    assert not any(isinstance(layer, FakeQuant) for layer in plain.layers)
    assert [type(a).__name__ for a in plain.layers] == [type(b).__name__ for b in run.model.layers]
    for (k, v), w in zip(plain.params().items(), run.model.params().values(), strict=True):
        np.testing.assert_array_equal(v, w, err_msg=k)
    result = ptq_evaluate(plain, run.task, run.calibration_x[:64], bits=8)
    assert result.agreement > 0.95


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="layout"):
        ptq_run("rnn", setup=TINY)
    with pytest.raises(ValueError, match="bits"):
        ptq_run("mlp", 1, setup=TINY)
    with pytest.raises(ValueError, match="granularity"):
        ptq_run("mlp", 4, "row", setup=TINY)
    with pytest.raises(ValueError, match="observer"):
        ptq_run("mlp", 4, "channel", "kl", setup=TINY)
    with pytest.raises(ValueError, match="weight_format"):
        ptq_run("mlp", weight_format="int3", setup=TINY)
    with pytest.raises(ValueError, match="bits"):
        QuantExplorer(bits=9, setup=TINY, draw=False)
    with pytest.raises(ValueError, match="layer"):
        QuantExplorer(layer="1.weight", setup=TINY, draw=False)


def test_levels_are_the_grid():
    qp = choose_qparams(np.array([-1.0, 0.5, 2.0], np.float32), bits=3, symmetric=False)
    lv = levels(qp)
    assert lv.size == 8
    np.testing.assert_array_equal(fake_quantize(lv.astype(np.float32), qp), lv.astype(np.float32))


def test_explorer_follows_its_controls():
    w = QuantExplorer(bits=4, granularity="channel", observer="minmax", setup=TINY)
    assert w.state is ptq_run("mlp", 4, "channel", "minmax", setup=TINY)
    assert sorted(w.curve) == list(range(BITS_RANGE[0], BITS_RANGE[1] + 1))
    w.bits.value = 2
    w.granularity.value = "tensor"
    w.observer.value = "percentile"
    state = w.state
    assert state is ptq_run("mlp", 2, "tensor", "percentile", setup=TINY)
    layer = state.layer("0.weight")
    direct = choose_qparams(layer.weight, bits=2, observer="percentile")
    assert layer.qparams == direct
    assert f"{layer.error['sqnr_db']:.1f} dB" in w.readout.value
    assert quantization_error(layer.weight, direct)["sqnr_db"] == layer.error["sqnr_db"]
    assert "2-bit" in w.readout.value and "percentile" in w.readout.value
    assert f"{state.nbytes:,} B" in w.readout.value and f"{100 * state.test_acc:.1f}%" in w.readout.value
    w.layer.value = "2.weight"
    assert "layer 2.weight" in w.readout.value
    assert w.state is state  # the layer only changes what is shown
    (png,) = w.plot.outputs
    assert png["data"]["image/png"]


def test_levels_of_a_channel_and_bad_index():
    w = np.array([[0.5, -1.0], [2.0, 0.25]], np.float32)
    qp = choose_qparams(w, bits=2, granularity="channel", axis=0)
    np.testing.assert_array_equal(levels(qp, 0), [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(levels(qp, 1), [-2.0, 0.0, 2.0])
    with pytest.raises(IndexError, match="slices"):
        levels(qp, 2)
    with pytest.raises(TypeError, match="QParams"):
        levels(w)


def test_weight_slices_and_quantize_weight():
    assert weight_slices(64, "tensor", 16) == (None, None)
    assert weight_slices(64, "channel", 16) == (0, None)
    assert weight_slices(64, "group", 16) == (1, 16)
    assert weight_slices(9, "group", 16) == (1, 9)  # a group cannot be larger than the row: the row is the group
    with pytest.raises(ValueError, match="granularity"):
        weight_slices(64, "block", 16)
    rows = np.random.default_rng(0).standard_normal((8, 9)).astype(np.float32)
    qp, deq, payload, scale_bytes = quantize_weight(rows, bits=3, granularity="group", observer="mse")
    assert qp == choose_qparams(rows, bits=3, granularity="group", axis=1, group_size=9, observer="mse")
    assert (payload, scale_bytes) == (27, 32)  # ceil(72 * 3 / 8) bytes of codes, 8 float32 scales
    np.testing.assert_array_equal(deq, fake_quantize(rows, qp))
    assert approximation_error(rows, deq) == pytest.approx(quantization_error(rows, qp), rel=1e-12)
    with pytest.raises(ValueError, match="weight_format"):
        quantize_weight(rows, weight_format="int4")


def test_quantize_weight_nf4_is_the_nf4_codec_in_blocks_of_64_or_a_row():
    from odyssey_lessons.quant import nf4_decode, nf4_encode

    rng = np.random.default_rng(1)
    for shape, block in (((4, 128), 64), ((8, 9), 9)):
        rows = rng.standard_normal(shape).astype(np.float32)
        qp, deq, payload, scale_bytes = quantize_weight(rows, weight_format="nf4")
        codes, absmax = nf4_encode(rows, group_size=block)
        assert qp is None and deq.shape == rows.shape
        np.testing.assert_array_equal(deq.reshape(-1), nf4_decode(codes, absmax, group_size=block).reshape(-1))
        assert (payload, scale_bytes) == ((rows.size + 1) // 2, 4 * (rows.size // block))
