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

import numpy as np

from odyssey_lessons._interleave import interleaved
from odyssey_lessons._threads import single_threaded
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
        ``{"batch", "median_s": {contender: seconds}, "rows": [{"engine", "format", "path", "speedup": {"median",
        "low", "high", "rounds"}}, ...], "onnxruntime": version or None}``: one row per quantized model on this
        course's engine (speed-up over this course's FP32) and, with ORT, one row "ONNX Runtime <version>" (ORT int8
        over ORT FP32).

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
        "median_s": {k: float(np.median(v)) for k, v in times.items()},
        "rows": rows,
        "onnxruntime": version,
    }


def judge_speedup(claimed: float, cases: dict[object, dict], *, engine: str, share: float = 0.8) -> dict:
    """The verdict on "``claimed``x faster" for one engine, judged on its best case: the rule lessons 6 and 8 share.

    A case is a :func:`paired_speedup` result. The claim *holds* if even the slowest round of the best case reaches
    ``share * claimed`` (80% of the claim: a "4x" met at 3.2x), *does not hold* if even its fastest round stays below,
    and is *inconclusive* if its rounds straddle that line (then re-running can flip it, and the sentence says so).

    Returns:
        ``{"label": "holds" | "does not hold" | "inconclusive", "evidence": "<engine>, best case ...: 1.61x (1.54-1.98
        over rounds)", "sentence": label and evidence as one sentence}``.
    """
    case, best = max(cases.items(), key=lambda kv: kv[1]["median"])
    line = share * claimed
    evidence = f"{engine}, best case {case}: {best['median']:.2f}× ({best['low']:.2f}–{best['high']:.2f} over rounds)"
    if best["low"] >= line:
        label, why = "holds", f"at least {line:.1f}× in every round"
    elif best["high"] < line:
        label, why = "does not hold", f"below {line:.1f}× ({share:.0%} of {claimed}×) in every round"
    else:
        label, why = "inconclusive", f"its rounds straddle {line:.1f}×: a re-run can go either way"
    return {"label": label, "evidence": evidence, "sentence": f"{label} on {evidence}: {why}"}
