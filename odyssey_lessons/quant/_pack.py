"""Bit packing: store ``b``-bit integer codes in ``ceil(n * b / 8)`` bytes, so a quantized model's size is its real
byte count (an int4 weight in an int8 container still takes a whole byte).

The layout is a little-endian bit stream: element ``i`` occupies bits ``i*b .. i*b + b - 1`` of the stream, bit ``k``
of the stream is bit ``k % 8`` of byte ``k // 8`` (so for int4 the first element is the low nibble of byte 0).
Signed codes are stored as ``b``-bit two's complement and sign-extended on unpacking.
"""

from __future__ import annotations

import numpy as np

from odyssey_lessons._validate import check_int
from odyssey_lessons.quant._affine import QParams
from odyssey_lessons.quant._kernels import unpack_signed_kernel

MAX_PACK_BITS = 8


def packed_nbytes(n_elements: int, bits: int) -> int:
    """Bytes needed for ``n_elements`` codes of ``bits`` bits: ``ceil(n * bits / 8)``."""
    n = check_int("n_elements", n_elements, minimum=0)
    return (n * check_int("bits", bits, minimum=1, maximum=MAX_PACK_BITS) + 7) // 8


def pack_int(q: np.ndarray, bits: int, *, signed: bool | None = None) -> np.ndarray:
    """Pack integer codes into a uint8 array of :func:`packed_nbytes` bytes (flattened in C order).

    Args:
        q: Integer array, any shape.
        bits: Width of each code, 1..8.
        signed: Whether the codes are signed (range ``-2**(b-1) .. 2**(b-1) - 1``, stored as two's complement) or
            unsigned (``0 .. 2**b - 1``); ``None`` takes it from ``q``'s dtype.

    Raises:
        ValueError: ``bits`` not in 1..8, or a value out of range for ``bits``.
        TypeError: ``q`` is not an integer ndarray.
    """
    bits = check_int("bits", bits, minimum=1, maximum=MAX_PACK_BITS)
    if not isinstance(q, np.ndarray) or q.dtype.kind not in "iu":
        raise TypeError(f"q must be an integer numpy.ndarray, got {getattr(q, 'dtype', type(q).__name__)}")
    if signed is None:
        signed = q.dtype.kind == "i"
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    flat = q.reshape(-1).astype(np.int64)
    if flat.size and (flat.min() < lo or flat.max() > hi):
        kind = "signed" if signed else "unsigned"
        raise ValueError(f"values must lie in [{lo}, {hi}] for {kind} {bits=}, got [{flat.min()}, {flat.max()}]")
    codes = (flat & (2**bits - 1)).astype(np.uint8)  # two's complement of `bits` bits
    if 8 % bits == 0:  # 1, 2, 4, 8 bits: whole codes per byte, so shift and OR (no 8x bit stream)
        per = 8 // bits
        codes = np.concatenate([codes, np.zeros(-codes.size % per, dtype=np.uint8)]).reshape(-1, per)
        shifts = np.arange(0, 8, bits, dtype=np.uint8)
        return np.bitwise_or.reduce(codes << shifts, axis=1).astype(np.uint8)
    stream = ((codes[:, None] >> np.arange(bits, dtype=np.uint8)) & 1).astype(np.uint8).reshape(-1)
    return np.packbits(stream, bitorder="little")


def unpack_int(packed: np.ndarray, bits: int, *, count: int, signed: bool) -> np.ndarray:
    """Inverse of :func:`pack_int`: the first ``count`` codes as a 1-D int8 (signed) or uint8 (unsigned) array.

    Raises:
        ValueError: ``bits`` not in 1..8, negative ``count``, or ``packed`` shorter than ``packed_nbytes(count, bits)``.
        TypeError: ``packed`` is not a uint8 ndarray.
    """
    bits = check_int("bits", bits, minimum=1, maximum=MAX_PACK_BITS)
    count = check_int("count", count, minimum=0)
    if not isinstance(packed, np.ndarray) or packed.dtype != np.uint8:
        raise TypeError(f"packed must be a uint8 numpy.ndarray, got {getattr(packed, 'dtype', type(packed).__name__)}")
    need = packed_nbytes(count, bits)
    if packed.size < need:
        raise ValueError(f"packed has {packed.size} bytes, {count=} codes of {bits=} need {need}")
    if 8 % bits == 0:
        shifts = np.arange(0, 8, bits, dtype=np.uint8)
        values = ((packed.reshape(-1)[:need, None] >> shifts) & np.uint8(2**bits - 1)).reshape(-1)[:count]
        values = values.astype(np.int16)
    else:
        stream = np.unpackbits(packed.reshape(-1)[:need], bitorder="little")[: count * bits].reshape(count, bits)
        values = stream.astype(np.int16) @ (1 << np.arange(bits, dtype=np.int16))
    if signed:
        values = np.where(values >= 2 ** (bits - 1), values - 2**bits, values)
        return values.astype(np.int8)
    return values.astype(np.uint8)


def size_report(n_elements: int, qp: QParams) -> dict[str, float]:
    """Real storage of a tensor of ``n_elements`` quantized with ``qp`` and bit-packed.

    Returns:
        ``payload_bytes`` (packed codes), ``overhead_bytes`` (float32 scales, int32 zero points), ``total_bytes``,
        ``float32_bytes`` (``4 n``), ``bits_per_element`` (``8 total / n``) and ``compression`` (float32 / total).
    """
    if not isinstance(qp, QParams):
        raise TypeError(f"qp must be a QParams, got {type(qp).__name__}")
    n = check_int("n_elements", n_elements, minimum=0)
    payload = packed_nbytes(n, qp.bits)
    overhead = qp.overhead_bytes()
    total = payload + overhead
    return {
        "payload_bytes": payload,
        "overhead_bytes": overhead,
        "total_bytes": total,
        "float32_bytes": 4 * n,
        "bits_per_element": 8 * total / n if n else 0.0,
        "compression": 4 * n / total if total else 0.0,
    }


class PackedCodes:
    """Signed integer codes kept as :func:`pack_int` bytes when ``bits < 8`` (so a model keeps its sub-byte size in
    memory), unpacked to int8 by :meth:`codes` on every call, in one numba pass into a buffer kept for the purpose;
    8-bit codes are kept as they are. The caller checked that the codes fit ``bits``."""

    def __init__(self, codes: np.ndarray, bits: int) -> None:
        self.bits = bits
        self.stored = codes if bits == 8 else pack_int(codes, bits)
        self._unpacked = None if bits == 8 else np.empty(codes.shape, dtype=np.int8)

    def codes(self) -> np.ndarray:
        """The int8 codes, in the shape they were given."""
        if self._unpacked is None:
            return self.stored
        unpack_signed_kernel(self.stored, self.bits, self._unpacked.reshape(-1))
        return self._unpacked
