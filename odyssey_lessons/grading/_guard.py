"""In-kernel defences against a student's code faking a check: the grader runs this, never the student.

The graded notebook (see ``_graded``) starts with a cell that calls :func:`install` before any student cell runs. It
captures pristine references: the builtins, ``sys.stdout``/``stderr``/``displayhook``, the dicts of the modules a check
leans on (numpy, math, ``odyssey_lessons``, ...), the kernel's output stream class and, after every cell of the
master that is not an answer, the names those cells bound to modules and imported functions (``np``, ``check``, ...).

Every check cell of the graded notebook then starts with ``guard.restore(globals())``, which puts all of that back and
binds ``check`` to :meth:`Guard.check`. That check runs the test, restores again, prints its verdict through the
pristine ``print`` and stream, and fails the check when the test left any of those references changed (a patch made
by the student's function while it was being tested).

A check also fails while a Python thread running code from a notebook cell is alive (threads of installed libraries,
such as tqdm's monitor, are fine): such a thread could patch the output stream between the restore and the verdict.

What this does not stop: threads started without the ``threading`` module (``_thread``, native code), code that goes
looking for the guard itself (its name is random per submission, but it is reachable from the kernel's globals), that
patches a reference and puts it back before the test returns, or that uses ctypes to rewrite interpreter state.
Output tampering (extra ``[PASS]`` lines) is caught outside the kernel, by the comparison with the master's expected
output.
"""

from __future__ import annotations

import os
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

# Modules whose public attributes a check may call; restored before every check and verified after it. (Private
# names are left alone: modules keep caches there that legitimately change.)
WATCHED_PREFIXES = ("numpy", "math", "odyssey_lessons", "ml_dtypes", "operator", "functools", "cmath", "statistics")
_SYS_NAMES = ("stdout", "stderr", "displayhook")
_MISSING = object()


def _watched(name: str) -> bool:
    top = name.split(".", 1)[0]
    return top in WATCHED_PREFIXES


