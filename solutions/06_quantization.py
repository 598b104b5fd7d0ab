# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exercises 6 · Quantization by hand
#
# Three tasks, each checked against the course package (`odyssey_lessons.quant`) as the oracle:
#
# 1. **`quantize_per_channel`** / **`dequantize_per_channel`**: symmetric per-channel quantization of a weight
#    tensor with numpy, code for code and scale for scale what `choose_qparams` / `quantize_affine` /
#    `dequantize_affine` give.
# 2. **`percentile_scale`** and **`fake_quant_mse`**: percentile calibration, and the measurement showing that it
#    beats min-max on heavy-tailed data (and does not on uniform data).
# 3. **`packed_model_bytes`**: the real size of a model stored with packed int4 weights (codes + scales + biases),
#    as `pack_int` and `size_report` count it.
#
# Every function returns new arrays (it must not modify its inputs). Write your code in place of the
# `raise NotImplementedError(...)` lines, run the cell, then run the check cell below it. A check prints `[PASS] ...`
# or `[FAIL] ...` with a hint. Before you run anything, each check cell shows the output a correct answer prints: that
# is what your run is compared with. To score the whole notebook, save it and run
# `odyssey check exercises/06_quantization.ipynb` in a terminal.

# %%
import numpy as np

from odyssey_lessons.grading import check, close
from odyssey_lessons.nn import digits_cnn, mlp
from odyssey_lessons.quant import (
    PercentileObserver,
    QParams,
    choose_qparams,
    pack_int,
    quantization_error,
    quantize_affine,
    size_report,
)

# %% [markdown]
# ## Task 1 · Symmetric per-channel quantization
#
# Symmetric $b$-bit quantization uses the codes $-q_{\max} \ldots q_{\max}$ with $q_{\max} = 2^{b-1} - 1$ (int8:
# $-127 \ldots 127$; the code $-128$ is left out so the grid is symmetric around 0). **Per channel**, each slice of the
# tensor along `axis` (for a weight stored `(out, in)` or `(out, in, k, k)`, `axis=0`: one slice per output unit) gets
# its own scale:
#
# $$s_c = \frac{\max_{i \in c} |w_i|}{q_{\max}}, \qquad q_i = \mathrm{clamp}\big(\mathrm{round}(w_i / s_c),
#   -q_{\max}, q_{\max}\big), \qquad \hat w_i = q_i \, s_c .$$
#
# Details that make your result identical to the package's:
#
# - compute in float32: `w.astype(np.float32) / scale`, then `np.rint` (round half to even), then clip;
# - the scale is float32, shaped like `w` with every axis except `axis` reduced to 1 (`keepdims=True`), so it
#   broadcasts against `w`;
# - a channel of zeros would give $s = 0$: use at least $2^{-23}$ (float32's eps), as the package does;
# - return the codes as `np.int8`, the dequantized values as float32.


