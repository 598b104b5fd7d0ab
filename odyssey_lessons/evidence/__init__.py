"""The evidence engine: every verdict the course gives on a claim goes through one rule.

``claim = Claim("INT8 offers 4x speedup", "speed, INT8 over FP32", unit="×", above=3.2, scale="ratio")`` states what
holds means; ``judge(claim, int8_times, fp32_times, repeat="rounds")`` measures the effect with a Student-t interval
over paired repeats and returns a :class:`Verdict` -- *holds*, *does not hold* or *inconclusive* -- with its
interval, a computed sentence and a table row (:data:`ROW_HEADER`). ``judge_value`` does the same for one number
that carries no noise of its own.
"""

from odyssey_lessons.evidence._judge import (
    DOES_NOT_HOLD,
    HOLDS,
    INCONCLUSIVE,
    LABELS,
    ROW_HEADER,
    Claim,
    Verdict,
    judge,
    judge_value,
)
from odyssey_lessons.evidence._stats import t_abs_cdf, t_critical, t_quantile

__all__ = [
    "DOES_NOT_HOLD",
    "HOLDS",
    "INCONCLUSIVE",
    "LABELS",
    "ROW_HEADER",
    "Claim",
    "Verdict",
    "judge",
    "judge_value",
    "t_abs_cdf",
    "t_critical",
    "t_quantile",
]
