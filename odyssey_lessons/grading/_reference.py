"""The reference side of graded checks: the worked solution, run once per grading slot in a kernel of its own.

A :class:`Reference` starts a kernel (the solution is the instructor's code: no sandbox), runs every code cell of the
grading master except its check cells, with the solutions in place, and then answers check calls (``_probe``) with the
solution's results. It is reused for every submission graded in its slot (:func:`reference_for`); a call whose
request and reply hold no kept object depends only on its inputs, so its reply is cached across slots and submissions
(:data:`CACHE_ENTRIES`).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from odyssey_lessons.grading._answers import SolutionFault
from odyssey_lessons.grading._cells import is_check_cell
from odyssey_lessons.grading._jail import kernel_env
from odyssey_lessons.grading._kernel import Kernel, plain_spec

CACHE_ENTRIES = 4096
SETUP_TIMEOUT = 900.0


def probe_code(request: dict) -> str:
    """The code of the execute request that runs ``request`` in a kernel (see ``_probe.serve``)."""
    return f"__import__('odyssey_lessons.grading._probe', fromlist=['serve']).serve({json.dumps(json.dumps(request))})"


def _stateless(request: dict) -> bool:
    return request.get("op") == "call" and '"$ref"' not in json.dumps(request)


class Reference:
    """The solution's kernel (see the module docstring)."""

    _cache: OrderedDict[str, dict] = OrderedDict()
    _cache_lock = threading.Lock()

    def __init__(self, solution_cells: list[str], key: str, call_timeout: float) -> None:
        self.key, self.call_timeout = key, call_timeout
        self.work = Path(tempfile.mkdtemp(prefix="odyssey-ref-"))
        self.kernel = Kernel(plain_spec(), cwd=self.work, env=kernel_env(self.work))
        for number, source in enumerate(solution_cells):
            outcome = self.kernel.execute(source, SETUP_TIMEOUT)
            if outcome.status != "ok":
                self.close()
                first = (outcome.errors or [outcome.status])[0]
                raise SolutionFault(f"the worked solution failed in its code cell {number}: {first}")

    def request(self, request: dict) -> dict:
        """The solution's reply to ``request`` (``_probe``), from the cache when it depends only on its inputs."""
        cache_key = None
        if _stateless(request):
            text = json.dumps(request, sort_keys=True)
            cache_key = hashlib.sha256(f"{self.key}\n{text}".encode()).hexdigest()
            with self._cache_lock:
                if cache_key in self._cache:
                    self._cache.move_to_end(cache_key)
                    return self._cache[cache_key]
        outcome = self.kernel.execute(probe_code(request), self.call_timeout)
        if outcome.reply is None:
            why = (outcome.errors or [outcome.status])[0]
            raise SolutionFault(f"the worked solution gave no reply to a check's call: {why}")
        if cache_key is not None and '"$ref"' not in json.dumps(outcome.reply):  # an object kept: not reusable
            with self._cache_lock:
                self._cache[cache_key] = outcome.reply
                while len(self._cache) > CACHE_ENTRIES:
                    self._cache.popitem(last=False)
        return outcome.reply

    def close(self) -> None:
        self.kernel.close()
        import shutil

        shutil.rmtree(self.work, ignore_errors=True)


def solution_cells(nb) -> list[str]:
    """The code cells of a grading master that the reference runs: all but the check cells."""
    return [cell.source for cell in nb.cells if cell.cell_type == "code" and not is_check_cell(cell)]


_LOCAL = threading.local()
_ALL: list[Reference] = []
_ALL_LOCK = threading.Lock()


def reference_for(nb, key: str, call_timeout: float) -> Reference:
    """This thread's reference kernel for the master ``nb`` (started on first use, reused after)."""
    found = getattr(_LOCAL, "references", {})
    _LOCAL.references = found
    if key not in found or not found[key].kernel.alive():
        found[key] = Reference(solution_cells(nb), key, call_timeout)
        with _ALL_LOCK:
            _ALL.append(found[key])
    return found[key]


def close_references() -> None:
    """Stop every reference kernel (at the end of a batch)."""
    with _ALL_LOCK:
        references, _ALL[:] = list(_ALL), []
    for reference in references:
        reference.close()
    _LOCAL.__dict__.clear()