# %%
def quantize_per_channel(w: np.ndarray, bits: int, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-channel codes (int8, ``w``'s shape) and scales (float32, keepdims shape) of ``w``."""
    ### BEGIN SOLUTION
    qmax = 2 ** (bits - 1) - 1
    others = tuple(i for i in range(w.ndim) if i != axis % w.ndim)
    absmax = np.max(np.abs(w.astype(np.float32)), axis=others, keepdims=True)
    scale = np.maximum(absmax.astype(np.float64) / qmax, 2.0**-23).astype(np.float32)
    q = np.clip(np.rint(w.astype(np.float32) / scale), -qmax, qmax)
    return q.astype(np.int8), scale
    ### END SOLUTION


def dequantize_per_channel(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``q * scale`` as float32."""
    ### BEGIN SOLUTION
    return q.astype(np.float32) * scale
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def per_channel_oracle(w: np.ndarray, bits: int, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The package's symmetric per-channel codes and scales of ``w`` (in float32): choose_qparams, quantize."""
    qp = choose_qparams(w.astype(np.float32), bits=bits, symmetric=True, granularity="channel", axis=axis)
    return quantize_affine(w.astype(np.float32), qp), qp.scale


def dequantize_oracle(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """What ``dequantize_affine`` computes for symmetric codes (zero point 0): ``q * scale`` in float32."""
    return q.astype(np.int32).astype(np.float32) * scale


def test_per_channel(answers) -> None:
    rng = np.random.default_rng(61)
    conv = digits_cnn(rng=np.random.default_rng(0)).params()["0.weight"]  # (8, 1, 3, 3)
    cases = [  # tensor, bits, axis
        (rng.standard_normal((16, 32)).astype(np.float32) * rng.uniform(0.01, 3, (16, 1)).astype(np.float32), 8, 0),
        (rng.standard_normal((16, 32)).astype(np.float32), 4, 0),
        (rng.standard_normal((10, 6)).astype(np.float32), 2, 1),
        (conv, 3, 0),
        (rng.laplace(size=(4, 3, 5)).astype(np.float32), 5, -1),
        (np.vstack([np.zeros((1, 8)), rng.standard_normal((3, 8))]).astype(np.float32), 8, 0),  # a channel of zeros
        ((rng.integers(-3, 4, (6, 8)) * 0.5).astype(np.float64), 4, 0),  # float64 input, exact ties
    ]
    for w, bits, axis in cases:
        what = f"w.shape={w.shape}, bits={bits}, axis={axis}"
        # int8 codes and float32 keepdims scales, exactly the package's; w unchanged
        q, scale = answers.quantize_per_channel(w, bits, axis)
        w_hat = answers.dequantize_per_channel(q, scale)  # float32, exactly dequantize's
        err = np.abs(w.astype(np.float32) - w_hat)
        assert np.all(err <= scale / 2 * (1 + 1e-6)), f"{what}: an error exceeds half a step"


check("quant.per_channel", test_per_channel, points=4,
      hint="s = max|w| over all axes but `axis` (keepdims) / (2**(b-1)-1), >= 2**-23; q = clip(rint(w/s))",
      oracles={"quantize_per_channel": per_channel_oracle, "dequantize_per_channel": dequantize_oracle})  # fmt: skip

# %% [markdown]
# ## Task 2 · Percentile calibration
#
# Min-max calibration sets the range from the largest value seen. On **heavy-tailed** data (a few huge outliers,
# as in activations of large models), that makes the step $s$ huge, and almost every value rounds to 0 or ±1
# level. **Percentile calibration** ignores the rarest values: symmetric, per tensor,
#
# $$s = \frac{\mathrm{percentile}_p(|x|)}{q_{\max}} ,$$
#
# and values beyond the range are clipped to $\pm q_{\max} s$. Clipping a few outliers costs a large error on them;
# a finer grid saves a small error on everything else. Which wins is a measurement:
#
# - `percentile_scale(x, bits, p)`: the scale above, with `np.percentile` (its default linear interpolation) of
#   $|x|$ computed in float64, at least $2^{-23}$, returned as a float32 scalar (`np.float32`); `p = 100` is min-max.
# - `fake_quant_mse(x, scale, bits)`: $\mathrm{mean}\big((x - \hat x)^2\big)$ with
#   $\hat x = \mathrm{clamp}(\mathrm{round}(x/s), -q_{\max}, q_{\max})\,s$ (in float32, the mean in float64), a float.
#
# The check compares both with the package (`PercentileObserver`, `quantization_error`), then uses *your* functions
# to measure percentile (99.9) against min-max at 4 bits on Laplace data (a sharp peak and exponential tails, the
# shape of many trained weights and activations) and on uniform data (no tails at all).


# %%
def percentile_scale(x: np.ndarray, bits: int, p: float) -> np.float32:
    """Symmetric per-tensor scale from the ``p``-th percentile of ``|x|``."""
    ### BEGIN SOLUTION
    qmax = 2 ** (bits - 1) - 1
    hi = np.percentile(np.abs(x.astype(np.float32).astype(np.float64)), p)
    return np.float32(max(hi / qmax, 2.0**-23))
    ### END SOLUTION


def fake_quant_mse(x: np.ndarray, scale: float, bits: int) -> float:
    """Mean squared error of symmetric ``bits``-bit fake quantization of ``x`` with step ``scale``."""
    ### BEGIN SOLUTION
    qmax = 2 ** (bits - 1) - 1
    x32 = x.astype(np.float32)
    s = np.float32(scale)
    x_hat = np.clip(np.rint(x32 / s), -qmax, qmax) * s
    return float(np.mean((x32.astype(np.float64) - x_hat.astype(np.float64)) ** 2))
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def percentile_scale_oracle(x: np.ndarray, bits: int, p: float) -> np.float32:
    """The scale of the package's symmetric ``PercentileObserver``."""
    observer = PercentileObserver(bits=bits, symmetric=True, percentile=p)
    return np.float32(observer.observe(np.asarray(x, np.float32)).qparams().scale)


def fake_quant_mse_oracle(x: np.ndarray, scale: float, bits: int) -> float:
    """The package's ``quantization_error(...)["mse"]`` with the symmetric per-tensor scale ``scale``."""
    qp = QParams(np.float32(scale), np.int32(0), bits=bits, symmetric=True)
    return quantization_error(np.asarray(x, np.float32), qp)["mse"]


def test_percentile(answers) -> None:
    rng = np.random.default_rng(62)
    heavy = rng.laplace(size=20_000).astype(np.float32)
    uniform = rng.uniform(-1, 1, 20_000).astype(np.float32)
    for x in (heavy, uniform, rng.standard_normal((50, 40))):  # the last: a 2-D float64 input
        for bits, p in [(4, 99.9), (8, 99.99), (3, 99.0), (4, 100.0)]:
            answers.call("percentile_scale", x, bits, p, compare=close(rtol=1e-6))  # x unchanged
            package_scale = float(percentile_scale_oracle(x, bits, p))
            answers.fake_quant_mse(x, package_scale, bits)  # rtol 1e-9 (the check's comparison)
    # the measurement, with your functions: on heavy tails percentile wins clearly; on uniform data it hardly matters
    ratio = {}
    for x, name in [(heavy, "laplace"), (uniform, "uniform")]:
        minmax = answers.call("percentile_scale", x, 4, 100.0, compare=close(rtol=1e-6))
        percentile = answers.call("percentile_scale", x, 4, 99.9, compare=close(rtol=1e-6))
        ratio[name] = answers.fake_quant_mse(x, minmax, 4) / answers.fake_quant_mse(x, percentile, 4)
    assert ratio["laplace"] > 1.5, f"laplace: min-max MSE / percentile MSE = {ratio['laplace']:.3g}, expected > 1.5"
    assert abs(ratio["uniform"] - 1) < 0.05, f"uniform: min-max MSE / percentile MSE = {ratio['uniform']:.3g}"


check("quant.percentile", test_percentile, points=3,
      hint="s = np.percentile(|x| as float64, p) / (2**(b-1)-1), >= 2**-23; x_hat = clip(rint(x/s)) * s",
      oracles={"percentile_scale": percentile_scale_oracle, "fake_quant_mse": fake_quant_mse_oracle},
      compare=close(rtol=1e-9))  # fmt: skip

# %% [markdown]
# The measurement with your functions (the check above asserts it):

# %%
try:
    rng = np.random.default_rng(62)
    for name, x in [("Laplace", rng.laplace(size=20_000)), ("uniform", rng.uniform(-1, 1, 20_000))]:
        x = x.astype(np.float32)
        minmax = fake_quant_mse(x, percentile_scale(x, 4, 100.0), 4)
        percentile = fake_quant_mse(x, percentile_scale(x, 4, 99.9), 4)
        print(f"4-bit MSE on {name} data: min-max {minmax:.3g}, percentile 99.9 {percentile:.3g} "
              f"(min-max / percentile = {minmax / percentile:.2f})")  # fmt: skip
except NotImplementedError:
    print("(finish percentile_scale and fake_quant_mse above to see the measurement here)")

# %% [markdown]
# ## Task 3 · The real size of a packed int4 model
#
# A quantized model is stored as:
#
# - **packed codes**: $b$-bit codes back to back, so a tensor of $n$ weights takes $\lceil n b / 8 \rceil$ bytes
#   (two int4 codes per byte; `pack_int` does the packing);
# - **scales**: one float32 (4 bytes) per output channel of each weight, symmetric so no zero points;
# - **biases**: kept as float32, 4 bytes each.
#
# Write `packed_model_bytes(params, bits)` for a dict of parameters as `model.params()` returns it (weights are the
# arrays with 2 or more dimensions, axis 0 the output channel; biases are 1-D). Return a dict with integer
# `"payload_bytes"`, `"scale_bytes"`, `"bias_bytes"` and `"total_bytes"` (their sum). Compare the total with the
# float32 model's `4 × (number of parameters)` bytes: that ratio is the compression you would really get.


# %%
def packed_model_bytes(params: dict[str, np.ndarray], bits: int) -> dict[str, int]:
    """Bytes of a model with ``bits``-bit packed weights, a float32 scale per output channel and float32 biases."""
    ### BEGIN SOLUTION
    payload = scales = biases = 0
    for value in params.values():
        if value.ndim >= 2:
            payload += (value.size * bits + 7) // 8
            scales += 4 * value.shape[0]
        else:
            biases += 4 * value.size
    return {"payload_bytes": payload, "scale_bytes": scales, "bias_bytes": biases,
            "total_bytes": payload + scales + biases}  # fmt: skip
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def oracle_bytes(params: dict[str, np.ndarray], bits: int) -> dict[str, int]:
    """The same count from the package: pack the real codes, and size_report on the real per-channel QParams."""
    out = {"payload_bytes": 0, "scale_bytes": 0, "bias_bytes": 0}
    for value in params.values():
        if value.ndim < 2:
            out["bias_bytes"] += value.nbytes
            continue
        rows = value.reshape(value.shape[0], -1).astype(np.float32)
        qp = choose_qparams(rows, bits=bits, symmetric=True, granularity="channel", axis=0)
        packed = pack_int(quantize_affine(rows, qp), bits)
        report = size_report(rows.size, qp)
        assert packed.nbytes == report["payload_bytes"]
        out["payload_bytes"] += packed.nbytes
        out["scale_bytes"] += report["overhead_bytes"]
    out["total_bytes"] = sum(out.values())
    return out


def test_packed_size(answers) -> None:
    rng = np.random.default_rng(63)
    models = {
        "digits MLP 64-128-64-10": mlp((64, 128, 64, 10), rng=np.random.default_rng(0)).params(),
        "digits CNN": digits_cnn(rng=np.random.default_rng(0)).params(),
        "odd sizes": {
            "w": rng.standard_normal((3, 5)).astype(np.float32),
            "b": np.zeros(3, np.float32),
            "w2": rng.standard_normal((7, 1, 3, 3)).astype(np.float32),
        },  # fmt: skip
    }
    for name, params in models.items():
        for bits in (4, 3, 8, 2):
            try:  # the four counts, as the package counts them
                answers.packed_model_bytes(params, bits)
            except AssertionError as exc:
                raise AssertionError(f"{name}: {exc}") from None


check("quant.packed_size", test_packed_size, points=3,
      hint="weights: ceil(n * bits / 8) B + 4 B per output channel (axis 0); 1-D biases: 4 B per value",
      oracles={"packed_model_bytes": oracle_bytes})  # fmt: skip

# %%
try:
    params = mlp((64, 128, 64, 10), rng=np.random.default_rng(0)).params()
    total = packed_model_bytes(params, 4)["total_bytes"]
    float32 = 4 * sum(v.size for v in params.values())
    print(f"digits MLP with packed int4 weights: {total:,} B vs {float32:,} B float32 ({float32 / total:.2f}x smaller)")
except NotImplementedError:
    print("(finish packed_model_bytes above to see the digits MLP's real size here)")

# %% [markdown]
# **Why per-channel scales?** The lesson's SQNR curves show per-channel scales gaining a few dB over one scale per
# tensor at every bit width, and, for the MLP at 2 bits, the difference between a broken and a usable model. Explain
# in two or three sentences why, and what per-channel scales cost (in bytes and in the integer kernel). (not graded;
# compare with the solution)
#
# ### BEGIN SOLUTION
# With one scale per tensor the step $s$ is set by the largest weight anywhere in the matrix, so output units whose
# weights are all small see only a few levels — their weights round to 0 and their signal is lost. A scale per output
# channel sizes each row's grid to that row's own range, so every unit uses all $2^b - 1$ levels; the noise of each
# row shrinks in proportion to its range. The cost is small: one float32 per output channel (for a 128×64 layer, 512
# bytes next to 4,096 bytes of int4 codes), and in an integer kernel the rescaling after the int32 accumulation uses a
# per-column multiplier instead of one — the accumulation itself is unchanged, because the scale of a row factors
# out of its dot product.
# ### END SOLUTION
