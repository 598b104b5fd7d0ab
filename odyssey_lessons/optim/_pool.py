"""A memory pool for the outputs of pure updates: fresh-looking arrays that reuse memory nobody can see any more.

Why: a pure update writes every step into fresh arrays (new state, the updates). Fresh memory costs a page fault per
4 KiB page the first time it is written, and glibc gives freed blocks of a few MiB back to the system, so a step on 1M
parameters spent most of its time faulting in its outputs (Adam: 2.8 ms per step, 0.6 ms in the kernel).
"""

from __future__ import annotations

import weakref

import numpy as np


class _Lease:
    """Owner of one handed-out output array: numpy makes it the ``base`` of that array and of every view taken from
    it, so it lives exactly as long as any of them."""

    __slots__ = ("__array_interface__", "__weakref__")

    def __init__(self, raw: np.ndarray) -> None:
        self.__array_interface__ = raw.__array_interface__


class Recycler:
    """Output arrays for pure updates, reusing the memory of earlier outputs that nobody can see any more.

    Each output is handed out through a :class:`_Lease`; when the caller has dropped the array and every view of it
    (typically: the state before the previous one), the lease dies and its memory goes back to a free list for the
    next update. Arrays the caller keeps are never written again, so ``update`` stays pure. Each optimizer has its own
    recycler; :func:`~odyssey_lessons.optim.apply_updates` shares one. A recycler holds at most ``n_arrays`` (see
    :meth:`resize`) free arrays of each size: about one state's worth of memory after the caller drops everything.
    """

    def __init__(self) -> None:
        self._free: dict[int, list[np.ndarray]] = {}
        self._keep = 0

    def empty(self, size: int) -> np.ndarray:
        """A flat float32 array of ``size`` elements that nothing else references; contents undefined."""
        try:
            raw = self._free[size].pop()  # list.pop is atomic under the GIL: no lock needed (nor wanted: a
        except (KeyError, IndexError):  # finalizer can run in the middle of this method)
            raw = np.empty(size, np.float32)
        lease = _Lease(raw)
        weakref.finalize(lease, self._release, raw).atexit = False
        return np.asarray(lease)

    def _release(self, raw: np.ndarray) -> None:
        bucket = self._free.setdefault(raw.size, [])
        if len(bucket) < self._keep:
            bucket.append(raw)

    def resize(self, n_arrays: int) -> None:
        """Keep up to ``n_arrays`` free arrays of each size (one update's outputs)."""
        self._keep = max(self._keep, n_arrays)
