"""Claims as data, judged by one rule: the effect with its confidence interval, against what the claim says.

A :class:`Claim` states the seed material's sentence, the metric, and what "holds" means: the effect is above a
line, below a line, inside a range, or within a margin of zero. :func:`judge` measures the effect from repeated
measurements -- seeds of a training run, or rounds of an interleaved timing -- as a mean with a Student-t interval
(paired when the two groups share seeds or rounds; for speed-ups, on the log of the time ratios, so the interval is
on the ratio), and applies **one** rule:

- *holds* when the whole interval is on the claim's side of its line (inside its range);
- *does not hold* when the whole interval is on the other side (outside the range, on one side);
- *inconclusive* when the interval straddles a line. Then the verdict also says the smallest effect this experiment
  could have detected (80% power at the claim's confidence, ``(t_crit + t_power) * SE``) and roughly how many
  repeats would settle it at the current estimate.

:func:`judge_value` takes one number that carries no noise of its own (a byte count, a datasheet figure, data
measured elsewhere) and applies the same comparison to it, saying that it did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from odyssey_lessons.evidence._stats import t_critical, t_quantile

HOLDS, DOES_NOT_HOLD, INCONCLUSIVE = "holds", "does not hold", "inconclusive"
LABELS = (HOLDS, DOES_NOT_HOLD, INCONCLUSIVE)
"""The rule's three labels: every verdict in the course is one of them."""

Scale = Literal["difference", "ratio"]


@dataclass(frozen=True)
class Claim:
    """What a sentence of the seed material claims, as data.

    Args:
        text: The sentence, quoted.
        metric: What is measured, e.g. ``"test accuracy, recipe − baseline"`` or ``"speed, INT8 over FP32"``.
        unit: Printed after numbers: ``"points"``, ``"×"``, ``"%"``.
        above: The effect is claimed to exceed this line.
        below: The effect is claimed to stay under this line. With ``above`` too: a range claim ``[above, below]``.
        within: The effect is claimed to be within ``±within`` of zero (a tie, "minimal loss").
        scale: ``"difference"`` (treatment − baseline, in the metric's unit) or ``"ratio"`` (baseline / treatment
            for times: a speed-up; judged on the log scale).

    Raises:
        ValueError: No line given, ``within`` mixed with ``above``/``below``, or ``above >= below``.
    """

    text: str
    metric: str
    unit: str = ""
    above: float | None = None
    below: float | None = None
    within: float | None = None
    scale: Scale = "difference"

    def __post_init__(self) -> None:
        if self.scale not in ("difference", "ratio"):
            raise ValueError(f"scale must be 'difference' or 'ratio', got scale={self.scale!r}")
        if self.within is not None:
            if self.above is not None or self.below is not None:
                raise ValueError("within is a claim of its own: give it without above/below")
            if not self.within > 0:
                raise ValueError(f"within must be > 0, got within={self.within!r}")
        elif self.above is None and self.below is None:
            raise ValueError(f"a claim needs a line: above, below or within (claim {self.text!r})")
        if self.above is not None and self.below is not None and not self.above < self.below:
            raise ValueError(f"a range claim needs above < below, got above={self.above}, below={self.below}")

    @property
    def lines(self) -> tuple[float, ...]:
        """The numbers the interval is compared with."""
        if self.within is not None:
            return (-self.within, self.within)
        return tuple(v for v in (self.above, self.below) if v is not None)

    def describe(self) -> str:
        """What "holds" means, in words: ``"> 0 points"``, ``"in [2, 3]×"``, ``"within ±1 points"``."""
        u = f" {self.unit}" if self.unit and self.unit != "×" else self.unit
        if self.within is not None:
            return f"within ±{self.within:g}{u}"
        if self.above is not None and self.below is not None:
            return f"in [{self.above:g}, {self.below:g}]{u}"
        return f"> {self.above:g}{u}" if self.above is not None else f"< {self.below:g}{u}"


