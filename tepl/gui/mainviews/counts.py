"""The main view of a confocal raster: the photon-count image of the scan in progress on the plan's stage axes,
summed over the counter's channels or the one chosen; the curve view shows the line in progress."""

from __future__ import annotations

from typing import Any

import numpy as np

from tepl.gui.labels import COUNTS_LABEL, pixel_rect
from tepl.gui.mainviews.base import MainView, axis_label, is_position
from tepl.gui.mainviews.widgets import ALL_CHANNELS


class CountMapView(MainView):
    """A ``count-map`` view: ``counts[scan, channel, y, x]`` as the run writes it, line by line or pixel by
    pixel; a new scan starts the image afresh. ``channel_labels`` name the counter's inputs."""

    def __init__(self, widgets: Any, plan: Any, view: Any, channel_labels: list[str], **kwargs: Any):
        super().__init__(widgets, **kwargs)
        w = self.w
        x_um, y_um = (np.asarray(plan.axis(name), float) for name in view.axes[:2])
        self.handlers = {view.dataset: [self.take_count_line]}
        self.counts = np.full((len(channel_labels), y_um.size, x_um.size), np.nan)  # counts[channel, y, x]
        self.scan = 0
        self.n_scans = int(plan.dataset(view.dataset).shape[0])
        self.curve_line = -1  # the line curve_y holds
        self.curve_x = x_um
        self.map_rect = pixel_rect(x_um, y_um)
        box = w.channel_box
        choice = box.currentIndex()
        box.blockSignals(True)
        box.clear()
        box.addItems([ALL_CHANNELS] + channel_labels)
        box.setCurrentIndex(choice if 0 <= choice < box.count() else 0)
        box.blockSignals(False)
        w.channel_row.setVisible(True)
        w.set_labels(w.spectrum_plot, "line in progress", axis_label(view.axes[0], "stage "), COUNTS_LABEL)
        w.spectrum_plot.setXRange(float(x_um[0]), float(x_um[-1]), padding=0.02)  # the whole line, from its start
        w.map.set_quantity("photon counts", "counts")
        w.map.set_grid(x_um, y_um, *(axis_label(name, "stage ").split(" (")[0] for name in view.axes[:2]))
        w.map_plot.setTitle(view.title)
        w.show_map_as(2)

    def take_count_line(self, index: Any, value: np.ndarray) -> None:
        """A confocal raster's line ``counts[scan, :, iy]`` (one row of counts per channel), or one pixel of it
        as soon as it is measured (``counts[scan, :, iy, ix]``, counts per channel: a ``live`` event)."""
        pixel = isinstance(index, tuple) and len(index) == 4 and value.ndim == 1
        if not (pixel or (isinstance(index, tuple) and len(index) == 3 and value.ndim == 2)):
            raise ValueError("expected counts[scan, :, line] = counts[channel, x] or counts[scan, :, line, x]")
        scan, iy = index[0], index[2]
        ix = index[3] if pixel else self.counts.shape[2] - 1
        if not (is_position(scan) and is_position(iy) and is_position(ix)):
            raise ValueError("expected a scan, a line and a pixel number")
        scan, iy, ix = int(scan), int(iy), int(ix)
        if self.counts.shape[0] != value.shape[0]:  # the counter reports another number of channels
            self.counts = np.full((value.shape[0],) + self.counts.shape[1:], np.nan)
        if scan != self.scan:  # a new scan: the map shows it from its first line
            self.counts.fill(np.nan)
            self.scan = scan
        if pixel:
            self.counts[:, iy, ix] = value
            self.saw_point((scan, iy, ix))  # the station panel shows where the stage is
            if self.curve_y is None or self.curve_line != iy:  # the curve view: the line in progress
                self.curve_y, self.curve_line = np.full(self.counts.shape[::2], np.nan), iy
            self.curve_y[:, ix] = value
        else:
            self.counts[:, iy] = value
            self.curve_y, self.curve_line = value, iy
        self.current = (iy, ix)
        self.dirty = True

    def selected_channels(self, counts: np.ndarray) -> np.ndarray:
        """``counts[channel, ...]`` summed over the channels, or the one ``channel_box`` selects."""
        choice = self.w.channel_box.currentIndex()
        return counts[choice - 1] if 1 <= choice <= counts.shape[0] else counts.sum(axis=0)

    def map_values(self) -> np.ndarray:
        return self.selected_channels(self.counts)

    def curve_y_shown(self, y: np.ndarray) -> np.ndarray:
        return self.selected_channels(y) if y.ndim == 2 else y

    def title(self) -> str:
        scan = f", scan {self.scan + 1}/{self.n_scans}" if self.n_scans > 1 else ""
        return f"counts{scan} ({self.w.channel_box.currentText() or ALL_CHANNELS})"
