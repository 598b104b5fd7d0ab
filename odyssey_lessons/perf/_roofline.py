"""The roofline model as data: attainable FLOP/s = min(peak FLOP/s, bandwidth × arithmetic intensity).

A kernel doing ``I`` FLOPs per byte moved cannot run faster than ``bandwidth * I`` (the memory roof) nor faster than
the peak (the compute roof). The two meet at the ridge intensity ``peak / bandwidth``: left of it a kernel is
memory-bound, right of it compute-bound. Each profiled layer becomes a point at its intensity and achieved FLOP/s;
the gap to the roof above it is what better code could win.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from odyssey_lessons._validate import check_positive
from odyssey_lessons.perf._profiler import Profile, ProfileRow


@dataclass(frozen=True)
class RooflinePoint:
    """One kernel: ``intensity`` (FLOP/byte), ``achieved`` and ``attainable`` FLOP/s, and ``bound`` ("memory" left
    of the ridge, "compute" right of it)."""

    name: str
    intensity: float
    achieved: float
    attainable: float
    bound: str

    @property
    def fraction_of_roof(self) -> float:
        """``achieved / attainable``."""
        return self.achieved / self.attainable


@dataclass(frozen=True)
class Roofline:
    """``peak_flops`` (FLOP/s), ``bandwidth`` (bytes/s), ``ridge = peak_flops / bandwidth`` (FLOP/byte) and the
    points."""

    peak_flops: float
    bandwidth: float
    ridge: float
    points: tuple[RooflinePoint, ...]

    def attainable(self, intensity: float) -> float:
        """``min(peak_flops, bandwidth * intensity)``."""
        return min(self.peak_flops, self.bandwidth * intensity)


def roofline(
    rows_or_profile: Profile | Iterable[ProfileRow | dict], *, peak_flops: float, bandwidth: float
) -> Roofline:
    """Place each profiled kernel under the roofline of a machine.

    Args:
        rows_or_profile: A :class:`Profile`, its rows, or dicts with ``name``, ``flops``, ``bytes`` and ``seconds``.
            Rows that do no arithmetic, move no bytes or took no time (Flatten) have no point and are skipped.
        peak_flops: Compute roof in FLOP/s, e.g. ``perf.peak_gflops(threads="single") * 1e9`` for a profile run
            with ``threads="single"`` (measure the roof the way the profile ran).
        bandwidth: Memory roof in bytes/s, e.g. ``perf.stream_bandwidth()["triad"] * 1e9`` (one core).

    Raises:
        ValueError: A non-positive or non-finite roof, or a dict row missing a key.
        TypeError: Rows of another type.
    """
    peak = check_positive("peak_flops", peak_flops)
    bw = check_positive("bandwidth", bandwidth)
    rows = rows_or_profile.rows if isinstance(rows_or_profile, Profile) else rows_or_profile
    ridge = peak / bw
    points = []
    for row in rows:
        if isinstance(row, ProfileRow):
            name, flops, moved, seconds = row.name, row.flops, row.bytes, row.self_s
        elif isinstance(row, dict):
            missing = {"name", "flops", "bytes", "seconds"} - row.keys()
            if missing:
                raise ValueError(f"a row dict needs the keys name, flops, bytes, seconds; missing {sorted(missing)}")
            name, flops, moved, seconds = row["name"], row["flops"], row["bytes"], row["seconds"]
        else:
            raise TypeError(f"rows must be ProfileRow or dict, got {type(row).__name__}")
        if not (flops > 0 and moved > 0 and seconds > 0):
            continue
        intensity = flops / moved
        points.append(
            RooflinePoint(
                name=str(name),
                intensity=intensity,
                achieved=flops / seconds,
                attainable=min(peak, bw * intensity),
                bound="memory" if intensity < ridge else "compute",
            )
        )
    return Roofline(peak, bw, ridge, tuple(points))
