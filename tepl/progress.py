"""The command line's progress bar: a run's events shown with tqdm (steps done, elapsed wall time, rate) and
the time still to go by the run's plan."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from tqdm import tqdm

SIMULATED_NOTE = ("the station is simulated: the plan's times are the twin's simulated time; the run itself takes "
                  "the wall-clock time it needs to compute")


def plan_time_left_s(estimate_s: float, done: int, total: int) -> float:
    """Time still to go by the plan (s): its estimate for the whole run times the fraction of steps not done."""
    if total <= 0:
        return 0.0
    return max(0.0, estimate_s * (1.0 - min(done, total) / total))


class ProgressBar:
    """A listener for ``run(..., listeners=[...])``: one tqdm bar per run (steps done of the total, elapsed wall
    time, steps per second) with the time left by the plan's estimate (``estimate_s``, s; in the twin's
    simulated time when ``simulated``); log lines and the run's end are written above the bar."""

    def __init__(self, estimate_s: float | None = None, simulated: bool = False, stream: TextIO | None = None):
        self.estimate_s = estimate_s
        self.simulated = simulated
        self.stream = stream if stream is not None else sys.stderr
        self.bar: tqdm | None = None
        if simulated:
            self._write(SIMULATED_NOTE)

    def _write(self, text: str) -> None:
        tqdm.write(text, file=self.stream)

    def _plan_text(self, done: int, total: int) -> str:
        if self.estimate_s is None:
            return ""
        left = plan_time_left_s(self.estimate_s, done, total)
        clock = "simulated " if self.simulated else ""
        return f"plan: {left:.0f} s of {self.estimate_s:.0f} s {clock}time left"

    def __call__(self, event: Any) -> None:
        if event.kind == "progress" and event.total:
            if self.bar is None or self.bar.total != event.total:
                self.close()
                self.bar = tqdm(total=event.total, file=self.stream, unit=" step", dynamic_ncols=True,
                                bar_format="{desc}{percentage:3.0f}%|{bar:20}| {n_fmt}/{total_fmt} "
                                           "[{elapsed} elapsed, {rate_fmt}{postfix}]")
            self.bar.set_description_str(f"{event.message[:30]} " if event.message else "", refresh=False)
            self.bar.set_postfix_str(self._plan_text(event.done, event.total), refresh=False)
            self.bar.update(event.done - self.bar.n)
            if event.done >= event.total:
                self.close()
        elif event.kind == "log":
            self._write(event.message)
        elif event.kind == "status" and event.message not in ("paused", "resumed"):
            self.close()
            self._write(f"run {event.message}: {event.data.get('path', '')}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
