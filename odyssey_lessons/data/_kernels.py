"""numba kernels of the data package: the bilinear affine warp behind :mod:`odyssey_lessons.data._augment`.

Kernels take arrays and scalars only; the validating wrappers live in ``_augment``. This module imports numba;
``odyssey_lessons.data`` loads it only when one of the augmentation names is first used.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Layout of one row of the kernel's ``coef`` array: the inverse affine map, output pixel (r, c) -> input position.
C_XC, C_XR, C_X0, C_YC, C_YR, C_Y0 = range(6)
N_COEF = 6


# Serial on purpose: the whole digits set is 115k pixels, 0.7 ms on one core, while on a 2-core machine the same kernel
# with prange over images took 7 ms (the thread pool's wake-up and spinning cost more than the work).
@njit(cache=True)
def warp_kernel(images, out, coef, fill):
    """Bilinear affine warp of a batch: ``out[i, r, c] = bilinear(images[i], y, x)`` where

        x = coef[i, 0] * c + coef[i, 1] * r + coef[i, 2]
        y = coef[i, 3] * c + coef[i, 4] * r + coef[i, 5]

    and ``bilinear(img, y, x) = sum over the 4 grid neighbours (y0 + a, x0 + b), a, b in {0, 1}, of
    img[y0 + a, x0 + b] * (a ? fy : 1 - fy) * (b ? fx : 1 - fx)`` with ``y0 = floor(y)``, ``fy = y - y0`` (same for
    x); a neighbour outside the image contributes ``fill`` (the image is padded with ``fill``). Sums in float64.

    images, out: float32 (n, h, w), C-contiguous. coef: float64 (n, 6). fill: float64.
    """
    n, h, w = images.shape
    for i in range(n):
        xc, xr, x0_, yc, yr, y0_ = coef[i, 0], coef[i, 1], coef[i, 2], coef[i, 3], coef[i, 4], coef[i, 5]
        for r in range(h):
            for c in range(w):
                x = xc * c + xr * r + x0_
                y = yc * c + yr * r + y0_
                if 0.0 <= x < w - 1 and 0.0 <= y < h - 1:  # all 4 neighbours inside (most pixels): no bounds checks
                    ix = int(x)  # truncation is floor here: x >= 0
                    iy = int(y)
                    fx = x - ix
                    fy = y - iy
                    top = images[i, iy, ix] * (1.0 - fx) + images[i, iy, ix + 1] * fx
                    bottom = images[i, iy + 1, ix] * (1.0 - fx) + images[i, iy + 1, ix + 1] * fx
                    out[i, r, c] = np.float32(top * (1.0 - fy) + bottom * fy)
                    continue
                x0f = math.floor(x)
                y0f = math.floor(y)
                fx = x - x0f
                fy = y - y0f
                ix = int(x0f) if -2.0 < x0f < w + 1.0 else -2  # far outside: any out-of-range index will do
                iy = int(y0f) if -2.0 < y0f < h + 1.0 else -2
                acc = 0.0
                for a in range(2):
                    yy = iy + a
                    wy = fy if a == 1 else 1.0 - fy
                    for b in range(2):
                        xx = ix + b
                        wx = fx if b == 1 else 1.0 - fx
                        v = np.float64(images[i, yy, xx]) if 0 <= yy < h and 0 <= xx < w else fill
                        acc += wy * wx * v
                out[i, r, c] = np.float32(acc)