@dataclass(frozen=True)
class Verdict:
    """A claim judged: the label, the effect, its interval, and for an inconclusive one what would settle it."""

    claim: Claim
    label: str
    estimate: float
    low: float
    high: float
    n: int
    repeat: str
    confidence: float
    detectable: float | None
    settle: str
    method: str

    def fmt(self, x: float) -> str:
        """A number of this verdict's metric, with its unit."""
        u = self.claim.unit
        if u == "×":
            return f"{x:.2f}×" if x >= 0.1 else f"{x:.2g}×"  # a tiny ratio keeps its significant digits
        if u == "%":
            return f"{x:.1f}%"
        return f"{x:+.2f} {u}".rstrip() if self.claim.scale == "difference" else f"{x:.3g}"

    @property
    def interval(self) -> str:
        if self.method == "single value":
            return f"{self.fmt(self.estimate)} (one value, {self.repeat})"
        return f"{self.fmt(self.estimate)} [{self.fmt(self.low)}, {self.fmt(self.high)}]"

    @property
    def where(self) -> str:
        """For a range claim, where the interval (or the value) sits against both edges."""
        c = self.claim
        if c.above is None or c.below is None:
            return ""
        what = "the value" if self.method == "single value" else "the interval"
        if self.high < c.above:
            return f"{what} is below the claimed range"
        if self.low > c.below:
            return f"{what} is above the claimed range"
        parts = []
        for edge, name in ((c.above, "lower"), (c.below, "upper")):
            side = "above" if self.low > edge else "below" if self.high < edge else "across"
            parts.append(f"{side} the {name} edge {edge:g}")
        return f"{what} lies " + " and ".join(parts)

    @property
    def sentence(self) -> str:
        """The verdict as one computed sentence."""
        ci = "" if self.method == "single value" else f", {self.confidence:.0%} interval over {self.n} {self.repeat}"
        text = f"{self.label}: {self.claim.metric} {self.interval}{ci}; the claim needs {self.claim.describe()}"
        if self.where:
            text += f" ({self.where})"
        if self.label == INCONCLUSIVE and self.settle:
            text += f". {self.settle}"
        return text

    def row(self) -> list[str]:
        """``[claim, metric, effect [interval], claim needs, verdict]`` for a table."""
        return [self.claim.text, self.claim.metric, self.interval, self.claim.describe(), self.label]


ROW_HEADER = ["claim (seed material)", "measured", "effect [interval]", "holds if", "verdict"]


def _label(claim: Claim, low: float, high: float) -> str:
    if claim.within is not None:
        m = claim.within
        return HOLDS if -m <= low and high <= m else DOES_NOT_HOLD if low > m or high < -m else INCONCLUSIVE
    a, b = claim.above, claim.below
    if a is not None and b is not None:
        return HOLDS if a <= low and high <= b else DOES_NOT_HOLD if high < a or low > b else INCONCLUSIVE
    if a is not None:
        return HOLDS if low > a else DOES_NOT_HOLD if high < a else INCONCLUSIVE
    return HOLDS if high < b else DOES_NOT_HOLD if low > b else INCONCLUSIVE


def _as_values(name: str, x: object) -> np.ndarray:
    arr = np.asarray(x, dtype=float).reshape(-1)
    if arr.size == 0 or not np.isfinite(arr).all():
        raise ValueError(f"{name} must be a non-empty sequence of finite numbers, got {name}={x!r}")
    return arr


