"""The main view of a spectral scan: each spectrum's integrated counts on a map of the plan's stage axes (a
raster), against the plan's axis (a line of spectra) or against the step; the curve view shows the latest
spectrum, or the spectrum of a map pixel clicked (the map keeps its spectra up to a size)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tepl.gui.labels import COUNTS_LABEL, pixel_rect, quantity_label, unit_of
from tepl.gui.mainviews.base import MainView, axis_label, is_position, last_spectrum

SPECTRA_CACHE_BYTES = 256 * 2**20  # a map keeps its spectra (for the spectrum under the cursor) up to this size


def position_label(plan: Any, name: str) -> str:
    """The label of a line view's axis: a stage position ("stage x (µm)"), or the axis with its unit."""
    unit = unit_of(plan, name)
    return axis_label(name, "stage ") if unit == "µm" else quantity_label(name, unit)


class SpectraView(MainView):
    """Integrated counts per pixel or step of the ``spectra`` written: on the map of a ``map`` view, against the
    axis of a ``line`` view, or (``view`` None or another kind) against the step."""

    def __init__(self, widgets: Any, plan: Any, view: Any, **kwargs: Any):
        super().__init__(widgets, **kwargs)
        w = self.w
        self.spectra: np.ndarray | None = None  # spectra[iy, ix, pixel] of a spectral map, for clicks
        self.kept = np.zeros((0, 0), bool)  # True where ``spectra`` holds a measured spectrum
        self.line_axis: np.ndarray | None = None
        self.handlers = {"spectra": [self.take_spectrum]}
        w.set_labels(w.spectrum_plot, "latest spectrum", "wavelength (nm)", COUNTS_LABEL)
        if view is not None and view.kind == "map":
            x, y = (np.asarray(plan.axis(name), float) for name in view.axes[:2])
            self.map = np.full((y.size, x.size), np.nan)
            self.map_rect = pixel_rect(x, y)
            w.map.set_quantity(view.title, "counts")
            w.map.set_grid(x, y, *(axis_label(name, "stage ").split(" (")[0] for name in view.axes[:2]))
            w.map_plot.setTitle(view.title)
            w.show_map_as(2)
            return
        if view is not None and view.kind == "line":
            self.line_axis = np.asarray(plan.axis(view.axes[0]), float)
        self.map = np.full(self.line_axis.size if self.line_axis is not None else 0, np.nan)
        labels = (position_label(plan, view.axes[0]) if self.line_axis is not None else "step", COUNTS_LABEL)
        title = view.title if view is not None and view.kind == "line" else "integrated counts"
        w.set_labels(w.map_plot, title, *labels)
        w.show_map_as(self.map.ndim)

    def take_spectrum(self, index: Any, value: np.ndarray) -> None:
        """A spectral scan's spectrum: the spectrum view, and its integrated counts on the map."""
        spectrum = last_spectrum(value)
        self.curve_y = spectrum
        self.dirty = True
        index = index if isinstance(index, tuple) else (index,)
        if value.ndim != 1 or not all(is_position(i) for i in index):
            return  # a whole block at once (e.g. a slice): shown as a spectrum, not placed on the map
        index = tuple(int(i) for i in index)
        self._grow_map(index)
        self.map[index] = float(np.nansum(spectrum))
        if len(index) == 2:
            self.current = index
            cache = self.spectra
            if cache is None and self.map.size * spectrum.size * 4 <= SPECTRA_CACHE_BYTES:
                # left uninitialised (its pages are mapped as they are written, not all at once): which pixels
                # hold a spectrum is in ``kept``
                cache = self.spectra = np.empty(self.map.shape + (spectrum.size,), np.float32)
                self.kept = np.zeros(self.map.shape, bool)
            if cache is not None and cache.shape[:2] == self.map.shape and cache.shape[2] == spectrum.size:
                cache[index] = spectrum
                self.kept[index] = True

    def _grow_map(self, index: tuple[int, ...]) -> None:
        if len(index) != self.map.ndim:
            self.map = np.full(tuple(i + 1 for i in index), np.nan)
            self.w.show_map_as(len(index))
        shape = tuple(max(n, i + 1) for n, i in zip(self.map.shape, index, strict=True))
        if shape != self.map.shape:
            grown = np.full(shape, np.nan)
            grown[tuple(slice(0, n) for n in self.map.shape)] = self.map
            self.map = grown

    def map_values(self) -> np.ndarray:
        return self.map

    def line_x(self, size: int) -> np.ndarray:
        axis = self.line_axis
        return axis if axis is not None and axis.size == size else super().line_x(size)

    def spectrum_at(self, iy: int, ix: int) -> np.ndarray | None:
        cache = self.spectra
        if cache is None or not (0 <= iy < cache.shape[0] and 0 <= ix < cache.shape[1]):
            return None
        return cache[iy, ix] if self.kept[iy, ix] else None
