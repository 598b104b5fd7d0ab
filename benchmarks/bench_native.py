"""Benchmark: the bf16 x bf16 -> fp32 matmul on ``vdpbf16ps`` (AVX512-BF16) against float32 BLAS, single-threaded.

Each shape is timed by :func:`odyssey_lessons.native.bf16_matmul_speed` (warmed, the contenders taking turns, numba
and BLAS on one thread):

- ``bf16``: ``bf16_matmul`` on bf16 bit patterns (packing both operands included, rounding not);
- ``bf16 from f32``: ``bf16_matmul`` on float32 inputs, rounding them to bf16 first;
- ``fp32 BLAS``: ``numpy.matmul`` on float32.

Shapes: a 256 x 1024 by 1024 x 1024 layer, 1024^3, and the digits MLP's first layer at batch 256 (256 x 64 by
64 x 128). Gflop/s count ``2 m k n``. The issue's aim, bf16 faster than fp32 BLAS, is reported as a target of 1; on a
CPU without AVX512-BF16 the rows time the portable fallback and say so. Not a test: nothing asserts a time.

    python benchmarks/bench_native.py [--quick] [--repeats 9] [--json PATH]
"""

from __future__ import annotations

import argparse

from _common import header_line, main_for, provenance, ratio_row

from odyssey_lessons.native import bf16_matmul_path, bf16_matmul_speed, cpu_features, target_cpu

# (label, m, k, n): (m, k) @ (k, n)
SHAPES = [
    ("layer 256x1024 @ 1024x1024", 256, 1024, 1024),
    ("square 1024^3", 1024, 1024, 1024),
    ("digits MLP layer 1, batch 256 (64->128)", 256, 64, 128),
]
CONTENDERS = ("bf16", "bf16_from_f32", "fp32_blas")


def run(args: argparse.Namespace) -> dict:
    repeats = 5 if args.quick else args.repeats
    rows = []
    for label, m, k, n in SHAPES:
        r = bf16_matmul_speed(m, k, n, repeats=repeats)
        rows.append({"shape": label, **r})
        g = r["gflops"]
        print(
            f"  {label:40s}: bf16 {g['bf16']:6.1f}, bf16 from f32 {g['bf16_from_f32']:6.1f}, "
            f"fp32 BLAS {g['fp32_blas']:6.1f} Gflop/s ({r['path']})",
            flush=True,
        )
    return {
        "benchmark": "bf16 matmul (vdpbf16ps) vs float32 BLAS",
        **provenance(),
        "threads": "single_threaded(): numba and BLAS limited to the calling thread",
        "target_cpu": target_cpu(),
        "cpu_features": cpu_features(),
        "path": bf16_matmul_path(),
        "repeats": repeats,
        "rows": rows,
    }


def markdown(result: dict) -> str:
    lines = [
        f"bf16 matmul ({result['path']} path, {result['target_cpu']}), single-threaded, {header_line(result)}; "
        f"median of {result['repeats']}",
        "",
        "| shape | bf16 Gflop/s | bf16 from f32 Gflop/s | fp32 BLAS Gflop/s | bf16 × fp32 BLAS |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        g = r["gflops"]
        lines.append(
            f"| {r['shape']} | {g['bf16']:.1f} | {g['bf16_from_f32']:.1f} | {g['fp32_blas']:.1f} | {r['speedup']:.2f} |"
        )
    return "\n".join(lines)


def summary(result: dict) -> list[dict]:
    """bf16 matmul ÷ float32 BLAS per shape (the issue's aim: faster, a target of 1)."""
    return [
        ratio_row(
            "native",
            f"bf16 matmul {r['shape']} ({r['path']})",
            r["speedup"],
            baseline="float32 numpy.matmul (BLAS), one thread",
            target=1.0,
            detail=f"{r['gflops']['bf16']:.1f} vs {r['gflops']['fp32_blas']:.1f} Gflop/s",
        )
        for r in result["rows"]
    ]


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=9, help="timed rounds (--quick: 5)")


if __name__ == "__main__":
    raise SystemExit(main_for(__doc__, run, markdown, "bench_native.json", add_arguments=_add_arguments))
