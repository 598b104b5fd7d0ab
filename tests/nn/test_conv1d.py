"""Conv1D and Residual, and the MNIST-1D paper's models built from them: gradients against central finite differences
in float64, forward and backward against PyTorch (``torch.nn.Conv1d``, and the paper's ``MLPBase`` / ``ConvBase``
written in torch here, as in the mnist1d repository's ``notebooks/models.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from odyssey_lessons.nn import Conv1D, Linear, ReLU, Residual, Sequential, mnist1d_cnn, mnist1d_mlp
from tests.nn.test_layers import check_layer_gradients
from tests.oracles import require

torch = require("torch")

SHAPES = [(3, 1, 0), (3, 1, 1), (3, 2, 1), (5, 2, 1), (1, 1, 0), (4, 3, 2), (5, 2, 0)]  # kernel, stride, padding


@pytest.mark.parametrize(("kernel_size", "stride", "padding"), SHAPES)
def test_conv1d_gradients(rng, kernel_size, stride, padding):
    layer = Conv1D(2, 3, kernel_size, stride=stride, padding=padding, rng=rng)
    layer.load_params({"weight": layer.params()["weight"], "bias": rng.standard_normal(3)})
    check_layer_gradients(layer, rng.standard_normal((2, 2, 11)), rng)


@pytest.mark.parametrize(("kernel_size", "stride", "padding"), SHAPES)
def test_conv1d_matches_torch(rng, kernel_size, stride, padding):
    layer = Conv1D(3, 4, kernel_size, stride=stride, padding=padding, rng=rng).to(np.float64)
    layer.load_params({"weight": layer.params()["weight"], "bias": rng.standard_normal(4)})
    ref = torch.nn.Conv1d(3, 4, kernel_size, stride=stride, padding=padding, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(layer.params()["weight"]))
        ref.bias.copy_(torch.from_numpy(layer.params()["bias"]))
    x = rng.standard_normal((5, 3, 17))
    xt = torch.tensor(x, requires_grad=True)
    yt = ref(xt)
    y = layer.forward(x, training=True)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(y.shape)
    yt.backward(torch.from_numpy(g))
    layer.zero_grad()
    np.testing.assert_allclose(layer.backward(g), xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads()["weight"], ref.weight.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads()["bias"], ref.bias.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_conv1d_float32_and_checks(rng):
    layer = Conv1D(2, 3, 3, stride=2, padding=1, rng=rng)
    x = rng.standard_normal((4, 2, 9)).astype(np.float32)
    y = layer.forward(x, training=True)
    assert y.dtype == np.float32 and y.shape == (4, 3, 5) and y.flags.c_contiguous
    assert layer.backward(np.ones_like(y)).dtype == np.float32
    assert repr(layer) == "Conv1D(2, 3, kernel_size=3, stride=2, padding=1)"
    with pytest.raises(ValueError, match="ndim"):
        layer.forward(x[:, :, :, None], True)
    with pytest.raises(ValueError, match="channels"):
        layer.forward(x[:, :1], True)
    with pytest.raises(ValueError, match="kernel_size=5"):
        Conv1D(2, 3, 5, rng=rng).forward(x[:, :, :4], True)
    with pytest.raises(ValueError, match="padding=-1"):
        Conv1D(2, 3, 3, padding=-1, rng=rng)
    with pytest.raises(TypeError, match="stride"):
        Conv1D(2, 3, 3, stride=1.5, rng=rng)


def test_residual_gradients(rng):
    block = Residual(Linear(6, 6, rng=rng), ReLU(), Linear(6, 6, rng=rng))
    check_layer_gradients(block, rng.standard_normal((4, 6)), rng)
    assert sorted(block.params()) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    with pytest.raises(ValueError, match="keep the shape"):
        Residual(Linear(6, 3, rng=rng)).forward(np.zeros((2, 6), np.float32), True)


def test_the_papers_models_have_the_papers_parameter_counts(rng):
    # MLPBase(40, 10) with hidden_size=100 and ConvBase(10) with channels=25, linear_in=125, counted in torch
    assert sum(p.size for p in mnist1d_mlp(rng=rng).params().values()) == 15_210
    cnn = mnist1d_cnn(rng=rng).params()
    assert sum(p.size for p in cnn.values()) == 5_210
    assert [cnn[f"{i}.weight"].shape for i in (0, 2, 4, 7)] == [(25, 1, 5), (25, 25, 3), (25, 25, 3), (10, 125)]
    for model, x in [(mnist1d_cnn(rng=rng, channels=2), rng.standard_normal((2, 1, 40))),
                     (mnist1d_mlp(rng=rng, hidden=5), rng.standard_normal((3, 40)))]:  # fmt: skip
        # random biases: with zero biases a window of inactive ReLUs gives a pre-activation of exactly 0, the kink,
        # where finite differences see half the slope
        model.load_params(
            {k: rng.standard_normal(v.shape) if k.endswith("bias") else v for k, v in model.params().items()}
        )
        check_layer_gradients(model, x, rng)


def _torch_reference(model: Sequential, kind: str) -> torch.nn.Module:
    """The paper's MLPBase / ConvBase in torch (float64), holding the weights of ``model``."""
    p = {k: torch.from_numpy(v) for k, v in model.params().items()}
    if kind == "mlp":
        names = {"l1": "0", "l2": "2.0", "l3": "3"}

        class Ref(torch.nn.Module):
            def forward(self, x):
                lin = {k: (lambda h, v=v: h @ p[f"{v}.weight"].T + p[f"{v}.bias"]) for k, v in names.items()}
                h = lin["l1"](x).relu()
                h = h + lin["l2"](h).relu()
                return lin["l3"](h)

    else:

        class Ref(torch.nn.Module):
            def forward(self, x):
                conv = torch.nn.functional.conv1d
                h = x.view(-1, 1, x.shape[-1])
                for i in (0, 2, 4):  # the kernel sizes 5, 3, 3 come with the weights
                    h = conv(h, p[f"{i}.weight"], p[f"{i}.bias"], stride=2, padding=1).relu()
                return h.reshape(h.shape[0], -1) @ p["7.weight"].T + p["7.bias"]

    return Ref()


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_the_papers_models_match_torch(rng, kind):
    model = (mnist1d_mlp if kind == "mlp" else mnist1d_cnn)(rng=rng).to(np.float64)
    x = rng.standard_normal((6, 40) if kind == "mlp" else (6, 1, 40))
    want = _torch_reference(model, kind)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.forward(x, training=False), want, rtol=1e-10, atol=1e-12)
