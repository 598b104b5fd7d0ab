"""Benchmark: integer inference -- int8 GEMM throughput against float32 numpy BLAS, and the latency and size of
quantized digits models against their float models, all single-threaded (numba and BLAS on one thread) in one run.

GEMM rows time ``y = x @ W`` for the digits MLP's layer shapes and a 1024 x 1024 layer at batch 1 and 256:

- ``int8 kernel``: the int8 x int8 -> int32 kernel on weights stored transposed (N, K), as ``QuantizedModel`` keeps
  them (no zero points);
- ``int8_matmul``: the public function, which also transposes ``b`` on every call;
- ``float32``: ``numpy.matmul`` (BLAS) on the same shapes.

Model rows time ``QuantizedModel.predict_logits`` (quantize the input, integer layers, dequantize the logits; int4
weights are unpacked on every call) against ``model.forward(x, training=False)``.

ONNX Runtime rows put a production engine beside ours, on the same models and numbers: the int8 ``QuantizedModel``
exported with ``export_onnx`` (QLinearConv, MatMulInteger; MLAS int8 kernels) and the float model with
``export_float_onnx``, both on one ORT thread, timed in turn with ours (int8 ``predict_logits``, float32 ``forward``)
for the digits MLP and CNN and an MLP 1024 -> 1024 -> 1024 (random weights: speed does not depend on training).
Without onnxruntime (``pip install 'odyssey-lessons[bench]'``) those rows are left out and the result says why.

Not a test: nothing asserts a time; the issue's targets (int8 >= 0.5x float32 BLAS at batch 256 and >= 1x at batch 1)
are reported next to the numbers.

    python benchmarks/bench_quant.py [--quick] [--repeats 20] [--json PATH]
"""

from __future__ import annotations

import argparse
import importlib.metadata

import numpy as np
from _common import header_line, interleaved, main_for, provenance, ratio_row

from odyssey_lessons._threads import single_threaded
from odyssey_lessons.data import digits_task
from odyssey_lessons.nn import digits_cnn, mlp
from odyssey_lessons.optim import adam
from odyssey_lessons.quant import OnnxRuntimeModel, available_int8_paths, export_float_onnx, export_onnx
from odyssey_lessons.quant._intgemm import int8_matmul, matmul_s8t
from odyssey_lessons.quant._qmodel import QuantizedModel
from odyssey_lessons.quant._vnnigemm import PackedWeights, padded
from odyssey_lessons.quant._vnnikernels import GEMM_KERNELS
from odyssey_lessons.train import fit

# (label, K, N): y (batch, N) = x (batch, K) @ W (K, N)
GEMM_SHAPES = [("mlp layer 1 (64->128)", 64, 128), ("mlp layer 2 (128->10)", 128, 10), ("1024->1024", 1024, 1024)]
BATCHES = (1, 256)


def timed(fns: dict, repeats: int) -> dict:
    """Min time per call of each function, timed in turn; each sample lasts at least 1 ms."""
    return {k: min(v) for k, v in interleaved(fns, repeats, min_time=1e-3).items()}


def gemm_rows(repeats: int, rng: np.random.Generator) -> list[dict]:
    rows = []
    paths = [p for p in available_int8_paths() if p != "portable"]
    for label, k, n in GEMM_SHAPES:
        w = rng.integers(-127, 128, size=(k, n), dtype=np.int8)
        wt = np.ascontiguousarray(w.T)
        packed = PackedWeights(wt)
        wf = w.astype(np.float32)
        for batch in BATCHES:
            x = rng.integers(-128, 128, size=(batch, k), dtype=np.int8)
            xu = (x.view(np.uint8) ^ np.uint8(0x80)).astype(np.uint8)  # the same values as uint8, zero point 128
            xf = x.astype(np.float32)
            fns = {f"vnni_{p}": vnni_call(xu, packed, p) for p in paths}
            fns.update(
                {
                    "portable_kernel": lambda x=x, wt=wt: matmul_s8t(x, wt, 0, 0),
                    "int8_matmul": lambda x=x, w=w: int8_matmul(x, w),
                    "float32": lambda xf=xf, wf=wf: np.matmul(xf, wf),
                }
            )
            t = timed(fns, repeats)
            ops = 2 * batch * k * n
            best = min((key for key in t if key.startswith("vnni_")), key=t.get, default="portable_kernel")
            row = {"shape": label, "batch": batch, "M": batch, "K": k, "N": n, "fastest_int8": best}
            row.update({f"{key}_gops": ops / v / 1e9 for key, v in t.items()})
            row["int8_vs_float32"] = t["float32"] / t[best]
            row["portable_vs_float32"] = t["float32"] / t["portable_kernel"]
            row["matmul_vs_float32"] = t["float32"] / t["int8_matmul"]
            row["target"] = gemm_target(k, n, batch)
            rows.append(row)
            print(
                f"  {label:24s} batch {batch:3d}: {best} {row[best + '_gops']:6.1f}, portable "
                f"{row['portable_kernel_gops']:6.1f}, int8_matmul {row['int8_matmul_gops']:6.1f}, float32 "
                f"{row['float32_gops']:6.1f} Gop/s"
            )
    return rows


