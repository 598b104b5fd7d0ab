# %% [markdown]
# # Grading fixture: two independent tasks, a visible and a hidden check on the first.

# %%
import numpy as np

from odyssey_lessons.grading import check


# %%
def double(x):
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def test_double() -> None:
    assert double(3) == 6, f"double(3) returned {double(3)!r}"


check("fix.double", test_double, points=2, hint="double(x) should return 2 * x.")


# %%
# NBVAL_CHECK_OUTPUT
# HIDDEN_CHECK
def test_double_array() -> None:
    x = np.arange(5.0)
    got = double(x)
    assert np.array_equal(got, x * 2), "SECRET-EXPECTATION arrays double elementwise"


check("fix.double_array", test_double_array, points=1, hint="SECRET-HINT the hidden array check")


# %%
def norm(v):
    ### BEGIN SOLUTION
    return float(np.sqrt(np.sum(np.asarray(v, dtype=float) ** 2)))
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
def test_norm() -> None:
    got = norm([3.0, 4.0])
    assert np.allclose(got, 5.0), f"norm([3, 4]) returned {got!r}"


check("fix.norm", test_norm, points=3, hint="norm(v) is the square root of the sum of squares.")