class Guard:
    """Pristine references of one kernel and the operations on them; see the module docstring."""

    def __init__(self) -> None:
        import builtins

        import odyssey_lessons.grading._check as check_module

        try:
            import numpy  # noqa: F401  (captured before any student cell can patch it)
        except ImportError:  # pragma: no cover - numpy is a dependency of the course
            pass
        self._builtins = vars(builtins)
        self._saved_builtins = dict(self._builtins)
        self._sys = vars(sys)
        self._saved_sys = {name: self._sys[name] for name in _SYS_NAMES}
        self._modules = sys.modules
        self._module_dicts: dict[str, tuple[types.ModuleType, dict[str, Any], dict[str, Any]]] = {}
        self._classes: dict[type, dict[str, Any]] = {}
        self._names: dict[str, Any] = {}
        self._namespace: dict[str, Any] | None = None
        self._bound_check = self.check  # one bound-method object, so identity comparisons hold
        self._enumerate_threads = threading.enumerate
        self._threads = set(threading.enumerate())  # the kernel's own; later master cells may add theirs
        self._library_dirs = tuple(
            {os.path.realpath(p) + os.sep for p in (sys.prefix, sys.base_prefix, *sys.path) if p and os.path.isdir(p)}
        )
        self._settrace, self._setprofile = sys.settrace, sys.setprofile
        self._type_setattr = type.__setattr__
        self._print = builtins.print
        self._stdout = sys.stdout
        self._exception = Exception
        self._base_exception = BaseException
        self._pass_line = check_module.pass_line
        self._fail_line = check_module.fail_line
        self._describe = check_module.describe_exception
        self._streams = {
            stream: set(vars(stream)) for stream in (sys.stdout, sys.stderr) if hasattr(stream, "__dict__")
        }
        for cls in type(sys.stdout).__mro__:
            if cls.__module__ != "builtins" and not cls.__module__.startswith("_io"):
                self._classes[cls] = dict(vars(cls))
        self.snapshot()

    def snapshot(self, namespace: dict[str, Any] | None = None) -> None:
        """Capture watched modules imported since the last snapshot and the names a master cell bound.

        A name is kept the first time it is bound to a module or to a function or class defined in a module (an
        import); names bound to data or to functions defined in the notebook are left alone.
        """
        for name, module in list(self._modules.items()):
            if name not in self._module_dicts and _watched(name) and isinstance(module, types.ModuleType):
                public = {k: v for k, v in vars(module).items() if not k.startswith("_")}
                self._module_dicts[name] = (module, vars(module), public)
        self._threads.update(self._enumerate_threads())
        if namespace is None:
            return
        for name, value in list(namespace.items()):
            if name.startswith("_") or name in self._names:
                continue
            module = getattr(value, "__module__", None) if callable(value) else None
            if isinstance(value, types.ModuleType) or (isinstance(module, str) and module != "__main__"):
                self._names[name] = value

    def _builtins_changed(self) -> list[str]:
        """Changed builtins, found with dict operations only (the builtins themselves may be patched)."""
        return [f"builtins.{k}" for k, v in self._saved_builtins.items() if self._builtins.get(k, _MISSING) is not v]

    def _restore_builtins(self) -> None:
        for key, value in self._saved_builtins.items():
            if self._builtins.get(key, _MISSING) is not value:
                self._builtins[key] = value

    def _changes(self, namespace: dict[str, Any] | None) -> list[str]:
        """The restorable references other than builtins that differ from their pristine values, as dotted names."""
        changed = [f"sys.{k}" for k, v in self._saved_sys.items() if self._sys.get(k, _MISSING) is not v]
        for name, (module, live, saved) in self._module_dicts.items():
            if self._modules.get(name, module) is not module:
                changed.append(f"sys.modules[{name!r}]")
            changed += [f"{name}.{k}" for k, v in saved.items() if live.get(k, _MISSING) is not v]
        for cls, saved in self._classes.items():
            changed += [f"{cls.__qualname__}.{k}" for k, v in saved.items() if cls.__dict__.get(k, _MISSING) is not v]
        for stream, keys in self._streams.items():
            changed += [f"sys.stdout.{k}" for k in self._shadowing(stream, keys)]
        if namespace is not None:
            expected = {**self._names, "check": self._bound_check}
            changed += [k for k, v in expected.items() if namespace.get(k, _MISSING) is not v]
        return changed

    def _foreign(self, thread: threading.Thread) -> bool:
        """True for a live thread whose code was not loaded from an installed file (a notebook cell's, say).

        Libraries start threads of their own (tqdm's monitor); those run code from files under ``sys.path``.
        """
        if not thread.is_alive():
            return False
        function = getattr(thread, "_target", None) or type(thread).run
        code = getattr(function, "__code__", None)
        if code is None:  # a builtin as the target: no notebook code of its own
            return False
        if code.co_filename.startswith("<"):  # exec'd or compiled from a string
            return True
        return not os.path.realpath(code.co_filename).startswith(self._library_dirs)

    @staticmethod
    def _shadowing(stream: object, keys: set[str]) -> list[str]:
        """Instance attributes added to a stream since install that hide a method (``sys.stdout.write = ...``)."""
        return [k for k in list(vars(stream)) if k not in keys and callable(getattr(type(stream), k, None))]

    def restore(self, namespace: dict[str, Any] | None = None) -> None:
        """Put every captured reference back; bind ``check`` in ``namespace`` to :meth:`check`."""
        self._settrace(None)
        self._setprofile(None)
        self._restore_builtins()
        for key, value in self._saved_sys.items():
            self._sys[key] = value
        for name, (module, live, saved) in self._module_dicts.items():
            if name in self._modules:
                self._modules[name] = module
            for key, value in saved.items():
                if live.get(key, _MISSING) is not value:
                    live[key] = value
        for stream, keys in self._streams.items():
            for key in self._shadowing(stream, keys):
                del vars(stream)[key]
        for cls, saved in self._classes.items():
            for key, value in saved.items():
                if cls.__dict__.get(key, _MISSING) is not value:
                    self._type_setattr(cls, key, value)
        if namespace is not None:
            namespace.update(self._names)
            namespace["check"] = self._bound_check
            self._namespace = namespace

    def check(self, check_id: str, test: Callable[[], object], *, points: int, hint: str) -> bool:
        """:func:`odyssey_lessons.grading.check` as printed, but run against pristine references.

        The test fails when it raises an ``Exception`` or when it left a restorable reference changed.
        """
        try:
            test()
            changed = self._builtins_changed()
            self._restore_builtins()
            changed += self._changes(self._namespace)
            detail = f"    TamperingError: the code under test changed {', '.join(changed[:3])}" if changed else ""
            threads = [t.name for t in self._enumerate_threads() if t not in self._threads and self._foreign(t)]
            if threads and not detail:
                detail = f"    TamperingError: the submission left threads running: {', '.join(threads[:3])}"
        except self._exception as exc:
            try:
                detail = self._describe(exc)
            except self._base_exception:
                detail = "    Exception: (its message could not be printed)"
        except self._base_exception:
            self.restore(None)
            raise
        self.restore(None)
        passed = not detail
        if passed:
            self._print(self._pass_line(check_id, points), file=self._stdout)
        else:
            self._print(self._fail_line(check_id, points, hint), file=self._stdout)
            self._print(detail, file=self._stdout)
        return passed


def install() -> Guard:
    """Capture the pristine references of this kernel; call before any student code runs."""
    return Guard()
