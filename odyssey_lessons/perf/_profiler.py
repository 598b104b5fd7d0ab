"""A per-layer profiler for ``nn.Sequential``: where does a training step's time go, and how fast is each layer?

The layers run one by one -- forward in order, then the softmax cross-entropy loss, then backward in reverse -- each
call timed with ``time.perf_counter_ns``. After ``warmup`` untimed steps, each of ``repeats`` rounds times the layers
once and then the whole step (``model.forward`` + loss + ``model.backward``) once, interleaved so both see the same
machine load; every figure is a median over the rounds. FLOPs and bytes come from :func:`layer_counts`, so each row
also shows the achieved GFLOP/s and the arithmetic intensity (FLOP per byte) a roofline plot needs.
"""

from __future__ import annotations

import contextlib
import copy
import time
from dataclasses import dataclass

import numpy as np

from odyssey_lessons._threads import single_threaded
from odyssey_lessons._validate import check_int, check_positive_int
from odyssey_lessons.nn import Sequential, softmax_cross_entropy
from odyssey_lessons.perf._counts import Counts, layer_name, loss_counts, model_counts
from odyssey_lessons.perf._memory import activation_bytes

LOSS_NAME = "softmax_cross_entropy"
THREADS = ("single", "default")


@dataclass(frozen=True)
class ProfileRow:
    """One layer (or the loss) of a profiled step; times are medians in seconds per step.

    Attributes:
        name: ``"0: Conv2D(1→8, 3×3)"`` etc., or ``"softmax_cross_entropy"`` for the loss (forward and gradient).
        calls: Timed calls (``repeats`` rounds × forward, plus backward when profiled).
        forward_s, backward_s: Median time of the layer's forward and backward (0 when not run).
        self_s: ``forward_s + backward_s``.
        pct_total: ``100 * self_s / total_s``.
        flops, bytes: From :func:`layer_counts` (forward, plus backward when profiled; the loss row from
            :func:`loss_counts`).
        gflops_per_s: ``flops / self_s / 1e9``.
        intensity: ``flops / bytes`` (FLOP per byte; NaN when no bytes move).
        activation_bytes: Bytes of the arrays the layer keeps for backward.
    """

    name: str
    calls: int
    forward_s: float
    backward_s: float
    self_s: float
    pct_total: float
    flops: int
    gflops_per_s: float
    bytes: int
    intensity: float
    activation_bytes: int


@dataclass(frozen=True)
class Profile:
    """Per-layer times of one training step (see :func:`profile`).

    ``total_s`` is the sum of the rows; ``step_s`` the whole step timed in one piece (medians). They differ by the
    profiler's own overhead (a timer call per layer) and by cache effects, so compare them as a ratio, not a
    difference. ``total_min_s`` (the sum of each layer's fastest pass) and ``step_min_s`` (the fastest whole step)
    are the pair to compare on a busy machine: a preemption of a few milliseconds lands on a whole step far more often
    than on one short layer call, which skews the medians of the two apart, but rarely on the fastest of each.
    """

    rows: tuple[ProfileRow, ...]
    total_s: float
    step_s: float
    batch_size: int
    repeats: int
    total_min_s: float = float("nan")
    step_min_s: float = float("nan")

    def as_table(self) -> list[dict]:
        """Rows as dicts with the columns of ``torch.profiler``'s table: name, calls, self time (ms), % of total,
        FLOPs, GFLOP/s, bytes moved, FLOP/byte and memory (activation bytes kept for backward)."""
        return [
            {
                "name": r.name,
                "calls": r.calls,
                "self_ms": 1e3 * r.self_s,
                "forward_ms": 1e3 * r.forward_s,
                "backward_ms": 1e3 * r.backward_s,
                "pct_total": r.pct_total,
                "flops": r.flops,
                "gflops_per_s": r.gflops_per_s,
                "bytes_moved": r.bytes,
                "flop_per_byte": r.intensity,
                "memory_bytes": r.activation_bytes,
            }
            for r in self.rows
        ]


def _labels(y: np.ndarray | None, batch: int, classes: int) -> np.ndarray:
    if y is None:
        return np.arange(batch) % classes  # any valid labels: the time does not depend on them
    if not isinstance(y, np.ndarray) or not np.issubdtype(y.dtype, np.integer) or y.shape != (batch,):
        raise ValueError(f"y must be an integer array of shape ({batch},), got {getattr(y, 'shape', type(y))}")
    return y