def vnni_call(xu: np.ndarray, packed: PackedWeights, path: str):
    """The VNNI kernel of ``path`` on prepacked weights with its constants computed once (zero point 128 folded
    into the column term), allocating its output per call: the counterpart of ``matmul_s8t`` for the portable
    kernel, without :func:`vnni_matmul`'s per-call preparation."""
    colterm = padded((-128 * packed.colsum.astype(np.int64)).astype(np.int32))
    rowterm, empty, prm = np.zeros(xu.shape[0], np.int32), np.zeros(0, np.int32), np.zeros(4, np.int64)
    kernel, panels, none8 = GEMM_KERNELS[path], packed.panels(), np.zeros((0, 0), np.uint8)

    def call() -> np.ndarray:
        out = np.empty((xu.shape[0], packed.n), dtype=np.int32)
        kernel(xu, panels, colterm, rowterm, empty, empty, prm, out, none8)
        return out

    return call


def gemm_target(k: int, n: int, batch: int) -> float | None:
    """The issue's targets for the fastest int8 path against float32 BLAS: >= 2.5x at 1024 x 1024 (batch >= 64),
    >= 1.5x on the digits layers at batch 256; none at batch 1."""
    if batch < 64:
        return None
    return 2.5 if (k, n) == (1024, 1024) else 1.5


def trained(layout: str):
    """The digits model of ``layout`` ("mlp" or "cnn"), trained briefly, and its task."""
    task = digits_task(layout, seed=0)
    rng = np.random.default_rng(0)
    model = mlp((64, 128, 10), rng=rng) if layout == "mlp" else digits_cnn(rng=rng)
    fit(model, task.train, optimizer=adam(1e-2), epochs=6, batch_size=64, seed=0)
    return model, task


def model_rows(repeats: int) -> list[dict]:
    rows = []
    for layout in ("mlp", "cnn"):
        model, task = trained(layout)
        x_test, y_test = task.test
        float_acc = float(np.mean(model.forward(x_test, training=False).argmax(axis=1) == y_test))
        for bits in (8, 4):
            qmodel = QuantizedModel.from_float(model, task.train[0][:512], weight_bits=bits)
            int_acc = float(np.mean(qmodel.predict(x_test) == y_test))
            size = qmodel.size_report()
            paths = available_int8_paths()
            copies = {p: QuantizedModel.from_float(model, task.train[0][:512], weight_bits=bits, path=p) for p in paths}
            for batch in BATCHES:
                x = np.ascontiguousarray(x_test[:batch])
                fns = {p: (lambda q=q, x=x: q.predict_logits(x)) for p, q in copies.items()}
                fns["float"] = lambda m=model, x=x: m.forward(x, training=False)
                t = timed(fns, repeats)
                for p in paths:
                    rows.append(
                        {
                            "model": f"digits {layout}",
                            "weight_bits": bits,
                            "path": p,
                            "batch": batch,
                            "quantized_s": t[p],
                            "float_s": t["float"],
                            "speedup": t["float"] / t[p],
                            "target": 1.5 if batch >= 64 and p == paths[0] and p != "portable" else None,
                            "float_accuracy": float_acc,
                            "int_accuracy": int_acc,
                            **size,
                        }
                    )
                    print(
                        f"  {layout} w{bits} {p:12s} batch {batch:3d}: quantized {t[p] * 1e6:8.1f} us, float "
                        f"{t['float'] * 1e6:8.1f} us; accuracy {int_acc:.4f} vs {float_acc:.4f}; "
                        f"{size['nbytes']} B vs {size['float_nbytes']} B"
                    )
    return rows


