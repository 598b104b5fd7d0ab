"""Loss scaling: multiply the loss by ``S`` so small fp16 gradients stay above the underflow threshold, then divide the
gradients by ``S`` before the optimizer sees them.

:class:`GradScaler` follows ``torch.amp.GradScaler`` (dynamic scaling); :class:`StaticScaler` keeps one scale and
:class:`NoScaler` does nothing. All three have the same methods, so a training loop treats them alike::

    loss_scaled = scaler.scale(loss)          # backward from loss_scaled gives gradients times S
    found_inf = scaler.unscale(grads)         # grads /= S in place; any inf/NaN?
    if not found_inf: optimizer step          # a step with inf/NaN gradients is skipped ...
    scaler.update(found_inf)                  # ... and the dynamic scale backs off
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import numpy as np

from odyssey_lessons._validate import check_bool
from odyssey_lessons.train._grads import Grads, check_grads, found_nonfinite


@runtime_checkable
class LossScaler(Protocol):
    """The interface shared by :class:`GradScaler`, :class:`StaticScaler` and :class:`NoScaler`."""

    def get_scale(self) -> float: ...
    def scale(self, loss: float) -> float: ...
    def unscale(self, grads: Grads) -> bool: ...
    def update(self, found_inf: bool) -> None: ...
    def state_dict(self) -> dict[str, float | int]: ...


def _positive_finite(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be positive and finite, got {name}={value!r}")
    return float(value)


def _check_loss(loss: object) -> float:
    if isinstance(loss, np.ndarray) and loss.size == 1:
        loss = loss.reshape(()).item()
    if isinstance(loss, bool) or not isinstance(loss, int | float | np.integer | np.floating):
        raise TypeError(f"loss must be a real number (a scalar), got {type(loss).__name__} {loss!r}")
    return float(loss)


def _unscale(grads: Grads, scale: float) -> bool:
    """``g *= 1/scale`` in place for every gradient; True when any value (before unscaling) is inf/NaN.

    As PyTorch does, the reciprocal is taken in float64 and rounded once to float32, and each gradient is multiplied
    by that float32 factor in its own dtype (float32 in this course, where a power-of-two scale makes it exact).
    """
    grads = check_grads(grads, writable=True)
    found_inf = found_nonfinite(grads)
    inv = np.float32(1.0 / scale)
    if inv != 1:
        for g in grads.values():
            np.multiply(g, inv.astype(g.dtype), out=g)
    return found_inf


class GradScaler:
    """Dynamic loss scaling with the semantics of ``torch.amp.GradScaler``.

    After each step, ``update(found_inf)`` does what PyTorch's ``_amp_update_scale_`` does::

        if found_inf:  S = S * backoff_factor;  tracker = 0
        else:          tracker = tracker + 1
                       if tracker == growth_interval:  S = S * growth_factor (kept only if finite);  tracker = 0

    The scale is held in float32, as PyTorch holds it. With ``enabled=False`` the scaler acts like :class:`NoScaler`.

    Args:
        init_scale: Initial scale ``S`` (PyTorch's default ``2**16``), positive and finite.
        growth_factor: Factor applied after ``growth_interval`` consecutive clean steps, > 1.
        backoff_factor: Factor applied on a step with inf/NaN gradients, in (0, 1).
        growth_interval: Number of consecutive clean steps before the scale grows, a positive int.
        enabled: ``False`` turns scaling off (scale 1, ``update`` does nothing).

    Raises:
        ValueError: An argument is out of range.
        TypeError: An argument has the wrong type.
    """

    def __init__(
        self,
        init_scale: float = 65536.0,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        init_scale = _positive_finite("init_scale", init_scale)
        growth_factor = _positive_finite("growth_factor", growth_factor)
        backoff_factor = _positive_finite("backoff_factor", backoff_factor)
        if growth_factor <= 1:
            raise ValueError(f"growth_factor must be > 1, got growth_factor={growth_factor!r}")
        if backoff_factor >= 1:
            raise ValueError(f"backoff_factor must be in (0, 1), got backoff_factor={backoff_factor!r}")
        if isinstance(growth_interval, bool) or not isinstance(growth_interval, int | np.integer):
            raise TypeError(f"growth_interval must be an int, got {type(growth_interval).__name__} {growth_interval!r}")
        if growth_interval < 1:
            raise ValueError(f"growth_interval must be a positive int, got growth_interval={growth_interval}")
        enabled = check_bool("enabled", enabled)
        if init_scale > float(np.finfo(np.float32).max):
            raise ValueError(f"init_scale must fit in float32, got init_scale={init_scale!r}")
        self.enabled = enabled
        self.growth_factor = growth_factor
        self.backoff_factor = backoff_factor
        self.growth_interval = int(growth_interval)
        self._scale = np.float32(init_scale)
        self._growth_tracker = 0

    def get_scale(self) -> float:
        """The current scale ``S`` (1.0 when disabled)."""
        return float(self._scale) if self.enabled else 1.0

    def scale(self, loss: float) -> float:
        """``loss * S``: backpropagating from this gives gradients multiplied by ``S``."""
        return _check_loss(loss) * self.get_scale()

    def unscale(self, grads: Grads) -> bool:
        """Divide every gradient by ``S`` in place (multiply by ``float32(1/S)``); return whether any is inf/NaN.

        Unscale before clipping, so ``max_norm`` refers to the true gradients.

        Raises:
            TypeError: ``grads`` is not a dict of floating numpy arrays.
            ValueError: An array is read-only.
        """
        return _unscale(grads, self.get_scale())

    def update(self, found_inf: bool) -> None:
        """Back off on overflow, grow after ``growth_interval`` clean steps (class docstring). No-op when disabled."""
        found_inf = check_bool("found_inf", found_inf)
        if not self.enabled:
            return
        if found_inf:
            self._scale = np.float32(self._scale * np.float32(self.backoff_factor))
            self._growth_tracker = 0
            return
        self._growth_tracker += 1
        if self._growth_tracker == self.growth_interval:
            with np.errstate(over="ignore"):  # an inf scale is discarded just below, as PyTorch does
                grown = np.float32(self._scale * np.float32(self.growth_factor))
            if np.isfinite(grown):
                self._scale = grown
            self._growth_tracker = 0

    def state_dict(self) -> dict[str, float | int]:
        """The scaler's state, with PyTorch's keys (empty when disabled, as in PyTorch)."""
        if not self.enabled:
            return {}
        return {
            "scale": float(self._scale),
            "growth_factor": self.growth_factor,
            "backoff_factor": self.backoff_factor,
            "growth_interval": self.growth_interval,
            "_growth_tracker": self._growth_tracker,
        }

    def load_state_dict(self, state: dict[str, float | int]) -> None:
        """Restore a state written by :meth:`state_dict`.

        Raises:
            ValueError: ``state`` is empty or misses a key.
        """
        missing = {"scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"} - set(state)
        if missing:
            raise ValueError(f"state is missing keys {sorted(missing)}; was it saved from a disabled scaler?")
        fresh = GradScaler(state["scale"], state["growth_factor"], state["backoff_factor"], state["growth_interval"])
        self.growth_factor, self.backoff_factor = fresh.growth_factor, fresh.backoff_factor
        self.growth_interval, self._scale = fresh.growth_interval, fresh._scale
        self._growth_tracker = int(state["_growth_tracker"])

    def __repr__(self) -> str:
        return (
            f"GradScaler(scale={self.get_scale():g}, growth_factor={self.growth_factor}, "
            f"backoff_factor={self.backoff_factor}, growth_interval={self.growth_interval}, enabled={self.enabled})"
        )


class StaticScaler:
    """A fixed loss scale ``S`` (what Micikevicius et al. 2018 used before dynamic scaling); ``update`` does nothing.

    Args:
        scale: The loss scale, positive and finite (a power of two keeps unscaling exact).

    Raises:
        ValueError: ``scale`` is not positive and finite.
    """

    def __init__(self, scale: float) -> None:
        self._scale = _positive_finite("scale", scale)

    def get_scale(self) -> float:
        """The fixed scale ``S``."""
        return self._scale

    def scale(self, loss: float) -> float:
        """``loss * S``."""
        return _check_loss(loss) * self._scale

    def unscale(self, grads: Grads) -> bool:
        """Divide every gradient by ``S`` in place (float32 factor, as :meth:`GradScaler.unscale`); any inf/NaN?"""
        return _unscale(grads, self._scale)

    def update(self, found_inf: bool) -> None:
        """Nothing to adapt: the scale is fixed."""

    def state_dict(self) -> dict[str, float | int]:
        """``{"scale": S}``."""
        return {"scale": self._scale}

    def __repr__(self) -> str:
        return f"StaticScaler(scale={self._scale:g})"


class NoScaler:
    """No loss scaling (scale 1): the fp32 and bf16 baseline. ``unscale`` only reports whether a value is inf/NaN."""

    def get_scale(self) -> float:
        """Always 1.0."""
        return 1.0

    def scale(self, loss: float) -> float:
        """``loss`` unchanged (as a float)."""
        return _check_loss(loss)

    def unscale(self, grads: Grads) -> bool:
        """Leave the gradients as they are; return whether any value is inf/NaN."""
        return _unscale(grads, 1.0)

    def update(self, found_inf: bool) -> None:
        """Nothing to adapt."""

    def state_dict(self) -> dict[str, float | int]:
        """An empty dict."""
        return {}

    def __repr__(self) -> str:
        return "NoScaler()"
