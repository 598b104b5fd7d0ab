"""What a check's test function receives: the learner's answers, called with inputs the check chooses.

``answers.f(*args, **kwargs)`` calls ``f`` on two *sides* with the same inputs -- the learner's code and the reference
-- receives both results as plain data (``_wire``), compares them with the check's comparison, and returns the
learner's result (or raises ``AssertionError`` naming the call and the first difference). The reference is the worked
solution when the grader runs the check (``odyssey grade``: the solution runs in a kernel of its own, the learner's
code in a sandboxed kernel, and the comparison in the grader's process); in the learner's notebook it is the check's
``oracles`` (package functions with the same signature). The data each call modified in place is compared too.

A result that is not plain data (an object the learner's class made, an optimizer state) stays on its side and comes
back as a :class:`Remote`: call its methods (``remote.step(...)``, compared like any call) or read an attribute with
``remote.get("name")``, and pass it back as an input.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from odyssey_lessons._validate import check_real
from odyssey_lessons.grading._probe import Kept, handle
from odyssey_lessons.grading._wire import Build, Ref, Rng, decode, encode_input

MAX_DESCRIPTION = 160


class Side(Protocol):
    """Where a call runs: takes a request (``_probe``), returns the reply as JSON-ready data."""

    def request(self, request: dict) -> dict: ...


class LocalSide:
    """A side in this process: ``namespace`` holds the callables (a notebook's globals, or a check's oracles).

    Requests and replies go through JSON text, so this side sees exactly what a kernel would.
    """

    def __init__(self, namespace: Mapping[str, Any]) -> None:
        self.namespace = namespace
        self.kept = Kept()

    def request(self, request: dict) -> dict:
        reply = handle(json.loads(json.dumps(request)), self.namespace, self.kept)
        return json.loads(json.dumps(reply, allow_nan=False))


class SolutionFault(BaseException):
    """The reference side (the worked solution's kernel) failed: a fault of the grading setup, never of the learner's
    code (a ``BaseException``, like :class:`KernelFault`, so no check can catch it)."""


class KernelFault(BaseException):
    """The side running the learner's code hung or died during a call (a ``BaseException``: a check's own
    ``except Exception`` must not swallow it)."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status  # "timeout" or "crashed"


# --- comparisons ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """How a learner's value must match the reference: ``rtol``/``atol`` of ``|got - want| <= atol + rtol * |want|``
    for floats (0 and 0: the same values, zeros of the same sign); integers, strings and booleans always exactly.
    Arrays must also have the reference's dtype and shape; NaN matches NaN."""

    rtol: float = 0.0
    atol: float = 0.0

    def __post_init__(self) -> None:
        for name in ("rtol", "atol"):
            check_real(name, getattr(self, name), low=0, finite=False)

    def describe(self) -> str:
        return "exactly" if self.rtol == self.atol == 0 else f"rtol={self.rtol:g}, atol={self.atol:g}"

    def difference(self, got: object, want: object, where: str = "result") -> str | None:
        """None when ``got`` matches ``want``, else one line saying where and how they first differ."""
        if isinstance(want, Ref) or isinstance(got, Ref):
            if isinstance(want, Ref) and isinstance(got, Ref):
                return None
            return f"{where}: got {_summary(got)}, expected {_summary(want)}"
        if isinstance(want, np.ndarray) or isinstance(got, np.ndarray):
            return self._arrays(got, want, where)
        if isinstance(want, list | tuple):
            if not isinstance(got, list | tuple) or len(got) != len(want):
                return f"{where}: got {_summary(got)}, expected {_summary(want)}"
            for k, (g, w) in enumerate(zip(got, want, strict=True)):
                if (found := self.difference(g, w, f"{where}[{k}]")) is not None:
                    return found
            return None
        if isinstance(want, dict):
            if not isinstance(got, dict) or set(got) != set(want):
                return f"{where}: got {_summary(got)}, expected {_summary(want)}"
            for key in want:
                if (found := self.difference(got[key], want[key], f"{where}[{key!r}]")) is not None:
                    return found
            return None
        return self._scalars(got, want, where)

    def _scalars(self, got: object, want: object, where: str) -> str | None:
        numbers = (int, float)
        if isinstance(want, bool) or isinstance(got, bool) or not isinstance(want, numbers):
            same = type(got) is type(want) and got == want
            return None if same else f"{where}: got {_summary(got)}, expected {_summary(want)}"
        if not isinstance(got, numbers):
            return f"{where}: got {_summary(got)}, expected the number {want!r}"
        if isinstance(want, int) and isinstance(got, int):
            return None if got == want else f"{where}: got {got!r}, expected {want!r}"
        if self._close(np.array([float(got)]), np.array([float(want)]))[0]:
            return None
        return f"{where}: got {got!r}, expected {want!r} ({self.describe()})"

    def _close(self, got: np.ndarray, want: np.ndarray) -> np.ndarray:
        if got.dtype.kind != "f":
            return got == want
        g, w = got.astype(np.float64), want.astype(np.float64)
        both_nan = np.isnan(g) & np.isnan(w)
        with np.errstate(invalid="ignore", over="ignore"):
            if self.rtol == self.atol == 0:
                return both_nan | ((g == w) & (np.signbit(g) == np.signbit(w)))
            finite = np.isfinite(w)
            near = np.abs(g - w) <= self.atol + self.rtol * np.abs(w)
            return both_nan | np.where(finite, near, g == w)

    def _arrays(self, got: object, want: object, where: str) -> str | None:
        if not (isinstance(got, np.ndarray) and isinstance(want, np.ndarray)):
            return f"{where}: got {_summary(got)}, expected {_summary(want)}"
        if got.dtype != want.dtype:
            return f"{where}: dtype {got.dtype}, expected {want.dtype}"
        if got.shape != want.shape:
            return f"{where}: shape {got.shape}, expected {want.shape}"
        ok = self._close(got, want)
        if ok.all():
            return None
        bad = np.argwhere(~ok)[0]
        index = tuple(int(i) for i in bad)
        return (
            f"{where}: {int((~ok).sum())} of {ok.size} values differ ({self.describe()}), e.g. at {list(index)} "
            f"got {got[index].item()!r}, expected {want[index].item()!r}"
        )


