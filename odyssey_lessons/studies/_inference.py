"""INT8 against FP32 inference on this CPU, twice: on this course's kernels and on a production engine (ONNX Runtime),
so that a verdict on "INT8 is 4x faster" is a verdict on INT8 and not only on the course's own loops.

Every contender runs on one thread (numba and BLAS through :func:`odyssey_lessons._threads.single_threaded`, ONNX
Runtime with ``intra_op_num_threads=1``), after a warm-up call (compilation, cache loads, first page faults), in
turn with the others for ``repeats`` rounds (:func:`odyssey_lessons.perf.interleaved`), so each speed-up comes from
paired rounds with its spread (:func:`odyssey_lessons.perf.paired_speedup`).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from odyssey_lessons._interleave import interleaved
from odyssey_lessons._threads import single_threaded
from odyssey_lessons.evidence import Claim, Verdict, judge
from odyssey_lessons.nn import Sequential
from odyssey_lessons.perf import paired_speedup
from odyssey_lessons.quant import OnnxRuntimeModel, QuantizedModel, export_float_onnx, export_onnx

ENGINE_OURS = "this course (numba kernels, numpy BLAS)"


def onnxruntime_version() -> str | None:
    """The installed ONNX Runtime's version, or None (``pip install 'odyssey-lessons[engines]'`` adds it)."""
    try:
        importlib.metadata.version("onnx")
        return importlib.metadata.version("onnxruntime")
    except importlib.metadata.PackageNotFoundError:
        return None


def int8_speedups(
    model: Sequential,
    quantized: dict[str, QuantizedModel],
    x: np.ndarray,
    *,
    repeats: int = 9,
    min_time: float = 2e-3,
    onnxruntime: bool = True,
) -> dict:
    """Latency of ``model`` (float32) and of each quantized model on ``x``, and -- where ONNX Runtime is installed and
    ``onnxruntime`` is true -- of the first quantized model and the float model exported to ONNX and run by ORT.

    Args:
        model: The trained float model (``model.forward(x, training=False)`` is the FP32 contender).
        quantized: Labelled integer-only models, e.g. ``{"int8": q8, "int4 weights": q4}``; the first one is also
            exported to ORT.
        x: The input batch.
        repeats: Rounds of the interleaved timing (>= 1).
        min_time: Seconds a sample lasts at least (a call is repeated until it does).
        onnxruntime: Whether to include the ORT rows (when it is installed).

    Returns:
        ``{"batch", "times": {contender: [per-round seconds]}, "median_s": {contender: seconds}, "rows": [{"engine",
        "format", "path", "speedup": {"median", "low", "high", "rounds"}}, ...], "onnxruntime": version or None}``:
        one row per quantized model on this course's engine (speed-up over this course's FP32) and, with ORT, one row
        "ONNX Runtime <version>" (ORT int8 over ORT FP32). Contenders in ``times``: ``fp32``, each label of
        ``quantized``, and with ORT ``ort_fp32`` and ``ort_int8``.

    Raises:
        TypeError: ``quantized`` is empty or holds something that is not a :class:`QuantizedModel`.
    """
    if not quantized or not all(isinstance(q, QuantizedModel) for q in quantized.values()):
        raise TypeError(f"quantized must map labels to QuantizedModel objects, got {quantized!r}")
    fns: dict[str, Callable[[], object]] = {"fp32": lambda: model.forward(x, training=False)}
    for label, q in quantized.items():
        fns[label] = lambda q=q: q.predict_logits(x)
    version = onnxruntime_version() if onnxruntime else None
    first = next(iter(quantized))
    if version:
        shape = tuple(x.shape[1:])
        ort_int8 = OnnxRuntimeModel(export_onnx(quantized[first], shape), threads=1)
        ort_fp32 = OnnxRuntimeModel(export_float_onnx(model, shape), threads=1)
        fns["ort_fp32"] = lambda: ort_fp32.predict_logits(x)
        fns["ort_int8"] = lambda: ort_int8.predict_logits(x)
    with single_threaded():
        times = interleaved(fns, repeats, min_time=min_time)
    rows = [
        {"engine": ENGINE_OURS, "format": label, "path": q.path, "speedup": paired_speedup(times["fp32"], times[label])}
        for label, q in quantized.items()
    ]
    if version:
        rows.append({"engine": f"ONNX Runtime {version} (MLAS)", "format": first, "path": "ORT CPU provider",
                     "speedup": paired_speedup(times["ort_fp32"], times["ort_int8"])})  # fmt: skip
    return {
        "batch": int(x.shape[0]),
        "times": times,
        "median_s": {k: float(np.median(v)) for k, v in times.items()},
        "rows": rows,
        "onnxruntime": version,
    }


INT8_SPEEDUP = Claim(
    "INT8 offers 4x speedup for inference",
    "speed, INT8 over FP32 on the same engine",
    unit="×",
    above=3.2,
    scale="ratio",
)
"""The seed's claim as data: it holds where the speed-up's interval lies above 3.2x (within 20% of the 4x)."""


def int8_verdicts(result: dict, claim: Claim = INT8_SPEEDUP, *, case: str = "") -> list[Verdict]:
    """The claim judged on each row of an :func:`int8_speedups` result: the quantized model's per-round times
    against its engine's FP32 times (paired rounds, on the log scale), one :class:`Verdict` per row, its metric
    naming the engine, the format and the batch (plus ``case``, e.g. the model)."""
    verdicts = []
    for row in result["rows"]:
        ours = row["engine"] == ENGINE_OURS
        new, old = (row["format"], "fp32") if ours else ("ort_int8", "ort_fp32")
        engine = "this course's kernels" if ours else row["engine"].split(" (")[0]
        label = ", ".join(x for x in (case, f"batch {result['batch']}") if x)
        metric = f"speed, {row['format']} over FP32, {engine} ({label})"
        verdicts.append(judge(replace(claim, metric=metric), result["times"][new], result["times"][old],
                              repeat="rounds"))  # fmt: skip
    return verdicts