def ort_models():
    """(label, float model, int8 QuantizedModel, inputs) for the ONNX Runtime rows."""
    for layout in ("mlp", "cnn"):
        model, task = trained(layout)
        qmodel = QuantizedModel.from_float(model, task.train[0][:512])
        x = np.concatenate([task.test[0]] * 2)[: max(BATCHES)]  # the test set has 269 images
        yield f"digits {layout}", model, qmodel, x
    rng = np.random.default_rng(0)
    model = mlp((1024, 1024, 1024), rng=rng)
    x = rng.standard_normal((max(BATCHES), 1024)).astype(np.float32)
    yield "mlp 1024->1024->1024", model, QuantizedModel.from_float(model, x), x


def ort_rows(repeats: int) -> list[dict]:
    """ORT int8, ORT float32, ours int8 and ours float32 on the same inputs, timed in turn, ORT on one thread."""
    rows = []
    for label, model, qmodel, x_all in ort_models():
        shape = x_all.shape[1:]
        ort_int8 = OnnxRuntimeModel(export_onnx(qmodel, shape), threads=1)
        ort_fp32 = OnnxRuntimeModel(export_float_onnx(model, shape), threads=1)
        for batch in BATCHES:
            x = np.ascontiguousarray(x_all[:batch])
            agree = float(np.mean(ort_int8.predict(x) == qmodel.predict(x)))
            t = timed(
                {
                    "ort_int8": lambda m=ort_int8, x=x: m.predict_logits(x),
                    "ort_fp32": lambda m=ort_fp32, x=x: m.predict_logits(x),
                    "ours_int8": lambda q=qmodel, x=x: q.predict_logits(x),
                    "ours_fp32": lambda m=model, x=x: m.forward(x, training=False),
                },
                repeats,
            )
            row = {"model": label, "batch": batch, **{f"{k}_s": v for k, v in t.items()}}
            row["ort_int8_vs_fp32"] = t["ort_fp32"] / t["ort_int8"]
            row["ours_int8_vs_fp32"] = t["ours_fp32"] / t["ours_int8"]
            row["ours_int8_vs_ort_int8"] = t["ort_int8"] / t["ours_int8"]
            row["prediction_agreement"] = agree
            rows.append(row)
            print(
                f"  {label} batch {batch:3d}: ORT int8 {t['ort_int8'] * 1e6:8.1f} us, ORT fp32 "
                f"{t['ort_fp32'] * 1e6:8.1f} us, ours int8 {t['ours_int8'] * 1e6:8.1f} us, ours fp32 "
                f"{t['ours_fp32'] * 1e6:8.1f} us"
            )
    return rows


def _ort_version() -> str | None:
    try:
        return importlib.metadata.version("onnxruntime")
    except importlib.metadata.PackageNotFoundError:
        return None


def run(args: argparse.Namespace) -> dict:
    repeats = 5 if args.quick else args.repeats
    rng = np.random.default_rng(0)
    with single_threaded():
        gemm = gemm_rows(repeats, rng)
        models = model_rows(repeats)
        ort = ort_rows(repeats) if _ort_version() else []
    result = {
        "benchmark": "integer inference (int8 GEMM and quantized models)",
        **provenance(),
        "threads": "single_threaded(): numba and BLAS limited to the calling thread; ORT intra_op_num_threads=1",
        "repeats": repeats,
        "gemm": gemm,
        "models": models,
        "onnxruntime": ort,
    }
    result["versions"]["onnxruntime"] = _ort_version()
    if not ort:
        result["onnxruntime_missing"] = "onnxruntime is not installed: pip install 'odyssey-lessons[bench]'"
    return result


