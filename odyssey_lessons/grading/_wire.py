"""The plain-data encoding between a check and the code it calls: numbers, strings, lists, dicts, numeric arrays.

A check never receives a student's objects. Every value crossing from the code under test to the check is encoded
here into JSON-ready data and decoded on the other side into fresh plain values, so nothing with behaviour (an
``__eq__`` that is always true, a ``float`` subclass, a lazy array) reaches a comparison. The grader decodes what an
untrusted kernel sent with :func:`decode`, which accepts only the tags below and bounds depth, length and bytes.

Encoded forms (``encode`` makes them, ``decode`` reads them back):

- ``None``, ``bool``, ``int`` (at most 64 bits, else a ``{"$int": "digits"}``), ``str`` as themselves;
- a ``float`` as itself when finite, else ``{"$float": "nan" | "inf" | "-inf"}``;
- numpy scalars as the Python scalar of the same value (``np.float32(0.1)`` becomes the float it equals exactly);
- ``list`` as a list, ``tuple`` as ``{"$tuple": [...]}``, ``dict`` with ``str`` keys as ``{"$dict": {...}}``
  (exact types only: a subclass, a NamedTuple for instance, is an object);
- a numpy array of a bool, integer or float dtype as ``{"$array": dtype, "shape": [...], "data": base64}``
  (little-endian bytes);
- anything else is an *object*: the side that made it keeps it and sends ``{"$ref": n, "type": "TypeName"}``, which
  the check may pass back or call methods on (see ``_probe``), but never compare by value.

Inputs a check sends may also hold ``{"$rng": seed}`` (a fresh ``numpy.random.default_rng(seed)``) and
``{"$build": "odyssey_lessons.module:Name", "args": [...], "kwargs": {...}}`` (an object made by the package on the
side that runs the call); :class:`Rng` and :class:`Build` write them.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAX_DEPTH = 32
MAX_ITEMS = 1_000_000  # list items, dict entries and array elements of one message, all together
MAX_BYTES = 256 * 1024 * 1024  # array bytes of one message
MAX_STR = 1_000_000
_KINDS = "biuf"  # bool, signed and unsigned integers, floats


class WireError(ValueError):
    """A value that cannot be encoded, or a message that is not valid encoded data."""


@dataclass(frozen=True)
class Ref:
    """An object kept by one side, named by its number there."""

    number: int
    type_name: str


@dataclass(frozen=True)
class Rng:
    """An input: a fresh ``numpy.random.default_rng(seed)`` on each side of a call."""

    seed: int


@dataclass(frozen=True)
class Build:
    """An input: the object ``target(*args, **kwargs)`` made on each side, ``target`` a public package callable.

    Args:
        target: ``"odyssey_lessons.module:Name"`` or ``"odyssey_lessons.module:Name.method"``.

    Raises:
        TypeError: ``target`` is not a str.
        ValueError: ``target`` does not name an ``odyssey_lessons`` module and a name in it.
    """

    target: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def __init__(self, target: str, *args: Any, **kwargs: Any) -> None:
        if not isinstance(target, str):
            raise TypeError(f"target must be a str 'odyssey_lessons.module:Name', got {target=}")
        if not target.startswith("odyssey_lessons.") or ":" not in target:
            raise ValueError(f"target must be 'odyssey_lessons.module:Name', got {target=}")
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "kwargs", kwargs)


def _float(value: float) -> object:
    if math.isfinite(value):
        return value
    return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def _int(value: int) -> object:
    return value if -(2**63) <= value < 2**63 else {"$int": str(value)}


def encode(value: object, keep: Callable[[object], int] | None = None) -> object:
    """JSON-ready data for ``value``; objects go to ``keep`` (which returns their number) or raise.

    Raises:
        WireError: An object and no ``keep``, a dict key that is not a str, an array of another dtype kind, or
            nesting deeper than :data:`MAX_DEPTH`.
    """
    return _encode(value, keep, 0)


# What a caller of _encode may put first at every level of the walk: the value's encoding, or None to let the walk
# encode it as data. encode_input's hook writes the input tags and the $refs of kept objects this way.
_Hook = Callable[[object, int], object | None]


def _encode(value: object, keep: Callable[[object], int] | None, depth: int, hook: _Hook | None = None) -> object:
    if depth > MAX_DEPTH:
        raise WireError(f"value nested deeper than {MAX_DEPTH} levels")
    if hook is not None and (found := hook(value, depth)) is not None:
        return found
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return _int(value)
    if kind is float:
        return _float(value)
    if isinstance(value, np.generic) and value.dtype.kind in _KINDS:
        item = value.item()
        return item if kind is np.bool_ else (_int(item) if value.dtype.kind in "iu" else _float(item))
    if kind is list:
        return [_encode(v, keep, depth + 1, hook) for v in value]
    if kind is tuple:
        return {"$tuple": [_encode(v, keep, depth + 1, hook) for v in value]}
    if kind is dict and all(type(k) is str for k in value):
        return {"$dict": {k: _encode(v, keep, depth + 1, hook) for k, v in value.items()}}
    if kind is np.ndarray and value.dtype.kind in _KINDS and value.dtype.fields is None:
        data = np.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<"))
        return {
            "$array": data.dtype.str,
            "shape": list(value.shape),
            "data": base64.b64encode(data.tobytes()).decode("ascii"),
        }
    if keep is None:
        raise WireError(f"cannot send a value of type {kind.__name__} as data")
    return {"$ref": keep(value), "type": kind.__name__[:80]}


class _Budget:
    def __init__(self) -> None:
        self.items = 0
        self.bytes = 0

    def spend(self, items: int, nbytes: int = 0) -> None:
        self.items += items
        self.bytes += nbytes
        if self.items > MAX_ITEMS or self.bytes > MAX_BYTES:
            raise WireError(f"message larger than {MAX_ITEMS} items or {MAX_BYTES} bytes")


def decode(data: object, resolve: Callable[[dict], object] | None = None) -> object:
    """The plain value that :func:`encode` made ``data`` from; ``{"$ref"}`` becomes a :class:`Ref`.

    Args:
        data: Parsed JSON, from a source that may be hostile.
        resolve: Called with every ``$ref``, ``$rng`` or ``$build`` dict to turn it into the side's own object (the
            code-running side decoding a check's inputs). Without it ``$rng`` and ``$build`` are refused.

    Raises:
        WireError: Anything that :func:`encode` cannot have made, or a message over the size limits.
    """
    return _decode(data, resolve, 0, _Budget())


def _decode(data: object, resolve: Callable[[dict], object] | None, depth: int, budget: _Budget) -> object:
    if depth > MAX_DEPTH:
        raise WireError(f"message nested deeper than {MAX_DEPTH} levels")
    kind = type(data)
    if data is None or kind is bool or kind is float:
        return data
    if kind is int:
        if not -(2**63) <= data < 2**63:
            raise WireError("integer out of the 64-bit range without the $int tag")
        return data
    if kind is str:
        if len(data) > MAX_STR:
            raise WireError(f"string longer than {MAX_STR} characters")
        return data
    if kind is list:
        budget.spend(len(data))
        return [_decode(v, resolve, depth + 1, budget) for v in data]
    if kind is not dict or len(data) == 0:
        raise WireError(f"unexpected {kind.__name__} in a message")
    tag = next(iter(data))
    if tag == "$float" and len(data) == 1 and data[tag] in ("nan", "inf", "-inf"):
        return float(data[tag])
    if tag == "$int" and len(data) == 1 and type(data[tag]) is str and len(data[tag]) <= 4300:
        try:
            return int(data[tag])
        except ValueError:
            raise WireError("malformed $int") from None
    if tag == "$tuple" and len(data) == 1 and type(data[tag]) is list:
        budget.spend(len(data[tag]))
        return tuple(_decode(v, resolve, depth + 1, budget) for v in data[tag])
    if tag == "$dict" and len(data) == 1 and type(data[tag]) is dict:
        budget.spend(len(data[tag]))
        return {str(k): _decode(v, resolve, depth + 1, budget) for k, v in data[tag].items()}
    if tag == "$array" and set(data) == {"$array", "shape", "data"}:
        return _decode_array(data, budget)
    if tag == "$ref" and set(data) == {"$ref", "type"} and type(data["$ref"]) is int and type(data["type"]) is str:
        return resolve(data) if resolve is not None else Ref(data["$ref"], data["type"][:80])
    if resolve is not None and tag in ("$rng", "$build"):
        return resolve(data)
    raise WireError(f"unexpected tag {str(tag)[:40]!r} in a message")


def _decode_array(data: dict, budget: _Budget) -> np.ndarray:
    try:
        dtype = np.dtype(data["$array"])
        shape = tuple(int(n) for n in data["shape"])
    except (TypeError, ValueError):
        raise WireError("malformed $array header") from None
    if dtype.kind not in _KINDS or dtype.fields is not None or any(n < 0 for n in shape) or len(shape) > 32:
        raise WireError(f"unexpected array dtype {dtype} or shape {shape}")
    count = math.prod(shape)
    budget.spend(count, count * dtype.itemsize)
    if type(data["data"]) is not str:
        raise WireError("array data must be base64 text")
    raw = base64.b64decode(data["data"], validate=True)
    if len(raw) != count * dtype.itemsize:
        raise WireError(f"array data holds {len(raw)} bytes, its header says {count * dtype.itemsize}")
    return np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def encode_input(value: object, refs: Callable[[object], dict | None]) -> object:
    """Encode a check's input: plain data as :func:`encode` does, :class:`Rng` and :class:`Build` as their tags, and
    any object ``refs`` knows (a kept object of this side) as its ``$ref``.

    Raises:
        WireError: An object that is none of these.
    """

    def hook(v: object, depth: int) -> object | None:
        if isinstance(v, Rng):
            return {"$rng": int(v.seed)}
        if isinstance(v, Build):
            return {
                "$build": v.target,
                "args": [_encode(x, None, depth + 1, hook) for x in v.args],
                "kwargs": {k: _encode(x, None, depth + 1, hook) for k, x in v.kwargs.items()},
            }
        return refs(v)

    return _encode(value, None, 0, hook)
