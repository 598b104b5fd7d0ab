"""numba kernels of the bf16 x bf16 -> fp32 matmul: operand packing, the ``vdpbf16ps`` micro-kernel and its portable
twin, which computes the same bits.

What one ``vdpbf16ps`` lane does (Intel SDM, VDPBF16PS; the same on AMD Zen 4, see ``tests/native/test_bf16.py``)::

    acc = fma(a[2i+1], b[2i+1], acc)    # the odd (high) element of the pair first
    acc = fma(a[2i],   b[2i],   acc)

each ``fma`` rounding once to float32, to nearest even (MXCSR is neither read nor written), with denormal inputs read
as zero (DAZ: the bf16 operands and the accumulator) and tiny results flushed to a zero of their sign (FTZ). "Tiny"
is decided after rounding as if the exponent were unbounded: a result that rounds to ``2**-126 - 2**-150`` with 24
significant bits is flushed, one that rounds to ``2**-126`` is kept.

The portable kernel reproduces that without FMA hardware, in float64: the product of two bf16 values (8 significant
bits each) is exact in float64, and ``acc + a*b`` either is exact in float64 (all bits within 53) or is dominated by
one operand so far that rounding it once more to float32 gives that operand -- so ``float32(float64 sum)`` is the
single rounding. Tiny results are those with ``|sum| < 2**-126 - 2**-151`` (the midpoint under the smallest normal,
which ties to it, an even significand); they become ``0.0 * sum``, a zero with the sum's sign.

Packed layouts (uint32 words, each a bf16 pair: element ``2p`` in the low half, ``2p+1`` in the high half -- the
layout ``vdpbf16ps`` multiplies):

- ``ap[ib, p, r]`` = pair ``p`` of row ``ib * MR + r`` of A: MR rows side by side, so one step broadcasts MR words;
- ``bp[jb, p, c]`` = pair ``p`` (rows ``2p, 2p+1``) of column ``jb * NR + c`` of B: NR = 16 * NV columns, one 64-byte
  vector of 16 columns after another.

Rows, columns and pairs past the matrices are zero; bf16 denormals are already flushed to signed zero in the packed
words (the DAZ of both kernels) and every NaN is the quiet NaN ``0x7FC0`` with its sign.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from odyssey_lessons._bitcast import u32_as_f32

# Register blocking: MR * NV = 24 accumulators + NV B vectors of the 32 zmm registers. Measured on Zen 4 (2 cores,
# shared) at 256x1024x1024 and 1024^3: 6x4 gave 172/168 Gflop/s, 4x4 169/162, 8x2 164/143, 12x2 151/156.
MR = 6  # rows of A per micro-kernel call
NV = 4  # 16-column vectors of B per micro-kernel call
NR = 16 * NV
KC = 256  # pairs of k per block: the B micro-panel (KC * NR * 4 bytes = 64 KiB) stays in L2
MC = 16  # row blocks (of MR rows) per block of A: MC * MR * KC * 4 bytes = 96 KiB stays in L2

_TINY = 2.0**-126 - 2.0**-151  # below this |sum|, the float32 result is flushed to zero (see the module docstring)
_u32 = np.uint32
_u16 = np.uint16


class _BFloat(ir.Type):
    """LLVM's ``bfloat`` scalar type, which llvmlite.ir does not have (only needed as a vector element type)."""

    def _to_string(self) -> str:
        return "bfloat"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _BFloat)

    def __hash__(self) -> int:
        return hash("bfloat")


_I32, _I64, _F32 = ir.IntType(32), ir.IntType(64), ir.FloatType()
_V16I, _V16F = ir.VectorType(_I32, 16), ir.VectorType(_F32, 16)
_V32BF = ir.VectorType(_BFloat(), 32)
_DPBF16PS = "llvm.x86.avx512bf16.dpbf16ps.512"


def _i64(v: int) -> ir.Constant:
    return ir.Constant(_I64, v)