def exact() -> Comparison:
    """Values must be equal: floats bit for bit up to NaN payloads (zeros of the same sign), dtypes the same."""
    return Comparison()


def close(*, rtol: float, atol: float = 0.0) -> Comparison:
    """Floats may differ by ``atol + rtol * |reference|``; everything else must be equal (see :class:`Comparison`)."""
    return Comparison(rtol, atol)


def _summary(value: object) -> str:
    if isinstance(value, Build):
        return f"{value.target.rpartition(':')[2]}(...)"
    if isinstance(value, Rng):
        return f"default_rng({value.seed})"
    if isinstance(value, np.ndarray):
        return f"array({value.dtype}, shape {value.shape})"
    if isinstance(value, Ref):
        return f"an object of type {value.type_name}"
    if isinstance(value, list | tuple):
        return f"a {type(value).__name__} of {len(value)}"
    if isinstance(value, dict):
        return f"a dict with keys {sorted(value)[:8]}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe_call(name: str, args: tuple, kwargs: Mapping[str, Any]) -> str:
    """``name(arg, ..., key=value)`` with arrays shown as their dtype and shape, cut to a readable length."""
    parts = [_summary(a) if not isinstance(a, Remote) else "<object>" for a in args]
    parts += [f"{k}={_summary(v) if not isinstance(v, Remote) else '<object>'}" for k, v in kwargs.items()]
    text = f"{name}({', '.join(parts)})"
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 4] + "...)"


# --- calls -----------------------------------------------------------------------------------------------------------


class Remote:
    """An object that stays on its side (one per side); call its methods or read attributes with :meth:`get`."""

    def __init__(self, answers: Answers, refs: tuple[Ref, Ref], name: str) -> None:
        self._answers, self._refs, self._name = answers, refs, name

    @property
    def type_name(self) -> str:
        """The type name of the learner's object."""
        return self._refs[0].type_name

    def get(self, attr: str) -> Any:
        """The attribute ``attr`` of the object, compared like a call's result."""
        return self._answers._run({"op": "get", "attr": attr}, self, f"{self._name}.{attr}")

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_"):
            raise AttributeError(method)

        def call(*args: Any, **kwargs: Any) -> Any:
            what = describe_call(f"{self._name}.{method}", args, kwargs)
            return self._answers._run({"op": "call", "method": method}, self, what, args, kwargs)

        return call


