"""Scalar bit casts for numba kernels (numba cannot ``.view`` a scalar): float32 <-> uint32, float64 <-> uint64, each
an LLVM ``bitcast`` -- no instruction at all once compiled. Used by the format rounding kernels and the bf16 matmul."""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic


def _bitcast(src: types.Type, dst: types.Type, llvm_dst: ir.Type, doc: str):
    def typer(typingctx, x):
        if x != src:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], llvm_dst)

        return dst(src), codegen

    typer.__doc__ = doc
    return intrinsic(typer)


f32_as_u32 = _bitcast(types.float32, types.uint32, ir.IntType(32), "Reinterpret a float32 scalar's bits as uint32.")
u32_as_f32 = _bitcast(types.uint32, types.float32, ir.FloatType(), "Reinterpret a uint32 scalar's bits as float32.")
f64_as_u64 = _bitcast(types.float64, types.uint64, ir.IntType(64), "Reinterpret a float64 scalar's bits as uint64.")
u64_as_f64 = _bitcast(types.uint64, types.float64, ir.DoubleType(), "Reinterpret a uint64 scalar's bits as float64.")
