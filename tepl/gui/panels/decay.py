"""The TCSPC decay panel: the latest decay per channel on a log scale, or a FLIM scan's decay so far, or the
decay of a pixel clicked on the map."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg

from tepl.gui.labels import PER_BIN_LABEL, unit_of
from tepl.gui.logaxis import log_plot
from tepl.gui.panels.base import ViewPanel


class DecayPanel(ViewPanel):
    """A ``decay`` view: the decay histogram of each channel against the delay axis, log counts (labelled at
    decades): the latest one written, or for the lines of a FLIM scan the sum of the lines of the scan so far
    (after the scan, the whole scan's decay)."""

    def __init__(self, plan: Any, view: Any):
        super().__init__(view, log_plot(view.title))
        self.time_ns = np.asarray(plan.axis(view.axes[0]), float)
        self.latest: np.ndarray | None = None  # counts[channel, bin]
        self.lines: dict[int, np.ndarray] | None = None  # FLIM scan lines: counts[channel, x, bin] by line
        self.scan_sum: np.ndarray | None = None  # counts[channel, bin] summed over the lines of the scan so far
        self.scan_lines: set[int] = set()  # the lines in scan_sum
        self.pixel: tuple[int, int] | None = None  # the pixel shown, after a click on the map
        self.curves: list[Any] = []
        unit = unit_of(plan, view.axes[0])
        self._label(f"delay after the laser pulse ({unit})" if unit else "delay after the laser pulse",
                    PER_BIN_LABEL)

    def _take(self, index: Any, value: np.ndarray) -> None:
        value = np.asarray(value, float)
        if value.shape[-1] != self.time_ns.size:
            raise ValueError(f"a decay of {value.shape[-1]} bins on a {self.time_ns.size}-bin axis")
        line = None
        if value.ndim == 3 and isinstance(index, tuple) and len(index) == 2 and isinstance(
                index[1], (int, np.integer)):  # a line of a FLIM scan: kept, for the decay of a pixel
            if self.lines is None:
                self.lines = {}
            line = int(index[1])
            self.lines[line] = value
        if value.ndim > 2:  # decays of several pixels per channel (a line of a FLIM scan): summed per channel
            value = value.reshape(value.shape[0], -1, self.time_ns.size).sum(axis=1)
        value = value.reshape(-1, self.time_ns.size)
        if line is not None:  # the scan's decay so far; a line written again starts the next scan
            if line in self.scan_lines or self.scan_sum is None or self.scan_sum.shape != value.shape:
                self.scan_sum, self.scan_lines = np.zeros_like(value), set()
            self.scan_sum += value
            self.scan_lines.add(line)
            value = self.scan_sum
        self.latest = value.copy()
        if self.pixel is not None:  # a pixel was shown: back to the view's own decay
            self.plot.setTitle(self.view.title)
        self.pixel = None
        self._arrived()

    def show_pixel(self, iy: int, ix: int) -> bool:
        """Show the decays measured at pixel (iy, ix) of the FLIM scan (a click on the map); False when that
        line has not arrived."""
        line = (self.lines or {}).get(int(iy))
        if line is None or not 0 <= ix < line.shape[1]:
            return False
        self.latest = np.asarray(line[:, ix], float)
        self.pixel = (int(iy), int(ix))
        self.plot.setTitle(f"{self.view.title}: pixel ({ix}, {iy})")
        self._arrived()
        self.redraw()
        return True

    def data(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(delay ns, counts[channel, bin]) of the decay shown (None before one arrived)."""
        return self.time_ns, None if self.latest is None else self.latest.copy()

    def _draw(self) -> None:
        while len(self.curves) < self.latest.shape[0]:
            self.curves.append(self.plot.plot(pen=pg.intColor(len(self.curves), hues=6)))
        for curve, counts in zip(self.curves, self.latest, strict=False):
            curve.setData(self.time_ns, np.where(counts > 0, counts, np.nan), connect="finite")
