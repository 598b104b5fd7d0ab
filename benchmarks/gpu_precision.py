"""Benchmark: dense matmul throughput and one training step per number format on a CUDA GPU (PyTorch).

What it measures, on ``cuda:0``:

- **matmul**: ``C = A @ B`` with M = N = K in ``--sizes`` (default 4096, 8192, 16384), A and B drawn from N(0, 1)
  (random data: zeros run faster on tensor cores, so they would overstate the rate), for
  ``fp32`` (``torch.backends.cuda.matmul.allow_tf32 = False``), ``tf32`` (True), ``fp16``, ``bf16`` and ``e4m3fn``
  (``torch._scaled_mm`` on float8_e4m3fn operands, the second one column-major as ``_scaled_mm`` requires,
  ``scale_a = scale_b = 1.0`` as float32 scalar tensors, ``out_dtype = torch.bfloat16``, ``use_fast_accum = False``).
  An extra row ``e4m3fn_fast_accum`` repeats FP8 with ``use_fast_accum = True`` (Hopper's faster, less precise
  accumulation). Each product is timed alone between two CUDA events, after a warm-up of at least
  ``--warmup-s`` seconds (GPU clocks ramp up under load); the median of at least ``--repeats`` timed products is
  kept. TFLOP/s = 2 * M * N * K / median_s / 1e12.
- **accuracy**: at the smallest size, the relative Frobenius error ``||C - C_ref|| / ||C_ref||`` of each format's
  product (inputs rounded to the format, as in the timed run) against the float64 product of the float32 inputs.
- **training_step**: one step of a ``--layers``-layer MLP (Linear ``--width`` x ``--width``, ReLU between, cross-entropy
  over ``--width`` classes on random data, batch sizes ``--batch``), AdamW (``fused=True``, lr 1e-4), for the policies
  ``fp32``, ``tf32``, ``autocast_bf16`` and ``autocast_fp16_gradscaler`` (``torch.amp.GradScaler``); each policy starts
  from the same initial weights. After ``--warmup-steps``, ``--steps`` steps are timed in blocks of ``--block`` steps
  (CUDA events around each block, no host sync inside it, so the CPU queues work ahead as a training loop does);
  ms/step = median block time / block; speedup against ``fp32`` at the same batch. Each step is also timed alone,
  waiting for the GPU after it (``median_ms_synced_each_step``: adds the launch latency a synchronising loop pays).

Refuses, with one line on stderr and exit status 2, where torch is not installed or CUDA is not available.

JSON written to ``--out`` (``version`` 1)::

    {
      "version": 1, "title": str,
      "provenance": {"gpu": str, "sm_count": int, "memory_bytes": int, "compute_capability": "9.0",
                     "driver": str, "cuda": str (torch.version.cuda), "cudnn": int | null, "torch": str,
                     "python": str, "date_utc": ISO 8601, "command": str, "nvidia_smi": {...}, "settings": {...}},
      "datasheet": {"source": str, "note": str, "unit": "TFLOP/s", "applies": bool,
                    "peaks": {"fp32": 67, "tf32": 495, "fp16": 989, "bf16": 989, "e4m3fn": 1979}},
      "matmul": {"unit": "TFLOP/s", "method": str,
                 "rows": [{"format", "m", "n", "k", "flop", "warmup", "repeats", "median_s", "min_s", "max_s",
                           "tflops", "datasheet_peak" (null where the datasheet does not apply), "fraction_of_peak"}]},
      "accuracy": {"size": int, "reference": str, "rows": [{"format", "rel_error_vs_fp64"}]},
      "training_step": {"model": str, "layers", "width", "batches": [int], "parameters", "optimizer": str,
                        "warmup_steps", "steps", "block", "method": str,
                        "rows": [{"policy", "batch", "median_ms", "min_ms", "max_ms", "blocks",
                                  "median_ms_synced_each_step", "speedup_vs_fp32", "final_loss",
                                  "loss_scale_initial", "loss_scale_final", "skipped_steps" (GradScaler only,
                                  else null)}]}
    }

No hostname is recorded. Also prints Markdown tables. Not a test: nothing here asserts a time.

    python benchmarks/gpu_precision.py --out gpu_precision.json [--sizes 4096 8192 16384]

``--device cpu`` (hidden from ``--help``) runs the same code on the CPU with wall-clock timing, to check the script's
logic on a machine without a GPU; its numbers say nothing about GPUs.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import math
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROG = "gpu_precision.py"
FORMATS = ["fp32", "tf32", "fp16", "bf16", "e4m3fn", "e4m3fn_fast_accum"]
N_BATCHES = 8
POLICIES = ["fp32", "tf32", "autocast_bf16", "autocast_fp16_gradscaler"]
# The comparison column: NVIDIA's dense peaks, derived from the datasheet figures kept in the package (with their
# source) in odyssey_lessons/measured/nvidia_h200_datasheet.json. Read by path, so the script needs only torch.
DATASHEET_FILE = Path(__file__).resolve().parents[1] / "odyssey_lessons" / "measured" / "nvidia_h200_datasheet.json"


def datasheet_peaks(sheet: dict) -> dict[str, int]:
    """Dense peaks in TFLOP/s, rounded to integers: plain figures as printed, tensor-core figures half the 'with
    sparsity' ones; FP8 with fast accumulation has the same peak as FP8."""
    peaks = {**sheet["dense"], **{k: v / 2 for k, v in sheet["with_sparsity"].items()}}
    peaks["e4m3fn_fast_accum"] = peaks["e4m3fn"]
    return {k: round(v) for k, v in peaks.items()}


