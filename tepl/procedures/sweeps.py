"""Sweep values as data: the one place a scan grid, a gap ramp and a scan order are computed."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from tepl.limits import LimitError
from tepl.procedures.params import Parameter


def scan_area_parameters(size_um: float, pixel_um: float, pixel_low_um: float, pixel_high_um: float,
                         order: str) -> tuple[Parameter, ...]:
    """The parameters of an XY scan (stage µm): centre, size and pixel pitch, and the visiting order."""
    return (
        Parameter("center_x_um", 50.0, "µm", 0.0, 100.0, doc="scan centre, stage x"),
        Parameter("center_y_um", 50.0, "µm", 0.0, 100.0, doc="scan centre, stage y"),
        Parameter("size_x_um", size_um, "µm", 0.0, 100.0, doc="scan width"),
        Parameter("size_y_um", size_um, "µm", 0.0, 100.0, doc="scan height"),
        Parameter("pixel_um", pixel_um, "µm", pixel_low_um, pixel_high_um, doc="pixel pitch"),
        Parameter("order", order, kind=str, choices=("raster", "snake"),
                  doc="raster: every line left to right; snake: alternate"),
    )


def centred_grid(center: float, size: float, step: float) -> np.ndarray:
    """Pixel centres of a line of ``size`` centred on ``center`` at pitch ``step`` (all in one unit); the
    number of pixels is ``round(size / step) + 1``."""
    n = int(round(size / step)) + 1
    return center + (np.arange(n) - (n - 1) / 2.0) * step


def gap_steps(start: float, stop: float, step: float) -> np.ndarray:
    """Values from ``start`` towards ``stop`` in steps of exactly ``step``, ending on ``stop``."""
    direction = 1.0 if stop >= start else -1.0
    n = int(np.floor(abs(stop - start) / step + 1e-9))
    values = start + direction * step * np.arange(n + 1)
    if abs(values[-1] - stop) > 1e-9:
        values = np.append(values, stop)
    return values


def scan_order(n_x: int, n_y: int, order: str) -> Iterator[tuple[int, list[int]]]:
    """(row, columns in visiting order) for every row: ``raster`` every row left to right, ``snake``
    alternate rows reversed."""
    for iy in range(n_y):
        cols = list(range(n_x))
        if order == "snake" and iy % 2 == 1:
            cols.reverse()
        yield iy, cols


MAX_POINTS = 20_000_000
"""The most points one run may visit (a 4472 x 4472 raster); a larger grid is refused before it is made."""


def grid_points(x: np.ndarray, y: np.ndarray, order: str, scans: int = 1) -> dict[str, np.ndarray]:
    """Columns ``scan``, ``iy``, ``ix``, ``x``, ``y`` of every pixel of ``scans`` scans in visiting order."""
    n = x.size * y.size * scans
    if n > MAX_POINTS:
        raise LimitError(f"{x.size} x {y.size} pixels x {scans} scans = {n:,} points, more than one run visits "
                         f"({MAX_POINTS:,}): use a larger pixel or a smaller area")
    iy, ix = [], []
    for row, cols in scan_order(x.size, y.size, order):
        iy += [row] * len(cols)
        ix += cols
    iy_arr, ix_arr = np.tile(np.asarray(iy, np.int32), scans), np.tile(np.asarray(ix, np.int32), scans)
    scan = np.repeat(np.arange(scans, dtype=np.int32), x.size * y.size)
    return {"scan": scan, "iy": iy_arr, "ix": ix_arr, "x": x[ix_arr], "y": y[iy_arr]}