def profile(
    model: Sequential,
    x: np.ndarray,
    y: np.ndarray | None = None,
    *,
    repeats: int = 5,
    warmup: int = 1,
    backward: bool = True,
    threads: str = "single",
) -> Profile:
    """Time each layer of ``model`` on the batch ``x`` (labels ``y``, or arbitrary valid labels when None).

    Runs on a deep copy of ``model``: its parameters, gradients and BatchNorm statistics are untouched.

    Args:
        backward: True: a training step (training-mode forward, loss, backward). False: inference (eval-mode
            forward only, no loss row).
        threads: ``"single"`` runs under :func:`odyssey_lessons.perf.single_threaded` (numba kernels and BLAS on
            one thread), as ``train.fit`` does: on small layers a second thread costs more than it brings.
            ``"default"`` leaves the thread settings as they are.

    Raises:
        TypeError: ``model`` is not a Sequential, or it holds a layer :func:`layer_counts` does not know.
        ValueError: ``repeats`` < 1, ``warmup`` < 0, a bad ``threads``, or ``x``/``y`` that do not fit the model.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be an nn.Sequential, got {type(model).__name__}")
    repeats = check_positive_int("repeats", repeats)
    warmup = check_int("warmup", warmup, minimum=0)
    if threads not in THREADS:
        raise ValueError(f"threads must be one of {THREADS}, got threads={threads!r}")
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x must be a numpy.ndarray, got {type(x).__name__}")
    model = copy.deepcopy(model)
    training = bool(backward)
    counts = model_counts(model, x.shape, itemsize=x.dtype.itemsize, training=training)
    out_shape = counts[-1].output_shape
    labels = _labels(y, x.shape[0], out_shape[-1]) if training else None
    if training:
        counts.append(loss_counts(out_shape, itemsize=x.dtype.itemsize))

    fwd, bwd, step = _timed_rounds(model, x, labels, training=training, repeats=repeats, warmup=warmup, threads=threads)
    fwd_s, bwd_s = np.median(fwd, axis=0) * 1e-9, np.median(bwd, axis=0) * 1e-9
    rows = _rows(model, counts, fwd_s, bwd_s, training=training, repeats=repeats)
    total = float((fwd_s + bwd_s).sum())
    total_min = float((fwd.min(axis=0) + bwd.min(axis=0)).sum()) * 1e-9
    return Profile(tuple(rows), total, float(np.median(step)) * 1e-9, int(x.shape[0]), repeats, total_min,
                   float(step.min()) * 1e-9)  # fmt: skip


def _timed_rounds(
    model: Sequential,
    x: np.ndarray,
    labels: np.ndarray | None,
    *,
    training: bool,
    repeats: int,
    warmup: int,
    threads: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``warmup`` untimed rounds, then ``repeats`` rounds of one layer-by-layer step and one whole step: nanoseconds
    of each layer's forward and backward, ``(repeats, rows)`` each, and of each whole step, ``(repeats,)``."""
    n_rows = len(model.layers) + (1 if training else 0)
    fwd = np.zeros((repeats, n_rows))
    bwd = np.zeros((repeats, n_rows))
    step = np.zeros(repeats)
    ctx = single_threaded() if threads == "single" else contextlib.nullcontext()
    with ctx, np.errstate(over="ignore", invalid="ignore"):
        for r in range(-warmup, repeats):
            f_ns, b_ns = _time_layers(model, x, labels, training)
            if r >= 0:
                fwd[r], bwd[r] = f_ns, b_ns
            t0 = time.perf_counter_ns()
            _whole_step(model, x, labels, training)
            if r >= 0:
                step[r] = time.perf_counter_ns() - t0
    return fwd, bwd, step


def _rows(
    model: Sequential, counts: list[Counts], fwd_s: np.ndarray, bwd_s: np.ndarray, *, training: bool, repeats: int
) -> list[ProfileRow]:
    """One :class:`ProfileRow` per layer (and the loss when ``training``), from the median seconds per pass, the
    counts of :func:`model_counts` and the activations the model holds after its last step."""
    activations = [*activation_bytes(model.layers), 0] if training else activation_bytes(model.layers)
    self_s = fwd_s + bwd_s
    total = float(self_s.sum())
    names = [layer_name(layer, i) for i, layer in enumerate(model.layers)] + ([LOSS_NAME] if training else [])
    passes = 2 if training else 1
    rows = []
    for i, (name, c) in enumerate(zip(names, counts, strict=True)):
        flops = c.flops if training else c.forward_flops
        moved = c.bytes if training else c.forward_bytes
        is_loss = training and i == len(names) - 1
        rows.append(
            ProfileRow(
                name=name,
                calls=repeats * (1 if is_loss else passes),
                forward_s=float(fwd_s[i]),
                backward_s=float(bwd_s[i]),
                self_s=float(self_s[i]),
                pct_total=100.0 * float(self_s[i]) / total if total > 0 else 0.0,
                flops=int(flops),
                gflops_per_s=flops / float(self_s[i]) / 1e9 if self_s[i] > 0 else float("nan"),
                bytes=int(moved),
                intensity=flops / moved if moved else float("nan"),
                activation_bytes=int(activations[i]),
            )
        )
    return rows


def _time_layers(
    model: Sequential, x: np.ndarray, labels: np.ndarray | None, training: bool
) -> tuple[list[int], list[int]]:
    """One step, layer by layer: nanoseconds of each forward (the loss last) and each backward."""
    clock = time.perf_counter_ns
    fwd, bwd = [], []
    h = x
    for layer in model.layers:
        t0 = clock()
        h = layer.forward(h, training)
        fwd.append(clock() - t0)
    if not training:
        return fwd, [0] * len(fwd)
    model.zero_grad()
    t0 = clock()
    _, g = softmax_cross_entropy(h, labels)
    fwd.append(clock() - t0)
    bwd = [0] * len(fwd)
    for i in range(len(model.layers) - 1, -1, -1):
        t0 = clock()
        g = model.layers[i].backward(g)
        bwd[i] = clock() - t0
    return fwd, bwd


def _whole_step(model: Sequential, x: np.ndarray, labels: np.ndarray | None, training: bool) -> None:
    logits = model.forward(x, training)
    if training:
        model.zero_grad()
        _, g = softmax_cross_entropy(logits, labels)
        model.backward(g)