@intrinsic
def _dpbf16_tile(typingctx, ap, a_off, bp, b_off, c, c_off, ldc, k2):
    """``C[MR, NR] += A_tile @ B_tile`` over ``k2`` pairs, as one loop of ``vdpbf16ps`` in LLVM IR.

    ``ap[a_off + p * MR + r]``, ``bp[b_off + p * NR + c]`` (packed words) and ``c[c_off + r * ldc + col]`` (float32)
    are flat C-contiguous arrays. The MR * NV accumulators are loaded from C, live in vector registers (loop phis)
    across the k loop, and are stored back once: calling again with the next pairs continues the same sequence of
    roundings. A's word is broadcast from memory (``vdpbf16ps (mem){1to16}``).
    """
    sig = types.void(ap, a_off, bp, b_off, c, c_off, ldc, k2)

    def codegen(context, builder, signature, args):
        a_arr, a_off, b_arr, b_off, c_arr, c_off, ldc, k2 = args
        pa = builder.gep(context.make_array(signature.args[0])(context, builder, a_arr).data, [a_off])
        pb = builder.gep(context.make_array(signature.args[2])(context, builder, b_arr).data, [b_off])
        pc = builder.gep(context.make_array(signature.args[4])(context, builder, c_arr).data, [c_off])
        fnty = ir.FunctionType(_V16F, [_V16F, _V32BF, _V32BF])
        dp = cgutils.get_or_insert_function(builder.module, fnty, _DPBF16PS)
        c_ptrs = [
            builder.bitcast(builder.gep(pc, [builder.add(builder.mul(ldc, _i64(r)), _i64(16 * v))]), _V16F.as_pointer())
            for r in range(MR)
            for v in range(NV)
        ]
        acc_in = [builder.load(p, align=4) for p in c_ptrs]
        entry = builder.block
        loop = builder.append_basic_block("dpbf16_loop")
        done = builder.append_basic_block("dpbf16_done")
        builder.cbranch(builder.icmp_signed(">", k2, _i64(0)), loop, done)

        builder.position_at_end(loop)
        p = builder.phi(_I64)
        p.add_incoming(_i64(0), entry)
        acc = []
        for x in acc_in:
            phi = builder.phi(_V16F)
            phi.add_incoming(x, entry)
            acc.append(phi)
        b_row = builder.gep(pb, [builder.mul(p, _i64(NR))])
        b_vec = [
            builder.bitcast(
                builder.load(builder.bitcast(builder.gep(b_row, [_i64(16 * v)]), _V16I.as_pointer()), align=4), _V32BF
            )
            for v in range(NV)
        ]
        a_row = builder.gep(pa, [builder.mul(p, _i64(MR))])
        undef = ir.Constant(_V16I, ir.Undefined)
        acc_out = []
        for r in range(MR):
            word = builder.load(builder.gep(a_row, [_i64(r)]), align=4)
            splat = builder.shuffle_vector(
                builder.insert_element(undef, word, ir.Constant(_I32, 0)), undef, ir.Constant(_V16I, [0] * 16)
            )
            a_vec = builder.bitcast(splat, _V32BF)
            acc_out.extend(builder.call(dp, [acc[r * NV + v], b_vec[v], a_vec]) for v in range(NV))
        p_next = builder.add(p, _i64(1))
        body_end = builder.block
        p.add_incoming(p_next, body_end)
        for phi, x in zip(acc, acc_out, strict=True):
            phi.add_incoming(x, body_end)
        builder.cbranch(builder.icmp_signed("<", p_next, k2), loop, done)

        builder.position_at_end(done)
        results = [builder.phi(_V16F) for _ in c_ptrs]  # all phis first: LLVM wants them at the top of the block
        for result, x_in, x_out, ptr in zip(results, acc_in, acc_out, c_ptrs, strict=True):
            result.add_incoming(x_in, entry)
            result.add_incoming(x_out, body_end)
            builder.store(result, ptr, align=4)
        return context.get_dummy_value()

    return sig, codegen


@njit(cache=True)
def bf16_bits_from_f32(x, out):
    """The bf16 bits of the float32 values ``x`` that are already on the bf16 grid (rounded): their high 16 bits,
    except NaN, which becomes the quiet NaN ``0x7FC0`` with its sign (a NaN's payload may sit in the low bits only)."""
    for j in range(x.size):
        u = x[j]
        if _u32(u & _u32(0x7FFFFFFF)) > _u32(0x7F800000):
            out[j] = _u16(_u32(_u32(u >> _u32(16)) & _u32(0x8000)) | _u32(0x7FC0))
        else:
            out[j] = _u16(u >> _u32(16))


@njit(cache=True)
def _daz(h):
    """bf16 bits ``h`` with a denormal (exponent field 0, mantissa not 0) replaced by the zero of its sign."""
    h = _u32(h)
    return _u32(h & _u32(0x8000)) if _u32(h & _u32(0x7F80)) == _u32(0) else h


