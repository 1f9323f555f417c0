"""Open-loop moves of the tip with picomotors: a step model, and the coarse search pattern of ``align-tip``.

A picomotor counts steps and knows no position, and steps shorter one way than the other. A ``StepModel``
holds each axis's forward and backward step sizes (nm) and turns displacements into steps and back; every
position is an estimate from it. Lengths nm, positions relative to where the tip started.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tepl.analysis.focus_scan import StepSizes
from tepl.limits import Range

AXES = ("x", "y")


@dataclass
class StepModel:
    """Forward and backward step sizes (nm) of each picomotor axis: how many steps a displacement takes, and
    how far a number of steps goes."""

    forward_nm: dict[str, float]
    backward_nm: dict[str, float]

    def steps_for(self, axis: str, displacement_nm: float) -> int:
        """Whole steps (signed; positive is forward) that move ``axis`` by about ``displacement_nm``."""
        size = self.forward_nm[axis] if displacement_nm > 0 else self.backward_nm[axis]
        return int(math.copysign(round(abs(displacement_nm) / size), displacement_nm))

    def travel_nm(self, axis: str, steps: int) -> float:
        """Estimated displacement (nm) of ``steps`` signed steps on ``axis``."""
        return steps * (self.forward_nm[axis] if steps > 0 else self.backward_nm[axis])

    def set(self, axis: str, sizes: StepSizes) -> None:
        """Use measured step sizes for ``axis`` from now on."""
        self.forward_nm[axis] = sizes.forward_nm
        self.backward_nm[axis] = sizes.backward_nm


def travel_range(max_travel_um: float) -> Range:
    """The apex's allowed excursion from where it started, per axis (µm)."""
    return Range(-max_travel_um, max_travel_um, "µm", "align-tip max_travel_um")


def search_points_nm(radius_nm: float, pitch_nm: float) -> tuple[np.ndarray, np.ndarray]:
    """The coarse search: probe positions (n, 2) nm relative to the start, and each one's row number.

    Rows ``pitch_nm`` apart cover the disc of ``radius_nm``, each one pitch longer at both ends than its
    chord, in order of their distance from the start: the row through the start, then one above and one below,
    two above and two below, and so on; each row runs the other way from the one before (a snake). A focus near
    the start is found early, before much travel has built up the error a wrong or drifting step size makes:
    every x move back and forth along a row adds the forward/backward size error times its length, so a row far
    down the sequence can sit microns away from where the step model puts it. The y jumps between the rows
    grow by one pitch each, back and forth, a smaller error over the few rows a search needs."""
    n_rows = int(math.ceil(radius_nm / pitch_nm))
    order = [0] + [row for k in range(1, n_rows + 1) for row in (k, -k)]
    points: list[tuple[float, float]] = []
    rows: list[int] = []
    for k, row in enumerate(order):
        y = row * pitch_nm
        half = math.sqrt(max(radius_nm**2 - y**2, 0.0)) + pitch_nm
        n_half = int(math.ceil(half / pitch_nm - 1e-9))
        xs = np.arange(-n_half, n_half + 1) * pitch_nm
        if k % 2:
            xs = xs[::-1]
        points += [(float(x), y) for x in xs]
        rows += [row] * xs.size
    return np.array(points), np.array(rows)


def search_counts(points_nm: np.ndarray, model: StepModel) -> np.ndarray:
    """The step counters (n, 2), relative to the start, at which the search probes ``points_nm``: each move
    takes the steps ``model`` says reach the next point from where it estimates the tip is."""
    estimate = {axis: 0.0 for axis in AXES}
    count = {axis: 0 for axis in AXES}
    counts = np.zeros((len(points_nm), 2), dtype=np.int64)
    for i, point in enumerate(points_nm):
        for a, axis in enumerate(AXES):
            steps = model.steps_for(axis, point[a] - estimate[axis])
            count[axis] += steps
            estimate[axis] += model.travel_nm(axis, steps)
            counts[i, a] = count[axis]
    return counts
