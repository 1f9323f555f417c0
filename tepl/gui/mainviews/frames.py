"""The main view of a kinetic series: one row of the map per frame (wavelength across, frame number up), the
newest ``MAX_FRAME_ROWS`` frames kept; the curve view shows the latest spectrum."""

from __future__ import annotations

from typing import Any

import numpy as np

from tepl.gui.labels import COUNTS_LABEL
from tepl.gui.mainviews.base import MainView, is_position, last_spectrum

MAX_FRAME_ROWS = 2000  # a kinetic series' map keeps this many of the newest frames


class FramesView(MainView):
    """A ``frames`` view: spectra[frame, pixel] as they arrive; once the rows are full the oldest frames go,
    leaving room for half the rows. ``first_frame`` is the frame number of the first row kept."""

    def __init__(self, widgets: Any, plan: Any, view: Any, **kwargs: Any):
        super().__init__(widgets, **kwargs)
        w = self.w
        self.handlers = {view.dataset: [self.take_frame]}
        self.rows = max(1, min(int(plan.dataset(view.dataset).shape[0]), MAX_FRAME_ROWS))
        self.map = np.empty(0)
        self.rows_filled = 0  # rows of ``map`` holding frames
        self.first_frame = 0
        w.set_labels(w.spectrum_plot, "latest spectrum", "wavelength (nm)", COUNTS_LABEL)
        w.set_labels(w.map_plot, view.title, "wavelength (nm)", "frame")
        w.map.set_quantity("spectra", "counts")  # the colour is each pixel's counts, not a sum over the spectrum
        w.map.clear()  # the last run's image and outlined pixel go (its grid is set as frames come)
        w.show_map_as(2, lock_aspect=False)

    def take_frame(self, index: Any, value: np.ndarray) -> None:
        """A kinetic series' frame: the spectrum view, and one more row of the map."""
        self.curve_y = last_spectrum(value)
        self.dirty = True
        if value.ndim != 1 or not is_position(index):
            return
        frame = int(index)
        if self.map.ndim != 2 or self.map.shape[1] != value.size:
            self.map = np.full((self.rows, value.size), np.nan)
            self.rows_filled, self.first_frame = 0, frame
        row = frame - self.first_frame
        if row < 0:
            return  # older than the frames kept
        rows = self.map.shape[0]
        if row >= rows:  # full: drop the oldest frames, leaving room for half the rows
            shift = row - (rows - rows // 2 - 1)
            kept = max(self.rows_filled - shift, 0)
            self.map[:kept] = self.map[shift:shift + kept]
            self.map[kept:] = np.nan
            self.first_frame += shift
            self.rows_filled, row = kept, row - shift
        self.map[row] = value
        self.rows_filled = max(self.rows_filled, row + 1)

    def map_values(self) -> np.ndarray:
        return self.map[: self.rows_filled]

    def place_image(self, rows: int, cols: int) -> None:
        self.w.map.set_extent(self.w.spectrum_x(cols), self.first_frame + np.arange(rows, dtype=float))