def judge(
    claim: Claim,
    treatment: object,
    baseline: object | None = None,
    *,
    paired: bool = True,
    confidence: float = 0.95,
    repeat: str = "seeds",
) -> Verdict:
    """Judge ``claim`` on repeated measurements.

    Args:
        claim: The claim.
        treatment: Per-seed (or per-round) values of the treatment; for ``scale="ratio"``, times (seconds).
        baseline: The same for the baseline, or None when ``treatment`` already holds the effect per repeat.
        paired: Treatment and baseline share seeds (or rounds): the effect is taken repeat by repeat.
        confidence: Of the two-sided interval (0.5 .. 0.999).
        repeat: What a repeat is, for the sentence: ``"seeds"``, ``"rounds"``.

    Returns:
        A :class:`Verdict`. One repeat gives no interval: inconclusive, and the sentence says so.

    Raises:
        ValueError: Empty or non-finite values, unequal lengths when paired, non-positive times for a ratio, or a
            confidence outside (0.5, 0.999).
    """
    if not 0.5 < confidence < 0.999:
        raise ValueError(f"confidence must be in (0.5, 0.999), got confidence={confidence!r}")
    t = _as_values("treatment", treatment)
    b = None if baseline is None else _as_values("baseline", baseline)
    if claim.scale == "ratio":
        if (t <= 0).any() or (b is not None and (b <= 0).any()):
            raise ValueError("a ratio claim needs positive times")
        t = np.log(t)
        b = None if b is None else np.log(b)
    n, mean, se, df, method = _effect(claim.scale, t, b, paired)
    back = math.exp if claim.scale == "ratio" else float
    if se is None:
        est = back(mean)
        return Verdict(claim, INCONCLUSIVE, est, est, est, n, repeat, confidence, None,
                       f"One {repeat[:-1] if repeat.endswith('s') else repeat} gives no interval: repeat it.",
                       method)  # fmt: skip
    tc = t_critical(confidence, df)
    low, high = mean - tc * se, mean + tc * se
    est, lo, hi = back(mean), back(low), back(high)
    label = _label(claim, lo, hi)
    detectable, settle = None, ""
    if label == INCONCLUSIVE:
        mde = (tc + t_quantile(0.8, df)) * se
        detectable = (math.exp(mde) if claim.scale == "ratio" else mde) if se > 0 else 0.0
        line_scale = [
            math.log(v) if claim.scale == "ratio" else v for v in claim.lines if claim.scale != "ratio" or v > 0
        ]
        gap = min(abs(mean - v) for v in line_scale) if line_scale else 0.0
        magnitude = float(np.abs(t).max()) if b is None else float(max(np.abs(t).max(), np.abs(b).max()))
        if gap > 1e-9 * magnitude and se > 0:  # a gap of rounding residue is no gap: the estimate sits on the line
            need = math.ceil(n * (tc * se / gap) ** 2 * 1.2)
            settle = (f"This run could only have detected {_fmt_mde(claim, detectable)}; "
                      f"about {need} {repeat} (now {n}) would settle it at the current estimate.")  # fmt: skip
        else:
            settle = f"The estimate sits on the claim's line: no number of {repeat} would settle it at this estimate."
    return Verdict(claim, label, est, lo, hi, n, repeat, confidence, detectable, settle, method)


def _effect(
    scale: Scale, t: np.ndarray, b: np.ndarray | None, paired: bool
) -> tuple[int, float, float | None, int, str]:
    """The effect on the judging scale (log times for a ratio, so baseline − treatment is the log speed-up) as
    ``(n, mean, se, df, method)``: the mean of ``t`` alone, of the paired differences, or Welch's difference of means
    with the Welch–Satterthwaite ``df``. ``se`` is None when one repeat gives no spread.

    Raises:
        ValueError: Paired groups of unequal lengths.
    """
    if b is None:
        n, mean = t.size, float(t.mean())
        return n, mean, float(t.std(ddof=1) / math.sqrt(n)) if n > 1 else None, n - 1, "mean over repeats"
    if paired:
        if b.size != t.size:
            raise ValueError(f"paired measurements need equal lengths, got {t.size} and {b.size}")
        diffs = (b - t) if scale == "ratio" else (t - b)
        n = diffs.size
        return n, float(diffs.mean()), float(diffs.std(ddof=1) / math.sqrt(n)) if n > 1 else None, n - 1, "paired t"
    n = min(t.size, b.size)
    mean = float((b.mean() - t.mean()) if scale == "ratio" else (t.mean() - b.mean()))
    if t.size < 2 or b.size < 2:
        return n, mean, None, 0, "Welch t"
    vt, vb = t.var(ddof=1) / t.size, b.var(ddof=1) / b.size
    se = float(math.sqrt(vt + vb))
    df = max(1, int((vt + vb) ** 2 / (vt**2 / (t.size - 1) + vb**2 / (b.size - 1)))) if se > 0 else n - 1
    return n, mean, se, df, "Welch t"


def _fmt_mde(claim: Claim, mde: float) -> str:
    """The smallest detectable effect, in words."""
    if claim.scale == "ratio":
        return f"a departure from the line by a factor of about {mde:.2f}"
    return f"an effect of about {mde:.2g} {claim.unit}".rstrip()


def judge_value(claim: Claim, value: float, *, source: str) -> Verdict:
    """Judge ``claim`` on one number that has no noise of its own to estimate (a byte count, a bit width, data
    measured elsewhere): the same comparison with a zero-width interval, and ``source`` saying where it comes from.

    Raises:
        ValueError: ``value`` is not a finite number.
    """
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"value must be a finite number, got value={value!r}")
    return Verdict(claim, _label(claim, v, v), v, v, v, 1, source, 0.0, None, "", "single value")
