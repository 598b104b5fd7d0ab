"""Fill numba's on-disk cache with the course's kernels, and report where it is (run by binder/postBuild).

Importing the package points numba's cache at a writable directory: next to the package when it is writable (an
editable install in the learner's home, as on BinderHub), else ``~/.cache/odyssey_lessons/numba`` (a read-only
system install, as on some JupyterHubs). Calling each lesson's main kernels once compiles and stores them there.
"""

from __future__ import annotations

import os
import time

import numpy as np

import odyssey_lessons
from odyssey_lessons._numba_cache import configure_numba_cache


def main() -> None:
    t0 = time.perf_counter()
    from odyssey_lessons.data import augment_digits, digits_task
    from odyssey_lessons.formats import FORMATS, quantize
    from odyssey_lessons.nn import digits_cnn, mlp
    from odyssey_lessons.optim import OPTIMIZERS, apply_updates
    from odyssey_lessons.quant import QuantizedModel
    from odyssey_lessons.train import fit

    x = np.linspace(-4, 4, 256, dtype=np.float32)
    for name in FORMATS:
        quantize(x, name)
        quantize(x, name, rounding="stochastic", seed=0)
    params = {"w": np.ones(8, np.float32)}
    for make in OPTIMIZERS.values():
        opt = make(1e-3)
        updates, _ = opt.update(params, opt.init(params), params)
        apply_updates(params, updates)
    for layout in ("mlp", "cnn"):
        task = digits_task(layout, seed=0)
        rng = np.random.default_rng(0)
        model = mlp((64, 32, 10), rng=rng) if layout == "mlp" else digits_cnn(rng=rng)
        xs, ys = task.train[0][:128], task.train[1][:128]
        for policy in ("fp32", "bf16", "fp8_hybrid"):
            fit(model, (xs, ys), optimizer=OPTIMIZERS["adam"](1e-3), epochs=1, batch_size=64, policy=policy,
                progress=False)  # fmt: skip
        QuantizedModel.from_float(model, xs).predict(xs)
    augment_digits(task.train[0][:8].reshape(-1, 8, 8), seed=0)
    cache = configure_numba_cache() or "next to the package sources"
    seconds = time.perf_counter() - t0
    print(f"odyssey_lessons {odyssey_lessons.__version__}: numba kernels compiled and cached in {seconds:.0f} s; "
          f"cache: {cache}; NUMBA_CACHE_DIR={os.environ.get('NUMBA_CACHE_DIR')}")  # fmt: skip


if __name__ == "__main__":
    main()
