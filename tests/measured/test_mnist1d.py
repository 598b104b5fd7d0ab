"""The shipped MNIST-1D baseline file: the paper's table reproduced with the baseline test's recipe and tolerances.

Nothing is retrained here: ``tests/train/test_mnist1d_baselines.py`` retrains (slow); this test checks that the numbers
the lesson shows, read from ``odyssey_lessons/measured/mnist1d_baselines.json``, are what that test accepts, and that
the file says where, when and how they were measured.
"""

import numpy as np
import pytest

from odyssey_lessons.measured import mnist1d_baselines
from tests.train.test_mnist1d_baselines import EPOCHS, PAPER, SEEDS, TOLERANCE


def test_file_records_provenance_and_recipe():
    data = mnist1d_baselines(raw=True)
    prov = data["provenance"]
    for key in ("date", "machine", "versions", "command", "source"):
        assert prov[key], key
    assert prov["source"] == "benchmarks/mnist1d_baselines.py"
    assert prov["command"].startswith("python benchmarks/mnist1d_baselines.py")
    assert prov["machine"]["processor"] and prov["machine"]["cpu_count"] >= 1
    assert all(prov["versions"][k] for k in ("python", "numpy", "numba", "odyssey-lessons"))
    assert "hostname" not in prov and "host" not in prov["machine"]
    assert set(prov["load_average_1min"]) == {"start", "end"}
    recipe = data["recipe"]
    assert (recipe["epochs"], recipe["seeds"], recipe["lr"], recipe["batch_size"]) == (EPOCHS, list(SEEDS), 1e-2, 100)
    assert recipe["steps"] == EPOCHS * recipe["num_train"] // recipe["batch_size"] == 6000
    assert data["paper"]["test_accuracy"] == PAPER


@pytest.mark.parametrize("name", PAPER)
def test_measured_means_within_the_baseline_tests_tolerance(name):
    row = next(r for r in mnist1d_baselines()["rows"] if r["model"] == name)
    assert row["seeds"] == list(SEEDS) and len(row["measured"]) == len(SEEDS)
    assert all(0 <= a <= 1 for a in row["measured"]) and all(s > 0 for s in row["seconds"])
    # accuracies on 1,000 test signals are whole multiples of 0.001
    assert all(abs(1000 * a - round(1000 * a)) < 1e-9 for a in row["measured"])
    assert row["mean"] == pytest.approx(np.mean(row["measured"]), abs=1e-12)
    assert row["paper"] == PAPER[name]
    assert abs(row["mean"] - PAPER[name]) <= TOLERANCE[name], (name, row["mean"], PAPER[name], TOLERANCE[name])


def test_table_provenance_names_the_machine_and_date():
    table = mnist1d_baselines()
    prov = table["provenance"]
    assert prov["measured_elsewhere"] is True
    raw = mnist1d_baselines(raw=True)["provenance"]
    assert raw["machine"]["processor"] in prov["hardware"] and prov["date"] == raw["date"]
    assert "6,000" in prov["note"] and "test_mnist1d_baselines.py" in prov["note"]
    assert [r["model"] for r in table["rows"]] == list(PAPER)
