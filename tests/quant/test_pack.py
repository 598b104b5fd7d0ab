"""Bit packing against a bit-by-bit reference packer, round trips for every width 1..8, and the size report."""

from __future__ import annotations

import numpy as np
import pytest

from odyssey_lessons.quant import choose_qparams, pack_int, packed_nbytes, quantize_affine, size_report, unpack_int
from tests.reference_quant import ref_pack


@pytest.mark.parametrize("bits", range(1, 9))
@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("n", [0, 1, 7, 13, 100])
def test_pack_matches_reference_and_round_trips(rng, bits, signed, n):
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    q = rng.integers(lo, hi + 1, size=n)
    if n >= 2:
        q[:2] = [lo, hi]  # the extremes
    q = q.astype(np.int8 if signed else np.uint8)
    packed = pack_int(q, bits)
    assert packed.dtype == np.uint8
    assert len(packed) == packed_nbytes(n, bits) == -(-n * bits // 8)
    np.testing.assert_array_equal(packed, ref_pack(q, bits))
    out = unpack_int(packed, bits, count=n, signed=signed)
    assert out.dtype == (np.int8 if signed else np.uint8)
    np.testing.assert_array_equal(out, q)


def test_int4_layout_first_element_in_low_nibble():
    packed = pack_int(np.array([1, 2, 3], dtype=np.uint8), 4)
    np.testing.assert_array_equal(packed, ref_pack([1, 2, 3], 4))
    assert packed[0] & 0xF == 1 and packed[0] >> 4 == 2


def test_signed_flag_overrides_dtype():
    q = np.array([0, 15, 7], dtype=np.int32)
    np.testing.assert_array_equal(unpack_int(pack_int(q, 4, signed=False), 4, count=3, signed=False), q)
    with pytest.raises(ValueError, match="values must lie"):
        pack_int(q, 4)  # int32 -> signed by default: 15 does not fit a signed int4


def test_multidimensional_input_is_flattened(rng):
    q = rng.integers(-1, 2, size=(3, 5)).astype(np.int8)
    np.testing.assert_array_equal(unpack_int(pack_int(q, 2), 2, count=15, signed=True).reshape(3, 5), q)


def test_size_report(rng):
    w = rng.standard_normal((16, 64)).astype(np.float32)
    qp = choose_qparams(w, bits=4, granularity="group", axis=1, group_size=32)
    report = size_report(w.size, qp)
    packed = pack_int(quantize_affine(w, qp), 4)
    assert report["payload_bytes"] == len(packed) == w.size // 2
    assert report["overhead_bytes"] == qp.overhead_bytes() == 4 * qp.scale.size
    assert report["total_bytes"] == len(packed) + qp.overhead_bytes()
    assert report["float32_bytes"] == w.nbytes
    assert report["bits_per_element"] == pytest.approx(8 * report["total_bytes"] / w.size)
    assert report["compression"] == pytest.approx(w.nbytes / report["total_bytes"])


@pytest.mark.parametrize("bits", [0, 9])
def test_bits_out_of_range(bits):
    with pytest.raises(ValueError, match="bits"):
        pack_int(np.zeros(3, dtype=np.uint8), bits)
    with pytest.raises(ValueError, match="bits"):
        unpack_int(np.zeros(3, dtype=np.uint8), bits, count=1, signed=False)
    with pytest.raises(ValueError, match="bits"):
        packed_nbytes(3, bits)


def test_bad_input():
    with pytest.raises(ValueError, match=r"values must lie in \[-8, 7\]"):
        pack_int(np.array([8], dtype=np.int8), 4)
    with pytest.raises(ValueError, match=r"values must lie in \[0, 3\]"):
        pack_int(np.array([4], dtype=np.uint8), 2)
    with pytest.raises(TypeError, match="q"):
        pack_int(np.array([1.0]), 4)
    with pytest.raises(TypeError, match="packed"):
        unpack_int(np.array([1], dtype=np.int8), 4, count=1, signed=True)
    with pytest.raises(ValueError, match="need"):
        unpack_int(np.zeros(1, dtype=np.uint8), 4, count=3, signed=True)
    with pytest.raises(ValueError, match="count"):
        unpack_int(np.zeros(1, dtype=np.uint8), 4, count=-1, signed=True)
    with pytest.raises(ValueError, match="n_elements"):
        packed_nbytes(-1, 4)