DATASHEET = json.loads(DATASHEET_FILE.read_text(encoding="utf-8"))
DATASHEET_PEAKS = datasheet_peaks(DATASHEET)
DATASHEET_GPU = DATASHEET["gpu"]  # what nvidia-smi and torch call the SXM part; the NVL part has lower peaks
DATASHEET_SOURCE = (
    f"{DATASHEET['source']}, dense = half of the 'with sparsity' figures; "
    "kept in odyssey_lessons/measured/nvidia_h200_datasheet.json"
)


def refuse(why: str) -> None:
    print(f"{PROG}: refusing to run: {why}", file=sys.stderr)
    sys.exit(2)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="where to write the JSON")
    p.add_argument("--sizes", type=int, nargs="+", default=[4096, 8192, 16384], help="square matmul sizes M = N = K")
    p.add_argument("--repeats", type=int, default=20, help="at least this many timed products per cell (>= 10)")
    p.add_argument("--min-timed-s", type=float, default=0.3, help="time more products until this many seconds")
    p.add_argument("--warmup-s", type=float, default=0.3, help="warm-up seconds before each timed cell")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--width", type=int, default=4096)
    p.add_argument("--batch", type=int, nargs="+", default=[1024, 4096], help="training batch sizes")
    p.add_argument("--warmup-steps", type=int, default=10)
    p.add_argument("--steps", type=int, default=50, help="timed training steps per policy and batch")
    p.add_argument("--block", type=int, default=5, help="training steps per timed block")
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeats < 10:
        p.error("--repeats must be at least 10")
    return args


class Timer:
    """Times one call: CUDA events on the GPU, perf_counter (after nothing to wait for) on the CPU."""

    def __init__(self, torch, device: str):
        self.torch, self.device = torch, device

    def sync(self) -> None:
        if self.device == "cuda":
            self.torch.cuda.synchronize()

    def once(self, fn) -> float:
        if self.device == "cuda":
            start, end = self.torch.cuda.Event(enable_timing=True), self.torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1e3
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    def measure(self, fn, warmup_s: float, repeats: int, min_timed_s: float, min_warmup: int = 3) -> dict:
        """Warm up for ``warmup_s`` (and ``min_warmup`` calls), then time calls one by one; median of them."""
        n_warm, t0 = 0, time.perf_counter()
        while n_warm < min_warmup or time.perf_counter() - t0 < warmup_s:
            fn()
            n_warm += 1
            if n_warm % 8 == 0:
                self.sync()
        self.sync()
        times: list[float] = []
        while len(times) < repeats or (sum(times) < min_timed_s and len(times) < 50 * repeats):
            times.append(self.once(fn))
        return {
            "warmup": n_warm,
            "repeats": len(times),
            "median_s": statistics.median(times),
            "min_s": min(times),
            "max_s": max(times),
        }