def markdown(result: dict) -> str:
    lines = [
        f"integer inference, single-threaded, {header_line(result)}; min of {result['repeats']}",
        "",
        "| GEMM | batch | fastest int8 | its Gop/s | portable Gop/s | int8_matmul Gop/s | float32 BLAS Gop/s "
        "| fastest × float32 | portable × float32 | target |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["gemm"]:
        target = f"≥ {r['target']}" if r["target"] else ""
        lines.append(
            f"| {r['shape']} | {r['batch']} | {r['fastest_int8']} | {r[r['fastest_int8'] + '_gops']:.1f} | "
            f"{r['portable_kernel_gops']:.1f} | {r['int8_matmul_gops']:.1f} | {r['float32_gops']:.1f} | "
            f"{r['int8_vs_float32']:.2f} | {r['portable_vs_float32']:.2f} | {target} |"
        )
    lines += [
        "",
        "| model | weights | path | batch | quantized µs | float µs | × float | int acc | float acc | bytes "
        "| float bytes | weight ratio | overhead B |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["models"]:
        lines.append(
            f"| {r['model']} | int{r['weight_bits']} | {r['path']} | {r['batch']} | {r['quantized_s'] * 1e6:.1f} | "
            f"{r['float_s'] * 1e6:.1f} | {r['speedup']:.2f} | {r['int_accuracy']:.4f} | {r['float_accuracy']:.4f} | "
            f"{r['nbytes']} | {r['float_nbytes']} | {r['weight_ratio']:.2f} | {r['overhead_bytes']} |"
        )
    if result.get("onnxruntime_missing"):
        lines += ["", result["onnxruntime_missing"]]
    if result.get("onnxruntime"):
        lines += [
            "",
            "| model | batch | ORT int8 µs | ORT fp32 µs | ours int8 µs | ours fp32 µs | ORT int8 × fp32 "
            "| ours int8 × fp32 | ours int8 × ORT int8 | same prediction |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in result["onnxruntime"]:
            lines.append(
                f"| {r['model']} | {r['batch']} | {r['ort_int8_s'] * 1e6:.1f} | {r['ort_fp32_s'] * 1e6:.1f} | "
                f"{r['ours_int8_s'] * 1e6:.1f} | {r['ours_fp32_s'] * 1e6:.1f} | {r['ort_int8_vs_fp32']:.2f} | "
                f"{r['ours_int8_vs_fp32']:.2f} | {r['ours_int8_vs_ort_int8']:.2f} | {r['prediction_agreement']:.3f} |"
            )
    return "\n".join(lines)


def summary(result: dict) -> list[dict]:
    """Fastest int8 GEMM ÷ float32 BLAS and the portable kernel's (targets of issue 19 on the fastest path);
    quantized model ÷ float on each path."""
    rows = []
    for r in result["gemm"]:
        case = f"int8 GEMM {r['shape']}, batch {r['batch']}"
        rows.append(ratio_row("quant", f"{case} ({r['fastest_int8']})", r["int8_vs_float32"],
                              baseline="float32 numpy.matmul (BLAS)", target=r["target"],
                              detail=f"{r[r['fastest_int8'] + '_gops']:.1f} vs {r['float32_gops']:.1f} Gop/s",
                              ))  # fmt: skip
        rows.append(ratio_row("quant", f"{case} (portable)", r["portable_vs_float32"],
                              baseline="float32 numpy.matmul (BLAS)",
                              detail=f"{r['portable_kernel_gops']:.1f} vs {r['float32_gops']:.1f} Gop/s"))  # fmt: skip
    for r in result["models"]:
        case = f"{r['model']} int{r['weight_bits']} inference ({r['path']}), batch {r['batch']}"
        rows.append(ratio_row("quant", case, r["speedup"], baseline="float32 model forward", target=r["target"],
                              detail=f"acc {r['int_accuracy']:.3f} vs {r['float_accuracy']:.3f}"))  # fmt: skip
        if r["batch"] == BATCHES[0] and r["path"] == "portable":
            rows.append(ratio_row("quant", f"{r['model']} int{r['weight_bits']} weight bytes", r["weight_ratio"],
                                  baseline="float32 weight bytes", target=32 / r["weight_bits"],
                                  detail=f"{r['nbytes']} B in all, overhead {r['overhead_bytes']} B"))  # fmt: skip
    for r in result.get("onnxruntime", []):
        case = f"{r['model']} int8, batch {r['batch']}"
        rows.append(ratio_row("quant", f"ORT {case}", r["ort_int8_vs_fp32"], baseline="ORT float32 (same engine)",
                              detail=f"ours int8 × ours fp32: {r['ours_int8_vs_fp32']:.2f}"))  # fmt: skip
        rows.append(ratio_row("quant", f"ours {case}", r["ours_int8_vs_ort_int8"], baseline="ORT int8",
                              detail=f"{r['ours_int8_s'] * 1e6:.1f} vs {r['ort_int8_s'] * 1e6:.1f} µs"))  # fmt: skip
    return rows


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=20, help="timed rounds (--quick: 5)")


if __name__ == "__main__":
    raise SystemExit(main_for(__doc__, run, markdown, "bench_quant.json", add_arguments=_add_arguments))
