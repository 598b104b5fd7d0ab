"""Optimizers as pure ``init``/``update`` pairs (optax style) with PyTorch's update rules.

``opt = adamw(lr=1e-3, weight_decay=1e-2)``; ``state = opt.init(params)``;
``updates, state = opt.update(grads, state, params)``; ``params = apply_updates(params, updates)``.

The named optimizers (:data:`OPTIMIZERS`) run fused numba kernels; the same rules can be built from small composable
transforms (``chain(scale_by_adam(), add_decayed_weights(wd), scale_by_learning_rate(lr))`` is AdamW). Clipping
(:func:`clip_by_global_norm`, PyTorch's ``clip_grad_norm_``) and L2 / weight decay restricted to some parameters
(:func:`add_decayed_weights` with a ``mask``) are transforms too, defined once here; ``train.fit`` chains them.

Where each concept lives: ``_base`` what an optimizer is (:class:`GradientTransformation`, :func:`apply_updates`,
:func:`state_bytes`); ``_optimizers`` the named optimizers' rules and ``_fused`` how their kernels (``_kernels``) run
over a dict of arrays, into memory from ``_pool``; ``_transforms`` (composition, scalings, weight decay), ``_clipping``
and ``_moments`` the composable transforms; ``_checks`` the checks particular to optimizers; ``_landscapes`` the 2-D
test problems.
"""

from odyssey_lessons.optim._base import (
    GradientTransformation,
    apply_updates,
    lr_at,
    state_bytes,
    state_bytes_per_param,
)
from odyssey_lessons.optim._checks import check_lr
from odyssey_lessons.optim._clipping import clip_by_global_norm, clip_by_value, clip_coefficient, global_norm
from odyssey_lessons.optim._landscapes import LANDSCAPES, Landscape, Trajectory, trajectory
from odyssey_lessons.optim._moments import scale_by_adam, scale_by_lion, scale_by_rms, scale_by_rss, trace
from odyssey_lessons.optim._optimizers import (
    OPTIMIZERS,
    AdagradState,
    AdamState,
    LionState,
    RmspropState,
    SgdState,
    adagrad,
    adam,
    adamw,
    lion,
    rmsprop,
    sgd,
)
from odyssey_lessons.optim._transforms import (
    add_decayed_weights,
    chain,
    scale,
    scale_by_learning_rate,
    scale_by_schedule,
    scale_by_sign,
)

__all__ = [
    "LANDSCAPES",
    "OPTIMIZERS",
    "AdagradState",
    "AdamState",
    "GradientTransformation",
    "Landscape",
    "LionState",
    "RmspropState",
    "SgdState",
    "Trajectory",
    "adagrad",
    "adam",
    "adamw",
    "add_decayed_weights",
    "apply_updates",
    "chain",
    "check_lr",
    "clip_by_global_norm",
    "clip_by_value",
    "clip_coefficient",
    "global_norm",
    "lion",
    "lr_at",
    "rmsprop",
    "scale",
    "scale_by_adam",
    "scale_by_learning_rate",
    "scale_by_lion",
    "scale_by_rms",
    "scale_by_rss",
    "scale_by_schedule",
    "scale_by_sign",
    "sgd",
    "state_bytes",
    "state_bytes_per_param",
    "trace",
    "trajectory",
]
