"""The casts a training step makes, with the policy's FP8 scaling recipe and the per-tensor state it needs.

Every cast has a *site*, a name such as ``"w:0.weight"``, ``"a:2"`` (output of layer 2) or ``"g:2"`` (gradient
leaving layer 2). Delayed scaling keeps one amax history per site, as Transformer Engine keeps one per tensor.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from odyssey_lessons.formats import FloatFormat, rounder
from odyssey_lessons.formats._quantize import nearest_params
from odyssey_lessons.train._fp8 import (
    DelayedScaling,
    current_scale,
    fake_quantize_scaled,
    fake_quantize_scaled_amax,
    mx_block_dequantize,
    mx_block_quantize,
)
from odyssey_lessons.train._kernels import mx_fake_quantize_blocks
from odyssey_lessons.train._policy import PrecisionPolicy, get_policy

MX_BLOCK = 32


def mx_fake_quantize(x: np.ndarray, fmt: FloatFormat, *, block_size: int = MX_BLOCK) -> np.ndarray:
    """Round ``x`` as MX blocks: consecutive runs of ``block_size`` values (C order, the last axis fastest) share a
    power-of-two scale; the tail is padded with zeros, which never change a block's amax.

    For a ``(N, features)`` activation with ``features`` a multiple of 32 the blocks run along the features, the
    reduction axis of the next matmul, as the OCP MX spec intends.
    """
    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    pad = -flat.size % block_size
    if pad:
        flat = np.concatenate([flat, np.zeros(pad, np.float32)])
    params = nearest_params(fmt, True)
    if params is None:  # no fast path for this element format: quantize, then dequantize
        q, scales = mx_block_quantize(flat, fmt, block_size=block_size)
        out = mx_block_dequantize(q, scales)
    else:  # the same values in one fused pass
        out = np.empty_like(flat)
        mx_fake_quantize_blocks(flat, out, params, block_size, fmt.max_exponent)
    return out[: x.size].reshape(x.shape)


class Caster:
    """Applies a :class:`PrecisionPolicy` to the tensors of a training step.

    ``cast(site, x, fmt, record=True)`` returns ``x`` rounded to ``fmt`` with the policy's scaling recipe:

    - ``"none"``: ``quantize(x, fmt)``; values beyond the range become inf (IEEE formats) or NaN (``fn`` formats);
    - ``"current"``: ``fake_quantize_scaled(x, fmt, current_scale(x, fmt))``;
    - ``"delayed"``: the scale from this site's amax history (1.0 on its first cast), then the history is updated;
    - ``"mx"``: :func:`mx_fake_quantize`.

    A float32 target returns ``x`` itself: nothing to round.
    """

    def __init__(self, policy: str | PrecisionPolicy) -> None:
        self.policy = get_policy(policy)
        self._delayed: dict[str, DelayedScaling] = {}
        self._rounders: dict[str, object] = {}

    def cast(self, site: str, x: np.ndarray, fmt: FloatFormat, *, record: bool = True) -> np.ndarray:
        """``x`` rounded to ``fmt`` with the recipe; ``record=False`` leaves the delayed-scaling history untouched
        (evaluation).

        Raises:
            ValueError: The policy names a recipe that :data:`RECIPES` does not have.
        """
        if fmt.is_float32:
            return x
        recipe = RECIPES.get(self.policy.scaling)
        if recipe is None:  # PrecisionPolicy validates its scaling; a recipe added there must be added to RECIPES
            raise ValueError(
                f"unknown scaling recipe {self.policy.scaling!r} (policy {self.policy.name!r}); known: {tuple(RECIPES)}"
            )
        return recipe(self, site, x, fmt, record)

    def _plain(self, site: str, x: np.ndarray, fmt: FloatFormat, record: bool) -> np.ndarray:
        """``"none"``: ``quantize(x, fmt)`` through a rounder kept per format."""
        r = self._rounders.get(fmt.name)
        if r is None:
            r = self._rounders[fmt.name] = rounder(fmt)
        return r(x)

    def _current(self, site: str, x: np.ndarray, fmt: FloatFormat, record: bool) -> np.ndarray:
        """``"current"``: the scale from this tensor's own amax."""
        return fake_quantize_scaled(x, fmt, current_scale(x, fmt))

    def _delayed_scaling(self, site: str, x: np.ndarray, fmt: FloatFormat, record: bool) -> np.ndarray:
        """``"delayed"``: the scale from this site's amax history (1.0 on its first cast); ``record`` appends this
        tensor's amax to the history."""
        history = self._delayed.get(site)
        if history is None:
            history = self._delayed[site] = DelayedScaling(fmt, history_len=self.policy.amax_history)
        if not record:
            return fake_quantize_scaled(x, fmt, history.scale())
        y, amax = fake_quantize_scaled_amax(np.ascontiguousarray(x, dtype=np.float32), fmt, history.scale())
        history.record_amax(amax)
        return y

    def _mx(self, site: str, x: np.ndarray, fmt: FloatFormat, record: bool) -> np.ndarray:
        """``"mx"``: :func:`mx_fake_quantize`."""
        return mx_fake_quantize(x, fmt)

    def weights(self, site: str, x: np.ndarray) -> np.ndarray:
        return self.cast("w:" + site, x, self.policy.weights)

    def activations(self, site: str, x: np.ndarray) -> np.ndarray:
        return self.cast("a:" + site, x, self.policy.activations)

    def gradients(self, site: str, x: np.ndarray) -> np.ndarray:
        return self.cast("g:" + site, x, self.policy.gradients)

    def scales(self) -> dict[str, float]:
        """The current delayed-scaling scale of every site seen so far (empty for other recipes)."""
        return {site: h.scale() for site, h in self._delayed.items()}


RECIPES: dict[str, Callable[[Caster, str, np.ndarray, FloatFormat, bool], np.ndarray]] = {
    "none": Caster._plain,
    "current": Caster._current,
    "delayed": Caster._delayed_scaling,
    "mx": Caster._mx,
}
"""How :meth:`Caster.cast` applies each scaling recipe of :data:`~odyssey_lessons.train._policy.SCALINGS`:
``recipe(caster, site, x, fmt, record) -> rounded x``."""
