"""numba kernels of the training step: fused passes over a tensor that would otherwise take several numpy passes."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def store_cast_counting(g, q):
    """``g[i] = q[i]`` (``q``: ``g`` cast to a lower-precision format; both flat float32), returning the counts the
    training history records, in one pass instead of ten numpy passes:

    - ``live``: finite nonzero ``g[i]``;
    - ``under``: live ``g[i]`` whose cast ``q[i]`` is 0 (lost to underflow);
    - ``over``: finite ``g[i]`` whose cast is inf or NaN (overflow).
    """
    live = 0
    under = 0
    over = 0
    for i in range(g.size):
        gi = g[i]
        qi = q[i]
        finite = np.isfinite(gi)
        is_live = finite & (gi != np.float32(0.0))
        live += is_live
        under += is_live & (qi == np.float32(0.0))
        over += finite & ~np.isfinite(qi)
        g[i] = qi
    return live, under, over
