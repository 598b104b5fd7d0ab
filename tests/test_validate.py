"""The one validation convention (odyssey_lessons._validate): a wrong type raises TypeError, a wrong value ValueError,
and both messages name the argument and the bad value (``name=value``)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from odyssey_lessons import _validate as V

# (check, good value -> expected result, a value of the wrong type, a value of the right type but out of range)
CASES = {
    "check_int": (lambda n, v: V.check_int(n, v, minimum=2, maximum=8), 4, 4, 4.0, 9),
    "check_positive_int": (V.check_positive_int, np.int64(3), 3, True, 0),
    "check_seed": (lambda n, v: V.check_seed(v, name=n), 0, 0, "0", -1),
    "check_real": (lambda n, v: V.check_real(n, v, low=-1, high=1), np.float32(0.5), 0.5, "0.5", float("nan")),
    "check_positive": (V.check_positive, 2, 2.0, None, 0.0),
    "check_nonnegative": (V.check_nonnegative, 0, 0.0, [1.0], -1e-9),
    "check_fraction": (V.check_fraction, 0.0, 0.0, False, 1.0),
    "check_probability": (V.check_probability, 1.0, 1.0, "1", 1.5),
    "check_open_unit": (V.check_open_unit, 0.5, 0.5, 1j, 0.0),
}


@pytest.mark.parametrize("check", sorted(CASES))
def test_wrong_type_is_a_type_error_and_wrong_value_a_value_error(check):
    fn, good, expected, wrong_type, wrong_value = CASES[check]
    assert fn("arg", good) == expected
    assert type(fn("arg", good)) is type(expected)  # plain Python types come back
    with pytest.raises(TypeError, match=re.escape(f"arg={wrong_type!r}")):
        fn("arg", wrong_type)
    with pytest.raises(ValueError, match=re.escape(f"arg={wrong_value!r}")):
        fn("arg", wrong_value)


def test_messages_say_what_is_allowed():
    with pytest.raises(ValueError, match=r"k must be an int in \[2, 8\], got k=9"):
        V.check_int("k", 9, minimum=2, maximum=8)
    with pytest.raises(ValueError, match=r"p must be a finite number in \[0, 1\), got p=1"):
        V.check_fraction("p", 1)
    with pytest.raises(ValueError, match=r"lr must be a finite number > 0, got lr=inf"):
        V.check_positive("lr", float("inf"))
    assert V.check_real("x", float("inf"), finite=False) == float("inf")


def test_choice_bool_rng_and_arrays():
    assert V.check_choice("mode", "min", ("min", "max")) == "min"
    with pytest.raises(ValueError, match=r"mode must be one of \('min', 'max'\), got mode='mean'"):
        V.check_choice("mode", "mean", ("min", "max"))
    with pytest.raises(ValueError, match="mode=\\['min'\\]"):  # unhashable: not one of the choices either
        V.check_choice("mode", ["min"], {"min", "max"})
    assert V.check_bool("flag", np.bool_(True)) is True
    with pytest.raises(TypeError, match="flag=1"):
        V.check_bool("flag", 1)
    with pytest.raises(TypeError, match="rng=0"):
        V.check_rng(0)
    with pytest.raises(TypeError, match="x.dtype=int64"):
        V.check_float_array("x", np.zeros(3, np.int64), ndim=(1,))
    with pytest.raises(ValueError, match=r"x.shape=\(3,\)"):
        V.check_float_array("x", np.zeros(3), ndim=(2,))


@pytest.mark.parametrize(
    ("call", "error"),
    [
        ("optim.adam(lr='0.1')", TypeError),
        ("optim.adam(lr=-1.0)", ValueError),
        ("schedules.step_decay(0.1, step_size='2')", TypeError),
        ("quant.qrange(4.0, True)", TypeError),
        ("quant.qrange(9, True)", ValueError),
        ("nn.Dropout(p='0.5', rng=np.random.default_rng(0))", TypeError),
        ("nn.Dropout(p=1.0, rng=np.random.default_rng(0))", ValueError),
        ("data.make_classification_blobs(n=0, n_features=2, n_classes=2, scale=1.0, seed=0)", ValueError),
        ("nn.mlp((4, 2), rng=np.random.default_rng(0), init_gain='1')", TypeError),
        ("nn.mlp((4, 2), rng=np.random.default_rng(0), init_gain=0.0)", ValueError),
        ("studies.schedule_run('cosine', peak_lr='0.1')", TypeError),
        ("studies.schedule_run('cosine', peak_lr=float('inf'))", ValueError),
        ("perf.measure(lambda: None, min_time='0.02')", TypeError),
        ("perf.measure(lambda: None, min_time=0)", ValueError),
        ("perf.measure(lambda: None, warmup=1.5)", TypeError),
        ("nn.BatchNorm(3, eps='1e-5')", TypeError),
        ("nn.BatchNorm(3, momentum=1.5)", ValueError),
        ("perf.layer_counts(nn.ReLU(), (4, 2.0))", TypeError),
        ("perf.im2col_bytes((1, 1, 8.0, 8), 3)", TypeError),
        ("perf.im2col_bytes((1, 8, 8), 3)", ValueError),
        ("studies.at_best_lr(None, {'a': (0.1,)}, seeds=2.0)", TypeError),
        ("studies.at_best_lr(None, {'a': (0.1,)}, seeds=2, select_seeds=3)", ValueError),
        ("studies.Recipe(epochs=2.0)", TypeError),
        ("studies.Recipe(epochs=2, warmup_epochs=2)", ValueError),
        ("grading.Build(None)", TypeError),
        ("grading.Build('numpy:zeros')", ValueError),
        ("grading.close(rtol='0')", TypeError),
        ("grading.close(rtol=-1e-6)", ValueError),
        ("grading.Limits(cell_timeout='60')", TypeError),
        ("grading.Limits(cpus=0)", ValueError),
        ("grading.Limits(memory_mb=1024.0)", TypeError),
        ("grading.grade('.', assignment='01_number_formats', out='.', jobs='2')", TypeError),
        ("grading.grade('.', assignment='01_number_formats', out='.', jobs=0)", ValueError),
        ("grading.grade('.', assignment=1, out='.')", TypeError),
    ],
)
def test_the_package_follows_the_convention(call, error):
    from odyssey_lessons import data, grading, nn, optim, perf, quant, schedules, studies  # noqa: F401 (used by eval)

    with pytest.raises(error):
        eval(call)
