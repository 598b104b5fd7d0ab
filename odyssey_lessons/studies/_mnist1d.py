"""MNIST-1D runs for the claims the 8×8 digits cannot decide: schedules (Lesson 3), optimizers (Lesson 4) and the
capstone's takeaways 2 and 3.

The digits' test split has 269 images, so one image is 0.37 points and differences between schedules or optimizers
are a few images. MNIST-1D (:func:`~odyssey_lessons.data.mnist1d_task`, Greydanus & Kobak 2024) is generated, so its
test set can be as large as wanted: here :data:`TRAIN` training, :data:`VAL` validation and :data:`TEST` test signals
(one test signal is 0.005 points). What remains is the seed-to-seed spread of training, which pairing removes in part:
a run's seed fixes its initial weights and its batch order, so arms trained with the same seed differ only in what is
compared.

Every arm gets its own best learning rate: :func:`at_best_lr` trains each arm at every value of its grid with the
first ``select_seeds`` seeds, keeps the value with the best mean **validation** accuracy, and trains the remaining
seeds there. Test accuracy (:attr:`Run1D.test_acc`) is computed only for the runs that are compared. Single runs are
cached per argument set, so a lesson that asks again, or a second study sharing runs, does not train twice. Nothing
here draws or prints; ``on_run`` is called once per run a study asks for (a progress bar's ``update``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from odyssey_lessons._threads import single_threaded
from odyssey_lessons._validate import check_int, check_positive
from odyssey_lessons.data import DigitsTask, mnist1d_task
from odyssey_lessons.nn import Sequential, mnist1d_cnn, mnist1d_mlp
from odyssey_lessons.optim import GradientTransformation, adam, sgd
from odyssey_lessons.schedules import SCHEDULES, Schedule, example_schedules
from odyssey_lessons.train import evaluate, fit

TRAIN, VAL, TEST = 4000, 2000, 20_000
BATCH_SIZE = 100
M1D_OPTIMIZERS: dict[str, Callable[[float | Schedule], GradientTransformation]] = {
    "sgd+momentum": lambda lr: sgd(lr, momentum=0.9),
    "adam": lambda lr: adam(lr),
}
"""The optimizers of these runs, by name: ``lr`` is a number or a schedule."""


@lru_cache(maxsize=2)
def mnist1d_split(layout: str = "mlp") -> DigitsTask:
    """MNIST-1D cut into :data:`TRAIN` / :data:`VAL` / :data:`TEST` signals (generator seed 42), ``layout`` "mlp" or
    "cnn"."""
    return mnist1d_task(layout, num_train=TRAIN, num_val=VAL, num_test=TEST)


@dataclass(frozen=True, eq=False)
class Run1D:
    """One trained MNIST-1D model.

    Attributes:
        arm: The schedule or optimizer name.
        lr: Its (peak) learning rate.
        seed: Initial weights and batch order.
        steps: Optimizer steps trained.
        val_acc: Validation accuracy after training.
        train_loss: Mean training loss of the last epoch.
        layout: ``"mlp"`` or ``"cnn"`` (which split :attr:`test_acc` uses).
        model: The trained network.
    """

    arm: str
    lr: float
    seed: int
    steps: int
    val_acc: float
    train_loss: float
    layout: str
    model: Sequential

    @cached_property
    def test_acc(self) -> float:
        """Accuracy on the :data:`TEST` test signals (computed on first use)."""
        return _accuracy(self.model, mnist1d_split(self.layout).test)


def _accuracy(model: Sequential, data: tuple[np.ndarray, np.ndarray]) -> float:
    # on one thread: on a 2-core machine BLAS's second thread made a 20,000-signal evaluation several times slower
    with single_threaded():
        return float(evaluate(model, *data)[1])


def schedule_run_1d(name: str, peak_lr: float, *, seed: int = 0, epochs: int = 10, hidden: int = 100) -> Run1D:
    """The paper's MLP (:func:`~odyssey_lessons.nn.mnist1d_mlp`, ``hidden`` units) trained with SGD (momentum 0.9,
    batch :data:`BATCH_SIZE`) under ``example_schedules(T, lr=peak_lr)[name]``, ``T`` the run's steps.

    Raises:
        ValueError: Unknown schedule, a bad ``peak_lr``, ``seed``, ``epochs`` or ``hidden``.
    """
    return _checked_run("mlp", hidden, "sgd+momentum", name, peak_lr, seed, epochs, arm=name)


def optimizer_run_1d(
    name: str, lr: float, *, seed: int = 0, epochs: int = 10, channels: int = 25, schedule: str = "constant"
) -> Run1D:
    """The paper's CNN (:func:`~odyssey_lessons.nn.mnist1d_cnn`, ``channels`` per convolution) trained with
    ``M1D_OPTIMIZERS[name]`` (batch :data:`BATCH_SIZE`) under ``example_schedules(T, lr=lr)[schedule]``, ``T`` the
    run's steps (``"constant"``: ``lr`` throughout).

    Raises:
        ValueError: Unknown optimizer or schedule, a bad ``lr``, ``seed``, ``epochs`` or ``channels``.
    """
    return _checked_run("cnn", channels, name, schedule, lr, seed, epochs, arm=name)


def _checked_run(layout: str, width: int, optimizer: str, schedule: str, lr: float, seed: int, epochs: int, *,
                 arm: str) -> Run1D:  # fmt: skip
    if optimizer not in M1D_OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; known: {', '.join(M1D_OPTIMIZERS)}")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; known: {', '.join(SCHEDULES)}")
    lr = check_positive("lr", lr)
    seed = check_int("seed", seed, minimum=0)
    epochs = check_int("epochs", epochs, minimum=1, maximum=200)
    width = check_int("width", width, minimum=1)
    return _run(layout, width, optimizer, schedule, float(lr), seed, epochs, arm)


@lru_cache(maxsize=512)
def _run(layout: str, width: int, optimizer: str, schedule: str, lr: float, seed: int, epochs: int, arm: str) -> Run1D:
    task = mnist1d_split(layout)
    rng = np.random.default_rng(seed)
    model = mnist1d_mlp(rng=rng, hidden=width) if layout == "mlp" else mnist1d_cnn(rng=rng, channels=width)
    total = epochs * -(-len(task.train[1]) // BATCH_SIZE)
    lr_at = example_schedules(max(total, 40), lr=lr)[schedule]
    with np.errstate(over="ignore", invalid="ignore"):  # a grid's top lr may diverge: its accuracy says so
        history = fit(model, task.train, optimizer=M1D_OPTIMIZERS[optimizer](lr_at), epochs=epochs,
                      batch_size=BATCH_SIZE, seed=seed)  # fmt: skip
        val_acc = _accuracy(model, task.val)
    return Run1D(arm, lr, seed, len(history.step["loss"]), val_acc, float(history.epoch["train_loss"][-1]), layout,
                 model)  # fmt: skip


@dataclass(frozen=True)
class BestLR:
    """Arms compared at their own best learning rate, on shared seeds.

    Attributes:
        val_grid: ``{arm: {lr: mean validation accuracy over the selection seeds}}``.
        best_lr: ``{arm: the lr of the best mean validation accuracy}``.
        runs: ``{arm: runs at best_lr[arm], seeds 0, 1, ...}`` (the same seeds for every arm).
    """

    val_grid: dict[str, dict[float, float]]
    best_lr: dict[str, float]
    runs: dict[str, tuple[Run1D, ...]]

    def test_points(self, arm: str) -> np.ndarray:
        """Per seed: the arm's test accuracy in points."""
        return np.array([100 * r.test_acc for r in self.runs[arm]])

    def val_points(self, arm: str) -> float:
        """The arm's mean validation accuracy in points over all its seeds at its best lr."""
        return float(np.mean([100 * r.val_acc for r in self.runs[arm]]))

    def at_grid_edge(self, arm: str) -> bool:
        """True when the best lr is the lowest or highest value of the arm's grid (a wider grid might do better)."""
        grid = sorted(self.val_grid[arm])
        return len(grid) > 1 and self.best_lr[arm] in (grid[0], grid[-1])


