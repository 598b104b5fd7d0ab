"""Lesson 7's repeated profiles: one value per run, shares that add up, and bad names refused."""

from __future__ import annotations

import numpy as np
import pytest

from odyssey_lessons.nn import profiled_cnn
from odyssey_lessons.studies import largest_share, repeated_profiles, row_shares


@pytest.fixture(scope="module")
def profiles():
    x = np.random.default_rng(0).standard_normal((8, 1, 8, 8)).astype(np.float32)
    return repeated_profiles(profiled_cnn(4), x, profiles=3, repeats=2)


def test_one_share_per_profile_and_they_add_up(profiles):
    names = [r.name for r in profiles[0].rows]
    per_row = np.stack([row_shares(profiles, n) for n in names])
    assert per_row.shape == (len(names), 3)
    assert np.allclose(per_row.sum(axis=0), 100.0)
    for i, p in enumerate(profiles):
        assert per_row[0, i] == p.rows[0].pct_total


def test_largest_share_is_the_max_of_the_rows(profiles):
    names = [r.name for r in profiles[0].rows if "ReLU" in r.name]
    assert len(names) == 2
    want = np.maximum(row_shares(profiles, names[0]), row_shares(profiles, names[1]))
    assert np.array_equal(largest_share(profiles, names), want)


def test_bad_arguments_are_refused(profiles):
    with pytest.raises(ValueError, match="no row called 'Conv'"):
        row_shares(profiles, "Conv")
    with pytest.raises(ValueError, match="at least one row"):
        largest_share(profiles, [])
    with pytest.raises(ValueError, match="at least one Profile"):
        row_shares((), "x")
    with pytest.raises(ValueError, match="profiles"):
        repeated_profiles(profiled_cnn(4), np.zeros((2, 1, 8, 8), np.float32), profiles=0)