def nvidia_smi(fields: str) -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip().splitlines()[0].strip() if out.stdout.strip() else None


def provenance(torch, device: str, argv: list[str], out: Path) -> dict:
    shown = [out.name if a == str(out) else a for a in argv]  # the output folder is the machine's, not the recipe's
    prov = {
        "device": device,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "python": platform.python_version(),
        "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": shlex.join(["python3", "benchmarks/gpu_precision.py", *shown]),
    }
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        prov.update(
            gpu=props.name,
            sm_count=props.multi_processor_count,
            memory_bytes=props.total_memory,
            compute_capability=f"{props.major}.{props.minor}",
            driver=nvidia_smi("driver_version"),
            nvidia_smi={
                "clocks.max.sm_mhz": nvidia_smi("clocks.max.sm"),
                "clocks.max.memory_mhz": nvidia_smi("clocks.max.memory"),
                "power.limit": nvidia_smi("power.limit"),
                "memory.total": nvidia_smi("memory.total"),
            },
        )
    else:
        prov.update(gpu=None, sm_count=None, memory_bytes=None, compute_capability=None, driver=None, nvidia_smi=None)
    return prov


def set_tf32(torch, on: bool) -> None:
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


def matmul_cells(torch, device: str, size: int, gen):
    """Yield (format, fn, product-as-float64) for one size; operands are built once per size."""
    a = torch.randn(size, size, device=device, generator=gen)
    b = torch.randn(size, size, device=device, generator=gen)
    c32 = torch.empty(size, size, device=device)
    a16, b16 = a.half(), b.half()
    c16 = torch.empty(size, size, device=device, dtype=torch.half)
    ab, bb = a.bfloat16(), b.bfloat16()
    cb = torch.empty(size, size, device=device, dtype=torch.bfloat16)
    a8 = a.to(torch.float8_e4m3fn)  # N(0, 1) lies well inside e4m3fn's range (max 448): scale 1
    b8 = b.t().contiguous().to(torch.float8_e4m3fn).t()  # column-major (K, N), as _scaled_mm requires
    one = torch.ones((), device=device, dtype=torch.float32)

    def fp8(fast: bool):
        return lambda: torch._scaled_mm(a8, b8, scale_a=one, scale_b=one, out_dtype=torch.bfloat16, use_fast_accum=fast)

    cells = {
        "fp32": (False, lambda: torch.mm(a, b, out=c32)),
        "tf32": (True, lambda: torch.mm(a, b, out=c32)),
        "fp16": (False, lambda: torch.mm(a16, b16, out=c16)),
        "bf16": (False, lambda: torch.mm(ab, bb, out=cb)),
        "e4m3fn": (False, fp8(False)),
        "e4m3fn_fast_accum": (False, fp8(True)),
    }
    return a, b, cells


def run_matmul(torch, timer: Timer, args, peaks: dict | None) -> tuple[list[dict], dict]:
    gen = torch.Generator(device=args.device).manual_seed(0)
    rows, accuracy = [], {"size": min(args.sizes), "reference": "float64 product of the float32 inputs", "rows": []}
    for size in args.sizes:
        a, b, cells = matmul_cells(torch, args.device, size, gen)
        ref = (a.double() @ b.double()) if size == min(args.sizes) else None
        for fmt in FORMATS:
            tf32, fn = cells[fmt]
            set_tf32(torch, tf32)
            stats = timer.measure(fn, args.warmup_s, args.repeats, args.min_timed_s)
            flop = 2 * size**3
            tflops = flop / stats["median_s"] / 1e12
            peak = peaks[fmt] if peaks else None
            row = {"format": fmt, "m": size, "n": size, "k": size, "flop": flop, **stats, "tflops": tflops}
            row.update(datasheet_peak=peak, fraction_of_peak=tflops / peak if peak else None)
            rows.append(row)
            print(f"  matmul {fmt:>18} {size:>6}: {tflops:9.1f} TFLOP/s  (median {1e3 * stats['median_s']:.3f} ms)")
            if ref is not None:
                err = float(torch.linalg.norm(fn().double() - ref) / torch.linalg.norm(ref))
                accuracy["rows"].append({"format": fmt, "rel_error_vs_fp64": err})
        set_tf32(torch, False)
        del a, b, cells, ref
        if args.device == "cuda":
            torch.cuda.empty_cache()
    return rows, accuracy