def at_best_lr(
    run: Callable[[str, float, int], Run1D],
    grids: Mapping[str, Sequence[float]],
    *,
    seeds: int,
    select_seeds: int = 1,
    on_run: Callable[[], object] | None = None,
) -> BestLR:
    """Every arm of ``grids`` at its best learning rate: ``run(arm, lr, seed)`` for every lr of its grid and seeds
    ``0 .. select_seeds - 1``; the lr of the best mean validation accuracy is kept and seeds ``select_seeds ..
    seeds - 1`` are trained there.

    Raises:
        TypeError: ``seeds`` or ``select_seeds`` not an int.
        ValueError: An empty grid, or not ``1 <= select_seeds <= seeds``.
    """
    if not grids or any(len(g) == 0 for g in grids.values()):
        raise ValueError(f"every arm needs a non-empty grid, got grids={dict(grids)!r}")
    seeds, select_seeds = check_int("seeds", seeds), check_int("select_seeds", select_seeds)
    if not 1 <= select_seeds <= seeds:
        raise ValueError(f"need 1 <= select_seeds <= seeds, got select_seeds={select_seeds!r}, seeds={seeds!r}")
    tick = on_run or (lambda: None)
    val_grid, best_lr, runs = {}, {}, {}
    for arm, grid in grids.items():
        tried = {}
        for lr in grid:
            tried[float(lr)] = []
            for s in range(select_seeds):
                tried[float(lr)].append(run(arm, lr, s))
                tick()
        val_grid[arm] = {lr: float(np.mean([r.val_acc for r in rs])) for lr, rs in tried.items()}
        best_lr[arm] = max(val_grid[arm], key=val_grid[arm].__getitem__)
        rest = []
        for s in range(select_seeds, seeds):
            rest.append(run(arm, best_lr[arm], s))
            tick()
        runs[arm] = tuple(tried[best_lr[arm]]) + tuple(rest)
    return BestLR(val_grid, best_lr, runs)


def schedule_study(
    peaks: Mapping[str, Sequence[float]],
    *,
    seeds: int,
    epochs: int = 10,
    select_seeds: int = 1,
    on_run: Callable[[], object] | None = None,
) -> BestLR:
    """Schedules on the MNIST-1D MLP (:func:`schedule_run_1d`), each at its best peak of ``peaks[name]``."""
    return at_best_lr(lambda name, lr, s: schedule_run_1d(name, lr, seed=s, epochs=epochs), peaks, seeds=seeds,
                      select_seeds=select_seeds, on_run=on_run)  # fmt: skip


def optimizer_study(
    lrs: Mapping[str, Sequence[float]],
    *,
    seeds: int,
    epochs: int = 10,
    channels: int = 25,
    schedule: str = "constant",
    select_seeds: int = 1,
    on_run: Callable[[], object] | None = None,
) -> BestLR:
    """Optimizers on the MNIST-1D CNN (:func:`optimizer_run_1d`), each at its best learning rate of ``lrs[name]``."""
    return at_best_lr(lambda name, lr, s: optimizer_run_1d(name, lr, seed=s, epochs=epochs, channels=channels,
                                                      schedule=schedule), lrs,
                      seeds=seeds, select_seeds=select_seeds, on_run=on_run)  # fmt: skip
