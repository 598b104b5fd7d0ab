# %% [markdown]
# # Grading fixture: two independent tasks, a visible and a hidden check on the first.

# %%
import numpy as np

from odyssey_lessons.grading import check, close


# %%
def double(x):
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def test_double(answers) -> None:
    for x in (3, -7, 0, 2**40):
        answers.double(x)


check("fix.double", test_double, points=2, hint="double(x) should return 2 * x.", oracles={"double": lambda x: 2 * x})


# %%
# NBVAL_CHECK_OUTPUT
# HIDDEN_CHECK
def test_double_array(answers) -> None:
    answers.double(np.arange(5.0))  # SECRET-EXPECTATION arrays double elementwise


check("fix.double_array", test_double_array, points=1, hint="SECRET-HINT the hidden array check",
      oracles={"double": lambda x: 2 * x})  # fmt: skip


# %%
def norm(v):
    ### BEGIN SOLUTION
    return float(np.sqrt(np.sum(np.asarray(v, dtype=float) ** 2)))
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def test_norm(answers) -> None:
    answers.norm([3.0, 4.0])
    answers.norm(np.array([1.0, -2.0, 2.0]))


check("fix.norm", test_norm, points=3, hint="norm(v) is the square root of the sum of squares.",
      oracles={"norm": lambda v: float(np.sqrt(np.sum(np.square(v))))}, compare=close(rtol=1e-12))  # fmt: skip
