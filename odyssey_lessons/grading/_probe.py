"""The side of a check that runs code: one request in, one plain-data reply out.

A request names what to run and carries its inputs as encoded data (``_wire``):

- ``{"op": "call", "target": T, "method": M or None, "args": [...], "kwargs": {...}}`` calls ``T(*args, **kwargs)``,
  or the method ``M`` of ``T``. ``T`` is a name in the side's namespace (a learner's function in the notebook, the
  solution's in the grader's reference kernel, an oracle in a self-check), ``"odyssey_lessons.module:Name"``, or a
  ``{"$ref": n}`` kept from an earlier reply;
- ``{"op": "get", "target": T, "attr": A}`` reads the attribute ``A`` of ``T``;
- ``{"op": "reset"}`` forgets the kept objects.

The reply is ``{"value": ..., "after": [...], "kwafter": {...}}``: the result and, for in-place work, every data
argument as it is after the call (``None`` for an object argument); or ``{"raised": "TypeName", "message": "..."}``
when the code raised. Values that are not plain data are kept here and sent as ``{"$ref": n, "type": ...}``.

In a kernel the grader sends ``serve(JSON)`` as the code of an execute request, and the reply travels back as display
data of type :data:`MIME`. Nothing in this module decides a verdict: whatever a kernel sends back is only data, which
the grader decodes with limits and compares with its own reference.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from odyssey_lessons.grading._wire import WireError, decode, encode

MIME = "application/vnd.odyssey.reply+json"
MAX_MESSAGE_CHARS = 300


class Kept:
    """The objects one side keeps for a check, by number."""

    def __init__(self) -> None:
        self.objects: dict[int, object] = {}

    def keep(self, value: object) -> int:
        number = len(self.objects) + 1
        self.objects[number] = value
        return number

    def get(self, number: int) -> object:
        if number not in self.objects:
            raise LookupError(f"no kept object number {number}")
        return self.objects[number]


def resolve_target(target: object, namespace: Mapping[str, Any], kept: Kept) -> object:
    """What a request's ``target`` names on this side.

    Raises:
        NameError: A plain name the namespace does not hold.
        ValueError: A malformed target, or an import outside ``odyssey_lessons``.
    """
    if isinstance(target, dict) and set(target) == {"$ref", "type"}:
        return kept.get(int(target["$ref"]))
    if not isinstance(target, str) or not target:
        raise ValueError(f"a target must be a name or a kept object, got {target!r}")
    if ":" in target:
        module, _, qualname = target.partition(":")
        if not module.startswith("odyssey_lessons.") or not all(p.isidentifier() for p in qualname.split(".")):
            raise ValueError(f"only public odyssey_lessons callables can be built, got {target!r}")
        value: object = importlib.import_module(module)
        for part in qualname.split("."):
            if part.startswith("_"):
                raise ValueError(f"only public names can be built, got {target!r}")
            value = getattr(value, part)
        return value
    if target not in namespace:
        raise NameError(f"name {target!r} is not defined")
    return namespace[target]


def _resolver(namespace: Mapping[str, Any], kept: Kept):
    def resolve(tagged: dict) -> object:
        if "$ref" in tagged:
            return kept.get(int(tagged["$ref"]))
        if "$rng" in tagged:
            return np.random.default_rng(int(tagged["$rng"]))
        if set(tagged) != {"$build", "args", "kwargs"} or not isinstance(tagged["kwargs"], dict):
            raise WireError("malformed $build")
        build = resolve_target(tagged["$build"], namespace, kept)
        args = [decode(a, resolve) for a in tagged["args"]]
        kwargs = {str(k): decode(v, resolve) for k, v in tagged["kwargs"].items()}
        return build(*args, **kwargs)

    return resolve


def _is_data(encoded: object) -> bool:
    return not (isinstance(encoded, dict) and any(tag in encoded for tag in ("$ref", "$rng", "$build")))


def _raised(exc: BaseException) -> dict:
    message = " ".join(str(exc).split())
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 3] + "..."
    return {"raised": type(exc).__name__[:80], "message": message}


def handle(request: Mapping[str, Any], namespace: Mapping[str, Any], kept: Kept) -> dict:
    """Run one request against ``namespace`` and return the reply (never raises for what the code does)."""
    op = request.get("op")
    if op == "reset":
        kept.objects.clear()
        return {"value": None}
    resolve = _resolver(namespace, kept)
    try:
        target = resolve_target(request.get("target"), namespace, kept)
        if op == "get":
            return {"value": encode(getattr(target, str(request["attr"])), kept.keep)}
        if op != "call":
            raise ValueError(f"unknown op {op!r}")
        args = [decode(a, resolve) for a in request.get("args", [])]
        kwargs = {str(k): decode(v, resolve) for k, v in request.get("kwargs", {}).items()}
        method = request.get("method")
        function = getattr(target, str(method)) if method else target
        if not callable(function):
            raise TypeError(f"{method or request.get('target')!r} is not callable")
        result = function(*args, **kwargs)
        sent_args, sent_kwargs = request.get("args", []), request.get("kwargs", {})
        after = [encode(a, kept.keep) if _is_data(s) else None for a, s in zip(args, sent_args, strict=True)]
        kwafter = {k: encode(v, kept.keep) if _is_data(sent_kwargs[k]) else None for k, v in kwargs.items()}
        return {"value": encode(result, kept.keep), "after": after, "kwafter": kwafter}
    except Exception as exc:  # the code under test may raise anything: that is its answer
        return _raised(exc)


_KEPT = Kept()


def serve(request_json: str) -> None:
    """Kernel entry point: run the request on the notebook's namespace and publish the reply as :data:`MIME`."""
    from IPython import get_ipython
    from IPython.display import publish_display_data

    reply = handle(json.loads(request_json), get_ipython().user_ns, _KEPT)
    publish_display_data({MIME: reply})