class Answers:
    """The learner's callables as a check sees them (see the module docstring)."""

    def __init__(self, student: Side, reference: Side, comparison: Comparison) -> None:
        self._sides = (student, reference)
        self._comparison = comparison

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._run({"op": "call", "method": None}, name, describe_call(name, args, kwargs), args, kwargs)

        return call

    def call(self, name: str, *args: Any, compare: Comparison | None = None, **kwargs: Any) -> Any:
        """``answers.name(*args, **kwargs)`` with another comparison than the check's. ``name`` may also be a
        package callable, ``"odyssey_lessons.module:Name"``: it runs on both sides (an object it makes comes back
        as a :class:`Remote`, e.g. a fixture whose attributes the check reads after the learner's code used it)."""
        what = describe_call(name, args, kwargs)
        return self._run({"op": "call", "method": None}, name, what, args, kwargs, comparison=compare)

    def both(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        """``(learner's result, reference result)`` of one call, not compared: for a check that judges a property
        itself. Raises ``AssertionError`` if either side raised."""
        what = describe_call(name, args, kwargs)
        return self._run({"op": "call", "method": None}, name, what, args, kwargs, pair=True)

    def reset(self) -> None:
        """Forget the objects both sides keep (the check is over)."""
        for side in self._sides:
            side.request({"op": "reset"})

    def _run(
        self,
        request: dict,
        target: str | Remote,
        what: str,
        args: tuple = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        comparison: Comparison | None = None,
        pair: bool = False,
    ) -> Any:
        kwargs = dict(kwargs or {})
        comparison = comparison or self._comparison
        replies = []
        for number, side in enumerate(self._sides):

            def refs(value: object, number: int = number) -> dict | None:
                if isinstance(value, Remote):
                    ref = value._refs[number]
                    return {"$ref": ref.number, "type": ref.type_name}
                return None

            sent = dict(request)
            sent["target"] = refs(target) if isinstance(target, Remote) else target
            if request["op"] == "call":
                sent["args"] = [encode_input(a, refs) for a in args]
                sent["kwargs"] = {k: encode_input(v, refs) for k, v in kwargs.items()}
            replies.append(side.request(sent))
        got, want = (_decoded(reply) for reply in replies)
        if "raised" in want:
            if "raised" in got and got["raised"] == want["raised"]:
                return None
            if "raised" in got:
                raise AssertionError(f"{what} raised {got['raised']}: {got['message']}; expected {want['raised']}")
            raise AssertionError(f"{what} returned {_summary(got['value'])}; expected it to raise {want['raised']}")
        if "raised" in got:
            raise AssertionError(f"{what} raised {got['raised']}: {got['message']}")
        if pair:
            return got["value"], want["value"]
        difference = comparison.difference(got["value"], want["value"])
        for k, (g, w) in enumerate(zip(got.get("after", []), want.get("after", []), strict=False)):
            difference = difference or _after(comparison, g, w, f"argument {k + 1}")
        for key in want.get("kwafter", {}):
            difference = difference or _after(comparison, got["kwafter"].get(key), want["kwafter"][key], key)
        if difference is not None:
            raise AssertionError(f"{what}: {difference}")
        return self._remotes(got["value"], want["value"], what)

    def _remotes(self, got: Any, want: Any, name: str) -> Any:
        """``got`` with every pair of kept objects (``Ref`` on both sides) turned into a :class:`Remote`."""
        if isinstance(got, Ref) and isinstance(want, Ref):
            return Remote(self, (got, want), name)
        if isinstance(got, list | tuple) and isinstance(want, list | tuple):
            items = [self._remotes(g, w, f"{name}[{k}]") for k, (g, w) in enumerate(zip(got, want, strict=True))]
            return type(got)(items)
        if isinstance(got, dict) and isinstance(want, dict):
            return {k: self._remotes(v, want[k], f"{name}[{k!r}]") for k, v in got.items()}
        return got


def _after(comparison: Comparison, got: object, want: object, where: str) -> str | None:
    found = comparison.difference(got, want, where)
    return None if found is None else f"{found} after the call (inputs must be changed only as the task says)"


def _decoded(reply: object) -> dict:
    """A reply's fields decoded; a malformed reply reads as a raised ``ProtocolError``."""
    try:
        if not isinstance(reply, dict):
            raise ValueError("not a dict")
        if "raised" in reply:
            return {"raised": str(reply["raised"])[:80], "message": str(reply.get("message", ""))[:300]}
        out = {"value": decode(reply["value"])}
        out["after"] = [decode(a) for a in reply.get("after", [])]
        out["kwafter"] = {str(k): decode(v) for k, v in reply.get("kwafter", {}).items()}
        return out
    except (ValueError, KeyError, TypeError, AttributeError):
        return {"raised": "ProtocolError", "message": "the kernel's reply is not valid plain data"}