@njit(cache=True)
def pack_rows(a, mr, out):
    """Pack the (M, K) bf16 bits ``a`` (uint16) into ``out[ib, p, r]`` (uint32, shape (ceil(M/mr), ceil(K/2), mr)):
    the pair ``(a[i, 2p], a[i, 2p+1])`` of row ``i = ib * mr + r``, low half first; zero past the matrix; DAZ."""
    m, k = a.shape
    for ib in range(out.shape[0]):
        for p in range(out.shape[1]):
            for r in range(mr):
                i = ib * mr + r
                lo = _daz(a[i, 2 * p]) if i < m else _u32(0)
                hi = _daz(a[i, 2 * p + 1]) if i < m and 2 * p + 1 < k else _u32(0)
                out[ib, p, r] = _u32(lo | _u32(hi << _u32(16)))


@njit(cache=True)
def pack_cols(b, nr, out):
    """Pack the (K, N) bf16 bits ``b`` (uint16) into ``out[jb, p, c]`` (uint32, shape (ceil(N/nr), ceil(K/2), nr)):
    the pair ``(b[2p, j], b[2p+1, j])`` of column ``j = jb * nr + c``, low half first; zero past the matrix; DAZ."""
    k, n = b.shape
    for jb in range(out.shape[0]):
        for p in range(out.shape[1]):
            for c in range(nr):
                j = jb * nr + c
                lo = _daz(b[2 * p, j]) if j < n else _u32(0)
                hi = _daz(b[2 * p + 1, j]) if j < n and 2 * p + 1 < k else _u32(0)
                out[jb, p, c] = _u32(lo | _u32(hi << _u32(16)))


@njit(cache=True)
def matmul_native(ap, bp, c):
    """``c += A @ B`` from the packed ``ap`` (Mb, K2, MR) and ``bp`` (Nb, K2, NR) into the (Mb*MR, Nb*NR) float32
    ``c``, on ``vdpbf16ps`` (needs AVX512-BF16 in numba's compile target). Blocked GotoBLAS-style: for each block of
    KC pairs, for each block of MC row blocks, each B micro-panel meets every A tile of the block. Every output
    element still sees its pairs in order ``p = 0, 1, ...``: a block stores its accumulators to ``c`` and the next
    block loads them, with no rounding between."""
    mb, k2, _ = ap.shape
    nb = bp.shape[0]
    ldc = c.shape[1]
    fa, fb, fc = ap.reshape(-1), bp.reshape(-1), c.reshape(-1)
    for pc in range(0, k2, KC):
        kc = min(KC, k2 - pc)
        for ic in range(0, mb, MC):
            for jb in range(nb):
                for ib in range(ic, min(ic + MC, mb)):
                    _dpbf16_tile(fa, (ib * k2 + pc) * MR, fb, (jb * k2 + pc) * NR, fc, ib * MR * ldc + jb * NR, ldc, kc)


@njit(cache=True)
def _fma_ftz(acc, x, y):
    """``acc + x*y`` rounded once to float32 (nearest even), tiny results flushed to signed zero; float64 inside."""
    s = np.float64(acc) + np.float64(x) * np.float64(y)
    return np.float32(s * 0.0) if abs(s) < _TINY else np.float32(s)


@njit(cache=True)
def matmul_portable(ap, bp, c):
    """``c += A @ B`` from the same packed operands as :func:`matmul_native`, the same bits without AVX512-BF16:
    per output element, for ``p = 0, 1, ...``: ``acc = fma_ftz(a[2p+1], b[2p+1], acc)`` then
    ``acc = fma_ftz(a[2p], b[2p], acc)`` (see the module docstring)."""
    mb, k2, mr = ap.shape
    nb, _, nr = bp.shape
    acc = np.empty(nr, np.float32)
    for ib in range(mb):
        for jb in range(nb):
            for r in range(mr):
                i = ib * mr + r
                for col in range(nr):
                    acc[col] = c[i, jb * nr + col]
                for p in range(k2):
                    wa = ap[ib, p, r]
                    a_hi = u32_as_f32(_u32(wa & _u32(0xFFFF0000)))
                    a_lo = u32_as_f32(_u32(wa << _u32(16)))
                    for col in range(nr):
                        wb = bp[jb, p, col]
                        t = _fma_ftz(acc[col], a_hi, u32_as_f32(_u32(wb & _u32(0xFFFF0000))))
                        acc[col] = _fma_ftz(t, a_lo, u32_as_f32(_u32(wb << _u32(16))))
                for col in range(nr):
                    c[i, jb * nr + col] = acc[col]
