"""The grading wire format (odyssey_lessons.grading._wire), written out by hand: a check's inputs and a kernel's replies
are encoded to exactly these tags, whichever walk makes them."""

from __future__ import annotations

import numpy as np
import pytest

from odyssey_lessons.grading import Build, Rng
from odyssey_lessons.grading._wire import MAX_DEPTH, WireError, decode, encode, encode_input


class Kept:
    """An object one side keeps: it crosses as a ``$ref``."""


KEPT = Kept()


def refs(value: object) -> dict | None:
    return {"$ref": 3, "type": "Kept"} if value is KEPT else None


def test_data_is_encoded_to_its_tags_and_decoded_back() -> None:
    value = [None, True, 7, 2**70, 0.5, float("-inf"), np.float32(0.25), "s", (1, [2]), {"k": np.int8(-3)}]
    encoded = encode(value)
    assert encoded == [None, True, 7, {"$int": str(2**70)}, 0.5, {"$float": "-inf"}, 0.25, "s",
                       {"$tuple": [1, [2]]}, {"$dict": {"k": -3}}]  # fmt: skip
    assert decode(encoded) == [None, True, 7, 2**70, 0.5, float("-inf"), 0.25, "s", (1, [2]), {"k": -3}]
    array = {"$array": "<i2", "shape": [2], "data": "AQAAAQ=="}
    assert encode(np.array([1, 256], dtype=">i2")) == array
    assert np.array_equal(decode(array), [1, 256])


def test_objects_are_refs_or_refused() -> None:
    assert encode([KEPT], keep=lambda obj: 9) == [{"$ref": 9, "type": "Kept"}]
    with pytest.raises(WireError, match="cannot send a value of type Kept"):
        encode(KEPT)
    with pytest.raises(WireError, match="cannot send a value of type dict"):
        encode({1: 2})


def test_inputs_carry_rng_build_and_ref_tags_at_any_depth() -> None:
    value = [Build("odyssey_lessons.nn:Linear", 4, (KEPT,), rng=Rng(1)), {"x": Rng(2)}, (KEPT, 1.5)]
    assert encode_input(value, refs) == [
        {"$build": "odyssey_lessons.nn:Linear", "args": [4, {"$tuple": [{"$ref": 3, "type": "Kept"}]}],
         "kwargs": {"rng": {"$rng": 1}}},
        {"$dict": {"x": {"$rng": 2}}},
        {"$tuple": [{"$ref": 3, "type": "Kept"}, 1.5]},
    ]  # fmt: skip
    with pytest.raises(WireError, match="cannot send a value of type object"):
        encode_input([object()], refs)


def test_depth_is_bounded_for_data_and_inputs() -> None:
    nested: object = 1
    for _ in range(MAX_DEPTH):
        nested = [nested]
    assert encode(nested) == nested and encode_input(nested, refs) == nested
    too_deep = [nested]
    with pytest.raises(WireError, match="nested deeper"):
        encode(too_deep)
    with pytest.raises(WireError, match="nested deeper"):
        encode_input(too_deep, refs)
    with pytest.raises(WireError, match="nested deeper"):
        encode_input(Build("odyssey_lessons.a:B", nested), refs)  # its args sit one level below it
