"""The evidence engine's rule on synthetic data with known effects: a real effect is found, a null effect is not
claimed, an underpowered run is called inconclusive (and says what would settle it), boundaries and range claims
behave, results are deterministic; its t quantiles against SciPy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from odyssey_lessons.evidence import (
    DOES_NOT_HOLD,
    HOLDS,
    INCONCLUSIVE,
    ROW_HEADER,
    Claim,
    judge,
    judge_value,
    t_abs_cdf,
    t_critical,
    t_quantile,
)
from tests.oracles import require

stats = require("scipy.stats")

BETTER = Claim("the treatment helps", "accuracy, treatment − baseline", unit="points", above=0)
SPEED = Claim("4x faster", "speed, new over old", unit="×", above=3.2, scale="ratio")
RANGE = Claim("2-3x faster", "speed, new over old", unit="×", above=2, below=3, scale="ratio")
TIE = Claim("minimal loss", "accuracy, low precision − fp32", unit="points", within=1)


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 6, 7, 10, 29, 30, 100])
def test_t_quantiles_equal_scipy(df):
    for conf in (0.8, 0.9, 0.95, 0.99):
        assert math.isclose(t_critical(conf, df), stats.t.ppf((1 + conf) / 2, df), rel_tol=1e-12)
    assert math.isclose(t_quantile(0.8, df), stats.t.ppf(0.8, df), rel_tol=1e-12)
    for t in (0.0, 0.3, 1.0, 2.5, 10.0):
        assert math.isclose(t_abs_cdf(t, df), 1 - 2 * stats.t.sf(t, df), abs_tol=1e-14)


def test_interval_is_the_textbook_paired_t_interval(rng):
    t, b = 90 + rng.normal(1, 0.5, 6), 90 + rng.normal(0, 0.5, 6)
    v = judge(BETTER, t, b)
    d = t - b
    half = stats.t.ppf(0.975, 5) * d.std(ddof=1) / math.sqrt(6)
    assert math.isclose(v.estimate, d.mean()) and math.isclose(v.low, d.mean() - half)
    assert math.isclose(v.high, d.mean() + half) and v.method == "paired t"


def test_welch_matches_scipy(rng):
    t, b = rng.normal(1, 1, 8), rng.normal(0, 2, 5)
    v = judge(BETTER, t, b, paired=False)
    ref = stats.ttest_ind(t, b, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert math.isclose(v.estimate, t.mean() - b.mean())
    # our df is the Welch-Satterthwaite value rounded down: a slightly wider (more careful) interval than SciPy's
    assert v.low <= ci.low + 1e-12 and v.high >= ci.high - 1e-12
    assert v.high - v.low < 1.05 * (ci.high - ci.low)


def test_real_effect_is_found_and_null_is_not_claimed():
    """Over many synthetic experiments: a clear effect holds in most, and a null effect is called *holds* in about
    2.5% (the interval's one-sided error rate) and never *does not hold* more often than that either."""
    rng = np.random.default_rng(1)
    real = [judge(BETTER, rng.normal(2, 1, 8), rng.normal(0, 1, 8)).label for _ in range(400)]
    null = [judge(BETTER, rng.normal(0, 1, 8), rng.normal(0, 1, 8)).label for _ in range(2000)]
    assert real.count(HOLDS) / len(real) > 0.9
    assert null.count(HOLDS) / len(null) < 0.05 and null.count(DOES_NOT_HOLD) / len(null) < 0.05
    assert null.count(INCONCLUSIVE) / len(null) > 0.9


def test_underpowered_run_is_inconclusive_and_says_what_would_settle_it():
    v = judge(BETTER, [90.5, 89.0, 91.0], [90.0, 90.2, 90.1])
    assert v.label == INCONCLUSIVE
    assert v.detectable is not None and v.detectable > abs(v.estimate)
    assert "seeds (now 3) would settle it" in v.sentence and "could only have detected" in v.sentence


def test_an_effect_against_the_claim_does_not_hold():
    v = judge(BETTER, [88.0, 88.2, 87.9, 88.1], [90.0, 90.1, 90.2, 89.9])
    assert v.label == DOES_NOT_HOLD and v.high < 0


def test_boundaries():
    """An interval touching the line is not yet over it; a value exactly on a range edge is inside."""
    exact = [1.0, 1.0, 1.0]
    assert judge(BETTER, exact, [1.0, 1.0, 1.0]).label == INCONCLUSIVE  # effect exactly 0, zero width: on the line
    assert judge_value(RANGE, 2.0, source="s").label == HOLDS and judge_value(RANGE, 3.0, source="s").label == HOLDS
    assert judge_value(RANGE, 1.99, source="s").label == DOES_NOT_HOLD
    assert (
        judge_value(TIE, 1.0, source="s").label == HOLDS and judge_value(TIE, -1.01, source="s").label == DOES_NOT_HOLD
    )


def test_ratio_claims_are_judged_on_the_speed_up():
    new, old = [1.0, 1.02, 0.98, 1.01], [4.4, 4.5, 4.3, 4.6]  # about 4.4x faster
    v = judge(SPEED, new, old, repeat="rounds")
    assert v.label == HOLDS and 4.2 < v.estimate < 4.6 and v.low < v.estimate < v.high
    slow = judge(SPEED, [1.0, 1.01, 0.99], [1.5, 1.52, 1.49], repeat="rounds")
    assert slow.label == DOES_NOT_HOLD and "1.50×" in slow.sentence


def test_range_claim_says_where_the_interval_sits():
    below = judge(RANGE, [1.0, 1.0, 1.01], [1.5, 1.52, 1.49], repeat="rounds")
    assert below.label == DOES_NOT_HOLD and "below the claimed range" in below.sentence
    above = judge_value(RANGE, 3.7, source="H200, measured elsewhere")
    assert above.label == DOES_NOT_HOLD and "above the claimed range" in above.sentence
    across = judge(RANGE, [1.0, 1.1, 0.95], [2.6, 2.5, 2.7], repeat="rounds")
    assert across.label == INCONCLUSIVE and "across the upper edge 3" in across.sentence


def test_tie_claims():
    assert judge(TIE, [0.1, -0.1, 0.05, 0.0, 0.02]).label == HOLDS
    assert judge(TIE, [3.0, 3.2, 2.9, 3.1]).label == DOES_NOT_HOLD
    assert judge(TIE, [0.5, -1.5, 2.0]).label == INCONCLUSIVE


def test_an_estimate_on_the_line_up_to_rounding_is_on_the_line():
    """0.1 + 0.2 - 0.3 is not 0 in floating point; the sentence must not ask for 10^30 seeds to settle it."""
    v = judge(BETTER, [0.1 + 0.2, 1.0, 2.0], [0.3, 1.0, 2.0])
    assert v.label == INCONCLUSIVE and "sits on the claim's line" in v.sentence


def test_one_repeat_gives_no_interval():
    v = judge(BETTER, [91.0], [90.0])
    assert v.label == INCONCLUSIVE and "gives no interval" in v.sentence


def test_deterministic_and_renders():
    t, b = [90.1, 90.9, 91.3, 90.2], [89.9, 90.0, 90.4, 89.8]
    v1, v2 = judge(BETTER, t, b), judge(BETTER, t, b)
    assert v1 == v2 and v1.sentence == v2.sentence
    assert len(v1.row()) == len(ROW_HEADER) and v1.row()[-1] == v1.label
    assert v1.sentence.startswith(v1.label)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({}, "needs a line"),
        ({"above": 2, "below": 1}, "above < below"),
        ({"within": 1, "above": 0}, "within is a claim of its own"),
        ({"within": 0}, "within must be > 0"),
        ({"above": 0, "scale": "log"}, "scale must be"),
    ],
)
def test_bad_claims_are_refused(kwargs, error):
    with pytest.raises(ValueError, match=error):
        Claim("c", "m", **kwargs)


def test_bad_measurements_are_refused():
    with pytest.raises(ValueError, match="equal lengths"):
        judge(BETTER, [1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="finite"):
        judge(BETTER, [1, float("nan")])
    with pytest.raises(ValueError, match="positive times"):
        judge(SPEED, [1.0, 0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="confidence"):
        judge(BETTER, [1, 2], confidence=1.0)
