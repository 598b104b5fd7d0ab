"""MNIST-1D against its outside oracle, the published ``mnist1d`` package: ``load_mnist1d`` must be its
``make_dataset`` sample for sample, for the defaults and for other arguments, without touching numpy's global random
state; the two scipy routines it replaces are checked against scipy itself."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import pytest

from odyssey_lessons.data import MNIST1D, DigitsTask, load_mnist1d, mnist1d_task
from odyssey_lessons.data._mnist1d import _generate, gaussian_smooth, interp_linear
from tests.oracles import require

mnist1d_data = require("mnist1d.data")
scipy_ndimage = require("scipy.ndimage")
scipy_interpolate = require("scipy.interpolate")

CASES = {
    "defaults": {},
    "seed 7": {"seed": 7},
    "shuffle_seq": {"shuffle_seq": True, "seed": 3},
    "other lengths": dict(
        num_samples=1234, train_split=0.5, template_len=20, padding=(10, 30), final_seq_length=64, max_translation=30
    ),
    "short, noisier": dict(
        num_samples=200,
        template_len=1,
        padding=(0, 3),
        max_translation=10,
        corr_noise_scale=1.0,
        iid_noise_scale=0.1,
        shear_scale=2.0,
        scale_coeff=0.9,
    ),
}


def package_dataset(**overrides: object) -> dict:
    """``mnist1d.data.make_dataset`` for its default arguments with ``overrides``; it seeds numpy's and Python's
    global generators, so their states are restored afterwards."""
    args = mnist1d_data.get_dataset_args()
    for name, value in overrides.items():
        setattr(args, name, list(value) if name == "padding" else value)
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        return mnist1d_data.make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)


def same_state(a: tuple, b: tuple) -> bool:
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


@pytest.mark.parametrize("overrides", CASES.values(), ids=CASES.keys())
def test_equals_the_mnist1d_package(overrides):
    ref = package_dataset(**overrides)
    _generate.cache_clear()  # generate afresh, under the global-state check below
    np.random.seed(2024)
    before = np.random.get_state()
    ours = load_mnist1d(**overrides)
    assert same_state(np.random.get_state(), before), "load_mnist1d changed numpy's global random state"
    for name in ("x", "x_test"):
        a, b = getattr(ours, name), ref[name]
        assert a.dtype == b.dtype == np.float64 and a.shape == b.shape
        # the same operations in the same order: equal to the last bit (max |difference| = 0)
        np.testing.assert_array_equal(a, b, err_msg=name)
    for name in ("y", "y_test"):
        np.testing.assert_array_equal(getattr(ours, name), ref[name], err_msg=name)
        assert getattr(ours, name).dtype == ref[name].dtype
    n = 10 * (overrides.get("num_samples", 5000) // 10)
    assert len(ours.x) == int(n * overrides.get("train_split", 0.8)) and len(ours.x) + len(ours.x_test) == n


def test_gaussian_smooth_is_scipys_gaussian_filter(rng):
    for length in (1, 3, 8, 9, 17, 72, 100):
        noise = rng.standard_normal((5, length))
        ours = gaussian_smooth(noise)
        for row, out in zip(noise, ours, strict=True):
            np.testing.assert_allclose(out, scipy_ndimage.gaussian_filter(row, 2), rtol=1e-12, atol=1e-15)


def test_interp_linear_is_scipys_interp1d(rng):
    for m, n_new in [(2, 5), (12, 72), (48, 72), (72, 40), (40, 40), (7, 1)]:
        y = rng.standard_normal((4, m))
        want = [scipy_interpolate.interp1d(np.linspace(0, 1, m), row, kind="linear")(np.linspace(0, 1, n_new))
                for row in y]  # fmt: skip
        np.testing.assert_array_equal(interp_linear(y, n_new), np.stack(want))


def test_cached_and_read_only():
    a, b = load_mnist1d(), load_mnist1d()
    assert isinstance(a, MNIST1D) and all(x is y for x, y in zip(a, b, strict=True))
    for array in a:
        assert not array.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 0


@pytest.mark.parametrize(("layout", "shape"), [("mlp", (40,)), ("cnn", (1, 40))])
def test_task_cuts_one_dataset_in_order(layout, shape):
    task = mnist1d_task(layout, num_train=300, num_val=200, num_test=500, seed=5)
    assert isinstance(task, DigitsTask)
    whole = load_mnist1d(num_samples=1000, seed=5)
    x = np.concatenate([whole.x, whole.x_test]).astype(np.float32).reshape(-1, *shape)
    y = np.concatenate([whole.y, whole.y_test])
    for (xs, ys), (lo, hi) in zip(task, [(0, 300), (300, 500), (500, 1000)], strict=True):
        assert xs.dtype == np.float32 and xs.shape == (hi - lo, *shape) and xs.flags.c_contiguous
        assert ys.dtype == np.int64
        np.testing.assert_array_equal(xs, x[lo:hi])
        np.testing.assert_array_equal(ys, y[lo:hi])


def test_task_with_no_val_is_the_papers_split():
    task, paper = mnist1d_task(num_val=0), package_dataset()
    np.testing.assert_array_equal(task.train[0], paper["x"].astype(np.float32))
    np.testing.assert_array_equal(task.test[1], paper["y_test"])
    assert task.val[0].shape == (0, 40)


def test_large_test_sets():
    task = mnist1d_task(num_test=20_000)
    assert task.test[0].shape == (20_000, 40)
    assert np.bincount(np.concatenate([task.train[1], task.val[1], task.test[1]])).tolist() == [2500] * 10


BAD = {
    "num_samples type": (TypeError, "num_samples=5000.0", {"num_samples": 5000.0}),
    "num_samples small": (ValueError, "num_samples=9", {"num_samples": 9}),
    "train_split": (ValueError, "train_split=1.5", {"train_split": 1.5}),
    "train_split nan": (ValueError, "train_split=nan", {"train_split": float("nan")}),
    "template_len": (ValueError, "template_len=0", {"template_len": 0}),
    "padding type": (TypeError, "padding=36", {"padding": 36}),
    "padding order": (ValueError, "padding\\[1\\]=30", {"padding": (36, 30)}),
    "padding negative": (ValueError, "padding\\[0\\]=-1", {"padding": (-1, 3)}),
    "max_translation": (ValueError, "max_translation=0", {"max_translation": 0}),
    "noise": (ValueError, "corr_noise_scale=-0.1", {"corr_noise_scale": -0.1}),
    "shear type": (TypeError, "shear_scale='big'", {"shear_scale": "big"}),
    "shuffle_seq": (TypeError, "shuffle_seq=1", {"shuffle_seq": 1}),
    "final_seq_length": (ValueError, "final_seq_length=0", {"final_seq_length": 0}),
    "seed negative": (ValueError, "seed=-1", {"seed": -1}),
    "seed large": (ValueError, "seed=4294967296", {"seed": 2**32}),
}


@pytest.mark.parametrize(("error", "message", "kwargs"), BAD.values(), ids=BAD.keys())
def test_bad_arguments_raise(error, message, kwargs):
    with pytest.raises(error, match=message):
        load_mnist1d(**kwargs)


@pytest.mark.parametrize(
    ("error", "message", "kwargs"),
    [
        (ValueError, "layout='rnn'", {"layout": "rnn"}),
        (ValueError, "= 5005", {"num_test": 5}),
        (ValueError, "num_val=-10", {"num_val": -10}),
        (TypeError, "num_train=4000.0", {"num_train": 4000.0}),
    ],
)
def test_task_bad_arguments_raise(error, message, kwargs):
    with pytest.raises(error, match=message):
        mnist1d_task(**kwargs)


def test_generating_needs_no_scipy_and_no_package():
    heavy = ["scipy", "mnist1d", "requests", "numba", "torch"]
    code = (
        "import sys, odyssey_lessons.data as d; d.load_mnist1d(num_samples=100); d.mnist1d_task(num_train=50, "
        f"num_val=20, num_test=30); print([m for m in {heavy!r} if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
