"""Fused numba kernels of the optimizers: one pass over a flat float32 parameter array per update.

Each kernel reads the parameters ``p``, the gradients ``g`` and the old state, and writes the new state and the update
``u`` (what :func:`~odyssey_lessons.optim.apply_updates` adds to ``p``) into separate output arrays, so the caller's
state is never modified -- or, with ``apply=True`` (the fused in-place ``step``), adds the update to ``p`` itself
(``p[i] = p[i] + u_i``, the same float32 sum ``apply_updates`` forms) and receives the old state arrays as the new
ones: one pass over memory per array, as ``torch.optim`` makes. Every element is read before it is written, so
aliasing the old and new state is safe.

Hyperparameters reach a kernel as one small float64 vector ``h``, built by its optimizer in
:mod:`odyssey_lessons.optim._optimizers` once per step, at the indices named below (``ADAM_*`` for
:func:`adam_kernel`, ...; flags are 0 or 1) -- as the formats kernels take a format. Scalars that depend only on the
step (bias corrections, decayed learning rates) are computed there, once, in double precision.

Arithmetic is float32 throughout: a kernel converts each entry of ``h`` to ``np.float32`` once, before its loop, and
constants are written ``np.float32(...)`` (a Python float would silently promote the loop to float64 and halve its
SIMD width). Rounding a float64 entry to float32 in the kernel gives the float32 the caller would have passed, so the
vector changes no result.

``g_i`` below is the gradient after L2 weight decay, ``g + wd * p`` (only when ``wd != 0``, as PyTorch does).

One kernel per optimizer, each with its whole rule in one loop: that is deliberate. A kernel is one pass over memory
only if every state array is read and written in the same loop, and numba compiles one loop body per function, so the
rules are not assembled from per-transform kernels (that is what the plain-numpy transforms in ``_transforms`` do, for
reading). What the loops share is written once, as helpers numba inlines before compiling (``inline="always"``): the
L2 term (:func:`_l2`) and the store of the update (:func:`_emit`). What remains alike -- reading ``h`` into float32
scalars, the ``prange`` loop -- is each kernel's own list of hyperparameters.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_ZERO = np.float32(0.0)
_ONE = np.float32(1.0)

# sgd_kernel and sgd_momentum_kernel
SGD_LR = 0  # learning rate at this step
SGD_WD = 1  # L2 weight decay
SGD_MOMENTUM = 2  # momentum factor (sgd_momentum_kernel)
SGD_NESTEROV = 3  # 1: Nesterov momentum (sgd_momentum_kernel)
SGD_N = 4

# adam_kernel
ADAM_C1 = 0  # 1 - b1, formed in double precision
ADAM_B2 = 1
ADAM_C2 = 2  # 1 - b2, formed in double precision
ADAM_STEP_SIZE = 3  # lr / (1 - b1**t)
ADAM_BC2_SQRT = 4  # sqrt(1 - b2**t)
ADAM_EPS = 5
ADAM_WD = 6  # L2 weight decay (Adam); 0 for AdamW
ADAM_DECOUPLED_WD = 7  # lr * weight_decay (AdamW); 0 for Adam
ADAM_N = 8

# adagrad_kernel
ADAGRAD_CLR = 0  # decayed learning rate lr / (1 + (t - 1) lr_decay)
ADAGRAD_WD = 1
ADAGRAD_EPS = 2
ADAGRAD_N = 3

# rmsprop_kernel
RMSPROP_LR = 0
RMSPROP_ALPHA = 1
RMSPROP_C = 2  # 1 - alpha, formed in double precision
RMSPROP_EPS = 3
RMSPROP_WD = 4
RMSPROP_MOMENTUM = 5
RMSPROP_CENTERED = 6  # 1: centered
RMSPROP_N = 7

# lion_kernel
LION_LR = 0
LION_B1 = 1
LION_B2 = 2
LION_WD = 3  # decoupled weight decay
LION_N = 4


@njit(cache=True, inline="always")
def _l2(g, p, i, wd):
    """The gradient with L2 weight decay, ``g_i + wd p_i``; ``g_i`` itself when ``wd = 0``, without reading ``p``."""
    gi = g[i]
    if wd != _ZERO:
        gi += wd * p[i]
    return gi


@njit(cache=True, inline="always")
def _emit(p, u, i, ui, apply):
    """The update ``ui`` added to ``p_i`` (``apply``: the fused step) or stored as ``u_i``."""
    if apply:
        p[i] = p[i] + ui
    else:
        u[i] = ui


@njit(cache=True, parallel=True)
def add_kernel(p, u, out):
    """``out = p + u`` (apply_updates)."""
    for i in prange(p.size):
        out[i] = p[i] + u[i]


@njit(cache=True, parallel=True)
def sgd_kernel(p, g, u, h, apply):
    """Plain SGD: ``u = -lr * (g + wd p)`` (``h``: ``SGD_LR``, ``SGD_WD``)."""
    lr = np.float32(h[SGD_LR])
    wd = np.float32(h[SGD_WD])
    for i in prange(p.size):
        gi = _l2(g, p, i, wd)
        ui = -lr * gi
        _emit(p, u, i, ui, apply)


@njit(cache=True, parallel=True)
def sgd_momentum_kernel(p, g, b, b_new, u, h, apply):
    """SGD with momentum (``torch.optim.SGD``, dampening 0): ``b' = momentum b + g`` (``b = 0`` before the first
    step, so ``b' = g`` then); ``u = -lr b'``, or with Nesterov ``u = -lr (g + momentum b')`` (``h``: ``SGD_*``)."""
    lr = np.float32(h[SGD_LR])
    wd = np.float32(h[SGD_WD])
    momentum = np.float32(h[SGD_MOMENTUM])
    nesterov = h[SGD_NESTEROV] != 0.0
    for i in prange(p.size):
        gi = _l2(g, p, i, wd)
        bi = momentum * b[i] + gi
        b_new[i] = bi
        ui = -lr * (gi + momentum * bi) if nesterov else -lr * bi
        _emit(p, u, i, ui, apply)


@njit(cache=True, parallel=True)
def adam_kernel(p, g, m, v, m_new, v_new, u, h, apply):
    """Adam/AdamW (``torch.optim.Adam``/``AdamW``, single-tensor path; ``h``: ``ADAM_*``).

    ``m' = m + (1 - b1)(g - m)`` (torch's lerp), ``v' = b2 v + (1 - b2) g^2``,
    ``u = -step_size m' / (sqrt(v') / bc2_sqrt + eps) - decoupled_wd p`` with ``step_size = lr / (1 - b1^t)``,
    ``bc2_sqrt = sqrt(1 - b2^t)`` and ``decoupled_wd = lr * weight_decay`` for AdamW (0 for Adam, whose weight decay
    is the L2 ``wd``). ``c1 = 1 - b1`` and ``c2 = 1 - b2`` come in precomputed: PyTorch forms them in double precision
    from the Python betas, and ``1 - float32(0.999)`` would differ from its ``float32(1 - 0.999)`` by 1.3e-5.
    """
    c1 = np.float32(h[ADAM_C1])
    b2 = np.float32(h[ADAM_B2])
    c2 = np.float32(h[ADAM_C2])
    step_size = np.float32(h[ADAM_STEP_SIZE])
    bc2_sqrt = np.float32(h[ADAM_BC2_SQRT])
    eps = np.float32(h[ADAM_EPS])
    wd = np.float32(h[ADAM_WD])
    decoupled_wd = np.float32(h[ADAM_DECOUPLED_WD])
    for i in prange(p.size):
        gi = _l2(g, p, i, wd)
        mi = m[i] + c1 * (gi - m[i])
        vi = b2 * v[i] + c2 * gi * gi
        m_new[i] = mi
        v_new[i] = vi
        ui = -step_size * mi / (np.sqrt(vi) / bc2_sqrt + eps)
        if decoupled_wd != _ZERO:
            ui -= decoupled_wd * p[i]
        _emit(p, u, i, ui, apply)


@njit(cache=True, parallel=True)
def adagrad_kernel(p, g, s, s_new, u, h, apply):
    """Adagrad (``torch.optim.Adagrad``; ``h``: ``ADAGRAD_*``): ``s' = s + g^2``, ``u = -clr g / (sqrt(s') + eps)``
    with the decayed rate ``clr = lr / (1 + (t - 1) lr_decay)``."""
    clr = np.float32(h[ADAGRAD_CLR])
    wd = np.float32(h[ADAGRAD_WD])
    eps = np.float32(h[ADAGRAD_EPS])
    for i in prange(p.size):
        gi = _l2(g, p, i, wd)
        si = s[i] + gi * gi
        s_new[i] = si
        ui = -clr * gi / (np.sqrt(si) + eps)
        _emit(p, u, i, ui, apply)


@njit(cache=True, parallel=True)
def rmsprop_kernel(p, g, sq, ga, b, sq_new, ga_new, b_new, u, h, apply):
    """RMSprop (``torch.optim.RMSprop``; ``h``: ``RMSPROP_*``): ``sq' = alpha sq + (1 - alpha) g^2``; centered:
    ``ga' = ga + (1 - alpha) (g - ga)`` and ``avg = sqrt(sq' - ga'^2) + eps``, else ``avg = sqrt(sq') + eps``; with
    momentum ``b' = momentum b + g / avg`` and ``u = -lr b'``, else ``u = -lr g / avg``.

    ``ga``/``ga_new`` (not centered) and ``b``/``b_new`` (no momentum) may be empty: they are then never touched.
    ``c = 1 - alpha`` comes in precomputed in double precision, as PyTorch forms it.
    """
    lr = np.float32(h[RMSPROP_LR])
    alpha = np.float32(h[RMSPROP_ALPHA])
    c = np.float32(h[RMSPROP_C])
    eps = np.float32(h[RMSPROP_EPS])
    wd = np.float32(h[RMSPROP_WD])
    momentum = np.float32(h[RMSPROP_MOMENTUM])
    centered = h[RMSPROP_CENTERED] != 0.0
    for i in prange(p.size):
        gi = _l2(g, p, i, wd)
        sqi = alpha * sq[i] + c * gi * gi
        sq_new[i] = sqi
        if centered:
            gai = ga[i] + c * (gi - ga[i])
            ga_new[i] = gai
            avg = np.sqrt(sqi - gai * gai) + eps
        else:
            avg = np.sqrt(sqi) + eps
        if momentum != _ZERO:
            bi = momentum * b[i] + gi / avg
            b_new[i] = bi
            ui = -lr * bi
        else:
            ui = -lr * gi / avg
        _emit(p, u, i, ui, apply)


@njit(cache=True, parallel=True)
def lion_kernel(p, g, m, m_new, u, h, apply):
    """Lion (Chen et al. 2023; ``h``: ``LION_*``): ``c = b1 m + (1 - b1) g``, ``u = -lr (sign(c) + wd p)``,
    ``m' = b2 m + (1 - b2) g``. ``sign(0) = 0``; ``1 - b1`` and ``1 - b2`` are formed in float32."""
    lr = np.float32(h[LION_LR])
    b1 = np.float32(h[LION_B1])
    b2 = np.float32(h[LION_B2])
    wd = np.float32(h[LION_WD])
    c1 = _ONE - b1
    c2 = _ONE - b2
    for i in prange(p.size):
        gi = g[i]
        c = b1 * m[i] + c1 * gi
        s = _ONE if c > _ZERO else (-_ONE if c < _ZERO else c)  # c itself for 0 and NaN
        m_new[i] = b2 * m[i] + c2 * gi
        if wd != _ZERO:
            s += wd * p[i]
        ui = -lr * s
        _emit(p, u, i, ui, apply)
