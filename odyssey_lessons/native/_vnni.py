"""int8 GEMM on VNNI: ``vpdpbusd`` multiplies 4 unsigned bytes by 4 signed bytes and adds the 4 products into an int32
lane, 16 lanes per 512-bit instruction (64 multiply-adds) or 8 per 256-bit one.

numba does not generate ``vpdpbusd`` from Python loops (LLVM 22 turns the int8 dot-product loop of
:mod:`odyssey_lessons.quant._intkernels` into sign extensions and ``vpmaddwd``), so the micro-kernel here is written
in LLVM IR through a numba ``intrinsic`` that calls ``llvm.x86.avx512.vpdpbusd.512`` (or ``.256``) -- the same
intrinsic C compilers use for ``_mm512_dpbusd_epi32``. ``tests/native/test_vnni.py`` checks the instruction in the
machine code.

Layout (as oneDNN and FBGEMM pack int8 weights for VNNI):

- ``a``: uint8 activations (M, Kp), rows padded to ``Kp``, a multiple of 4 (the pad may hold anything: the packed
  weights are 0 there). Each 4-byte group ``a[i, 4p:4p+4]`` is read as one int32 and broadcast to every lane.
- weights: int8 (N, K) rows, packed into panels of ``NR`` output columns; in a panel, step ``p`` of the ``K`` loop
  is ``NR * 4`` bytes, ``[column 0: k=4p..4p+3][column 1: ...]...``, so one vector load gives 16 (or 8) columns times
  4 ``k``. Columns past N and ``k`` past K are 0.
- a tile of ``MR x NR`` int32 accumulators stays in registers for the whole ``K`` loop (``MR * NR / 16``
  zmm registers; 8 x 32 uses 16 of the 32), then is stored to a small buffer for the caller's epilogue.

``vpdpbusd`` (not ``vpdpbusds``) wraps around on int32 overflow instead of saturating, so the accumulation is exact
arithmetic mod 2**32: with the zero-point corrections applied afterwards (also mod 2**32), the result is exact
whenever the true result fits int32 -- the bound :func:`odyssey_lessons.quant._intgemm.check_accumulator_bound`
enforces.
"""

from __future__ import annotations

import functools

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

NR = 32
"""Output columns per weight panel (two 512-bit vectors of 16 int32 lanes, four 256-bit ones)."""

_I8P = ir.IntType(8).as_pointer()
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)


def _vnni_tile(mr: int, width: int, broadcast_signed: bool = False):
    """A numba intrinsic ``tile(a, row, panels, offset, k4, c)``: ``c[r, :] = sum_p a[row + r, 4p:4p+4] .
    panel[p, :, :]`` for ``r < mr``, int32, with the panel starting at byte ``offset`` of ``panels`` and ``k4``
    steps; ``width`` is 512 or 256 (bits per vector).

    ``a`` (broadcast) is uint8 and the panels int8 -- activations times packed weights -- or, with
    ``broadcast_signed``, ``a`` is int8 weight rows and the panels uint8 activations (a convolution computed as
    ``W @ patches``: output channels are the rows, pixels the columns)."""
    # long function: one code generator -- the typer and the IR of one unrolled loop, whose entry, loop and exit blocks
    # and phi nodes are wired to each other; cut in pieces, the blocks and phis would travel between them as arguments.
    lanes = width // 32
    a_dtype, p_dtype = (types.int8, types.uint8) if broadcast_signed else (types.uint8, types.int8)
    nvec = NR // lanes
    vty = ir.VectorType(_I32, lanes)
    name = f"llvm.x86.avx512.vpdpbusd.{width}"

    def typer(typingctx, a, row, panels, offset, k4, c):
        if not (isinstance(a, types.Array) and a.dtype == a_dtype and a.ndim == 2 and a.layout == "C"):
            return None
        if not (isinstance(panels, types.Array) and panels.dtype == p_dtype and panels.layout == "C"):
            return None
        if not (isinstance(c, types.Array) and c.dtype == types.int32 and c.ndim == 2 and c.layout == "C"):
            return None
        sig = types.void(a, row, panels, offset, k4, c)

        def codegen(context, builder, signature, args):
            aty, rowty, pty, offty, kty, cty = signature.args
            a_arr = context.make_array(aty)(context, builder, args[0])
            p_arr = context.make_array(pty)(context, builder, args[2])
            c_arr = context.make_array(cty)(context, builder, args[5])
            row_v = context.cast(builder, args[1], rowty, types.int64)
            off_v = context.cast(builder, args[3], offty, types.int64)
            k4_v = context.cast(builder, args[4], kty, types.int64)
            lda = cgutils.unpack_tuple(builder, a_arr.strides, 2)[0]
            a_base = builder.bitcast(a_arr.data, _I8P)
            rows = [
                builder.gep(a_base, [builder.mul(builder.add(row_v, ir.Constant(_I64, r)), lda)]) for r in range(mr)
            ]
            b_base = builder.gep(builder.bitcast(p_arr.data, _I8P), [off_v])
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vty, [vty, vty, vty]), name)
            zero = ir.Constant(vty, None)

            pre = builder.block
            loop = builder.append_basic_block("vnni.loop")
            done = builder.append_basic_block("vnni.done")
            builder.cbranch(builder.icmp_signed(">", k4_v, ir.Constant(_I64, 0)), loop, done)

            builder.position_at_end(loop)
            p = builder.phi(_I64)
            p.add_incoming(ir.Constant(_I64, 0), pre)
            accs = [[builder.phi(vty) for _ in range(nvec)] for _ in range(mr)]
            for row_accs in accs:
                for acc in row_accs:
                    acc.add_incoming(zero, pre)
            b_step = builder.gep(b_base, [builder.mul(p, ir.Constant(_I64, NR * 4))])
            bvecs = [
                builder.load(
                    builder.bitcast(builder.gep(b_step, [ir.Constant(_I64, v * lanes * 4)]), vty.as_pointer()), align=1
                )
                for v in range(nvec)
            ]
            a_off = builder.mul(p, ir.Constant(_I64, 4))
            new = []
            for r in range(mr):
                word = builder.load(builder.bitcast(builder.gep(rows[r], [a_off]), _I32.as_pointer()), align=1)
                splat = builder.insert_element(ir.Constant(vty, ir.Undefined), word, ir.Constant(_I32, 0))
                splat = builder.shuffle_vector(splat, ir.Constant(vty, ir.Undefined), ir.Constant(vty, None))
                if broadcast_signed:  # vpdpbusd's first multiplicand is the unsigned one
                    new.append([builder.call(fn, [accs[r][v], bvecs[v], splat]) for v in range(nvec)])
                else:
                    new.append([builder.call(fn, [accs[r][v], splat, bvecs[v]]) for v in range(nvec)])
            p_next = builder.add(p, ir.Constant(_I64, 1))
            end = builder.block
            p.add_incoming(p_next, end)
            for r in range(mr):
                for v in range(nvec):
                    accs[r][v].add_incoming(new[r][v], end)
            builder.cbranch(builder.icmp_signed("<", p_next, k4_v), loop, done)

            builder.position_at_end(done)
            results = []
            for r in range(mr):  # every phi first: LLVM wants them at the top of the block
                for v in range(nvec):
                    out = builder.phi(vty)
                    out.add_incoming(zero, pre)
                    out.add_incoming(new[r][v], end)
                    results.append(out)
            c_base = builder.bitcast(c_arr.data, vty.as_pointer())
            for idx, out in enumerate(results):
                builder.store(out, builder.gep(c_base, [ir.Constant(_I64, idx)]), align=4)
            return context.get_dummy_value()

        return sig, codegen

    typer.__name__ = f"vnni_tile_{mr}x{NR}_{width}{'_ws' if broadcast_signed else ''}"
    return intrinsic(typer)


