"""A progress bar for :func:`~odyssey_lessons.train.fit`: presentation, kept apart from the loop.

``fit`` reports :class:`FitEvent` records to whatever callable its ``progress`` argument holds and draws nothing
itself; a notebook that wants a bar passes ``progress=ProgressBar()``, a test can pass ``events.append``.
"""

from __future__ import annotations

from tqdm.auto import tqdm

from odyssey_lessons._validate import check_nonnegative
from odyssey_lessons.train._config import FitEvent


class ProgressBar:
    """A tqdm bar over a run's steps, with the validation accuracy and the skipped steps after every epoch.

    One instance can follow any number of runs, one after the other: each ``"start"`` opens a bar, each ``"end"``
    closes it.

    Args:
        desc: The bar's label (default: ``"fit <policy>"``).
        delay: Seconds before the bar appears, so short runs stay quiet (the course shows a bar for anything a
            learner waits on for more than a second).
    """

    def __init__(self, desc: str | None = None, *, delay: float = 1.0) -> None:
        if desc is not None and not isinstance(desc, str):
            raise TypeError(f"desc must be a str or None, got desc={desc!r}")
        self.desc = desc
        self.delay = check_nonnegative("delay", delay)
        self._bar = None

    def __call__(self, event: FitEvent) -> None:
        if event.kind == "start":
            self.close()
            desc = self.desc if self.desc is not None else f"fit {event.policy}"
            self._bar = tqdm(total=event.total_steps, desc=desc, delay=self.delay)
        elif self._bar is None:
            return
        elif event.kind == "step":
            self._bar.update()
        elif event.kind == "epoch":
            self._bar.set_postfix(val_acc=f"{event.metrics['val_acc']:.3f}", skipped=int(event.metrics["skipped"]))
        elif event.kind == "end":
            self.close()

    def close(self) -> None:
        """Close the open bar, if any."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __repr__(self) -> str:
        return f"ProgressBar(desc={self.desc!r}, delay={self.delay})"