def train_rows(torch, timer: Timer, args, base_model, batch: int) -> list[dict]:
    """One row per policy for one batch size; every policy starts from a copy of ``base_model``'s weights."""
    F, dev = torch.nn.functional, args.device
    gen = torch.Generator(device=dev).manual_seed(1)
    data = [  # a few fixed random batches, cycled, so the step is not one batch memorised
        (
            torch.randn(batch, args.width, device=dev, generator=gen),
            torch.randint(0, args.width, (batch,), device=dev, generator=gen),
        )
        for _ in range(N_BATCHES)
    ]
    rows = []
    for policy in POLICIES:
        model = copy.deepcopy(base_model).to(dev)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
        set_tf32(torch, policy == "tf32")
        amp_dtype = {"autocast_bf16": torch.bfloat16, "autocast_fp16_gradscaler": torch.float16}.get(policy)
        scaler = torch.amp.GradScaler(dev) if policy == "autocast_fp16_gradscaler" else None
        losses: list = []
        init_scale = scaler.get_scale() if scaler is not None else None  # before the first step: the initial scale

        def step(model=model, opt=opt, amp_dtype=amp_dtype, scaler=scaler, losses=losses):
            x, y = data[len(losses) % N_BATCHES]
            opt.zero_grad(set_to_none=True)
            with torch.autocast(dev, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                loss = F.cross_entropy(model(x), y)
            if scaler is None:
                loss.backward()
                opt.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(opt)  # fused AdamW takes found_inf on the GPU: no host sync here
                scaler.update()
            losses.append(loss.detach())  # no host sync inside the timed steps

        def block(step=step):
            for _ in range(args.block):
                step()

        for _ in range(args.warmup_steps):
            step()
        timer.sync()
        blocks = [timer.once(block) / args.block for _ in range(args.steps // args.block)]
        synced = [timer.once(step) for _ in range(args.steps)]
        row = {
            "policy": policy,
            "batch": batch,
            "median_ms": 1e3 * statistics.median(blocks),
            "min_ms": 1e3 * min(blocks),
            "max_ms": 1e3 * max(blocks),
            "blocks": len(blocks),
            "median_ms_synced_each_step": 1e3 * statistics.median(synced),
            "final_loss": float(losses[-1]),
            "loss_scale_initial": None,
            "loss_scale_final": None,
            "skipped_steps": None,
        }
        if scaler is not None:
            # Fewer steps than growth_interval (2000) were run, so the scale never grew: each halving is one skip.
            final = scaler.get_scale()
            row.update(
                loss_scale_initial=init_scale,
                loss_scale_final=final,
                skipped_steps=round(math.log2(init_scale / final)),
            )
        rows.append(row)
        print(
            f"  train step {policy:>26} batch {batch:>5}: {row['median_ms']:8.2f} ms "
            f"(synced each step {row['median_ms_synced_each_step']:.2f} ms, loss {row['final_loss']:.4f})"
        )
        del model, opt, scaler, losses
        if dev == "cuda":
            torch.cuda.empty_cache()
    set_tf32(torch, False)
    for r in rows:
        r["speedup_vs_fp32"] = rows[0]["median_ms"] / r["median_ms"]
    return rows


def run_training(torch, timer: Timer, args) -> dict:
    nn = torch.nn
    torch.manual_seed(0)
    layers: list = []
    for i in range(args.layers):
        layers.append(nn.Linear(args.width, args.width))
        if i < args.layers - 1:
            layers.append(nn.ReLU())
    base_model = nn.Sequential(*layers)
    rows = [r for batch in args.batch for r in train_rows(torch, timer, args, base_model, batch)]
    return {
        "model": f"MLP, {args.layers} Linear({args.width}, {args.width}) layers with ReLU between, cross-entropy over "
        f"{args.width} classes, random inputs and labels ({N_BATCHES} fixed batches, cycled)",
        "layers": args.layers,
        "width": args.width,
        "batches": args.batch,
        "parameters": sum(p.numel() for p in base_model.parameters()),
        "optimizer": "torch.optim.AdamW(lr=1e-4, fused=True); torch.amp.GradScaler for fp16",
        "warmup_steps": args.warmup_steps,
        "steps": args.steps,
        "block": args.block,
        "method": f"after warm-up, blocks of {args.block} steps each timed between CUDA events with no host sync "
        "inside (the CPU queues ahead as in a training loop); ms/step = median block time / block. "
        "median_ms_synced_each_step: each step timed alone, waiting for the GPU after it (adds launch latency)",
        "rows": rows,
    }


def markdown(result: dict) -> str:
    lines = ["| format | M=N=K | median ms | TFLOP/s | datasheet dense peak | fraction of peak |"]
    lines.append("|---|---:|---:|---:|---:|---:|")
    for r in result["matmul"]["rows"]:
        peak = "" if r["datasheet_peak"] is None else f"{r['datasheet_peak']}"
        frac = "" if r["fraction_of_peak"] is None else f"{r['fraction_of_peak']:.0%}"
        lines.append(f"| {r['format']} | {r['m']} | {1e3 * r['median_s']:.3f} | {r['tflops']:.1f} | {peak} | {frac} |")
    acc = result["accuracy"]
    lines += ["", f"| format | rel. error vs fp64 at {acc['size']} |", "|---|---:|"]
    lines += [f"| {r['format']} | {r['rel_error_vs_fp64']:.3g} |" for r in acc["rows"]]
    tr = result["training_step"]
    lines += ["", tr["model"], "", "| policy | batch | median ms/step | speedup vs fp32 | ms/step, synced each step |"]
    lines.append("|---|---:|---:|---:|---:|")
    lines += [
        f"| {r['policy']} | {r['batch']} | {r['median_ms']:.2f} | {r['speedup_vs_fp32']:.2f}x | "
        f"{r['median_ms_synced_each_step']:.2f} |"
        for r in tr["rows"]
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    try:
        import torch
    except ImportError:
        refuse("PyTorch (torch) is not installed; this benchmark needs torch with a CUDA GPU")
    if args.device == "cuda" and not torch.cuda.is_available():
        refuse(f"no CUDA GPU is available (torch {torch.__version__}, torch.cuda.is_available() is False)")
    timer = Timer(torch, args.device)
    prov = provenance(torch, args.device, argv, args.out)
    applies = prov["gpu"] == DATASHEET_GPU
    peaks = DATASHEET_PEAKS if applies else None
    prov["settings"] = {
        "allow_fp16_reduced_precision_reduction": torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction,
        "allow_bf16_reduced_precision_reduction": torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction,
        "data": "N(0, 1) random",
    }
    print(f"{PROG}: {prov['gpu'] or 'CPU (logic check only)'}, torch {prov['torch']}, CUDA {prov['cuda']}")
    matmul_rows, accuracy = run_matmul(torch, timer, args, peaks)
    training = run_training(torch, timer, args)
    result = {
        "version": 1,
        "title": "Dense matrix-multiply throughput and one training step, by number format",
        "provenance": prov,
        "datasheet": {
            "source": DATASHEET_SOURCE,
            "note": "A comparison column only, not a measurement. Given where the GPU is named "
            f"'{DATASHEET_GPU}' (the SXM part); null otherwise.",
            "unit": "TFLOP/s",
            "applies": applies,
            "peaks": {k: v for k, v in DATASHEET_PEAKS.items() if k != "e4m3fn_fast_accum"},
        },
        "matmul": {
            "unit": "TFLOP/s",
            "method": "C = A @ B, A and B ~ N(0, 1); each product timed alone between CUDA events after a warm-up; "
            "TFLOP/s = 2*M*N*K / median_s / 1e12",
            "rows": matmul_rows,
        },
        "accuracy": accuracy,
        "training_step": training,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(markdown(result))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