@functools.cache
def tiles(width: int, broadcast_signed: bool = False) -> dict[int, object]:
    """The tile intrinsics for ``width`` bits, keyed by rows per tile (8, 4, 2, 1 at 512; 2, 1 at 256: an AVX-VNNI
    CPU has 16 vector registers, and 2 x 32 int32 accumulators take 8 of them)."""
    heights = (8, 4, 2, 1) if width == 512 else (2, 1)
    return {mr: _vnni_tile(mr, width, broadcast_signed) for mr in heights}


def pack_patches_shape(n: int, pixels: int, k: int) -> tuple[int, int, int, int, int]:
    """Shape of the activation panels of a convolution (written by
    ``odyssey_lessons.quant._vnnikernels.im2col_panels``): per image, ``ceil(pixels / NR)`` panels of ``ceil(K / 4)``
    steps of NR pixels x 4 bytes."""
    return (n, -(-pixels // NR), -(-k // 4), NR, 4)


@njit(cache=True)
def pack_kernel(b, out):
    """``out[j // NR, k // 4, j % NR, k % 4] = b[k, j]`` for int8 ``b`` (K, N) (the weights as columns, or rows
    transposed by a view); ``out`` is zero-filled, so the padding past K and N stays 0. Reads ``b`` row by row."""
    k_all, n_all = b.shape
    for k in range(k_all):
        p, q = k // 4, k % 4
        for j in range(n_all):
            out[j // NR, p, j % NR, q] = b[k, j]


def pack_weights(rows: np.ndarray) -> np.ndarray:
    """int8 weight rows (N, K) -> VNNI panels (ceil(N / NR), ceil(K / 4), NR, 4), zero-padded (see the module
    docstring). ``rows`` may be a transposed view of a (K, N) matrix: nothing is copied before packing."""
    n, k = rows.shape
    out = np.zeros((-(-n // NR), -(-k // 4), NR, 4), dtype=np.int8)
    pack_kernel(rows.T, out)
    return out


# The tile intrinsics, one global each so that the kernels that call them can be cached (numba caches a function
# whose globals are plain objects, not closures). Only a kernel that is compiled emits its instructions.
T512_8, T512_4, T512_2, T512_1 = (tiles(512)[h] for h in (8, 4, 2, 1))
T256_2, T256_1 = (tiles(256)[h] for h in (2, 1))
# weights broadcast, activations in the panels (convolutions)
W512_8, W512_4, W512_2, W512_1 = (tiles(512, True)[h] for h in (8, 4, 2, 1))
W256_2, W256_1 = (tiles(256, True)[h] for h in (2, 1))
