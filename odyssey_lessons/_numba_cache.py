"""Where numba keeps its compiled kernels.

numba caches next to the source (``__pycache__``). When the package is installed read-only (a system site-packages,
a JupyterHub image) that fails, so the cache goes to a per-user directory instead. This must run before the first
``@njit(cache=True)`` function is defined, which is why the package ``__init__`` calls it first.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _writable(directory: Path) -> bool:
    """True when numba can create and write cache files under ``directory``/__pycache__."""
    pycache = directory / "__pycache__"
    target = pycache if pycache.exists() else directory
    return os.access(target, os.W_OK | os.X_OK)


def user_cache_dir() -> Path:
    """The per-user numba cache directory used when the package directory is read-only."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "odyssey_lessons" / "numba"


def configure_numba_cache(package_dir: Path | None = None) -> str | None:
    """Point numba's cache at a writable directory when the package directory is not writable.

    An explicit ``NUMBA_CACHE_DIR`` set by the user always wins.

    Returns:
        The cache directory that was set, or ``None`` when numba's default (next to the sources) is used.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return os.environ["NUMBA_CACHE_DIR"]
    package_dir = _PACKAGE_DIR if package_dir is None else package_dir
    subdirs = [p for p in package_dir.rglob("*") if p.is_dir() and p.name != "__pycache__"]
    if all(_writable(d) for d in [package_dir, *subdirs]):
        return None
    cache = user_cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError:
        cache = Path(tempfile.gettempdir()) / f"odyssey_lessons-numba-{os.getuid()}"
        cache.mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(cache)
    import sys

    if "numba" in sys.modules:  # numba read its config at import: tell it too
        sys.modules["numba"].config.CACHE_DIR = str(cache)
    return str(cache)
