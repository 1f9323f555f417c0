"""Panels drawn as images with a colour bar: a per-pixel ``map`` on the stage axes, and spectra as a contour
of a point axis against wavelength (``SpectraContour``, the ``line`` of spectra beside the main view)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tepl.gui.labels import is_spectral, quantity_label, unit_of
from tepl.gui.maps import MapImage, map_plot
from tepl.gui.panels.base import ViewPanel, point_index


class MapPanel(ViewPanel):
    """A ``map`` view: a per-pixel dataset (a spectrum counts as its integrated counts) on the plan's two
    stage axes, with its colour bar, the pixel written last outlined and unscanned pixels grey."""

    @property
    def has_colour_bar(self) -> bool:
        return True

    def __init__(self, plan: Any, view: Any):
        super().__init__(view, map_plot(view.title))
        self.map = MapImage(self.plot, view.title)
        self.image = self.map.image
        self.plot.setAspectLocked(True)
        self.restart(plan, view)

    def restart(self, plan: Any, view: Any) -> bool:
        """Show ``view`` of a new run's ``plan`` (the same view as before, maybe on other axes), empty."""
        x, y = (np.asarray(plan.axis(name), float) for name in view.axes[:2])
        self.view = view
        self.spectral = is_spectral(plan, view.dataset)
        self.map.set_quantity(view.title, "counts" if self.spectral else unit_of(plan, view.dataset))
        self.map.set_grid(x, y, *(("stage " if unit_of(plan, n) == "µm" else "") + quantity_label(n).split(" (")[0]
                                   for n in view.axes[:2]), unit=unit_of(plan, view.axes[0]))
        self.values = np.full((y.size, x.size), np.nan)
        self.current: tuple[int, int] | None = None
        self.rect = self.map.rect
        self._dirty = self._seen = False
        return True

    def _take(self, index: Any, value: np.ndarray) -> None:
        value = np.asarray(value, float)
        self.values[index] = np.nansum(value, axis=-1) if self.spectral else value
        if isinstance(index, tuple) and len(index) == 2 and all(isinstance(i, (int, np.integer)) for i in index):
            self.current = (int(index[0]), int(index[1]))
        self._arrived()

    def data(self) -> np.ndarray:
        return self.values.copy()

    def _draw(self) -> None:
        self.map.show(self.values, self.current)


class SpectraContour:
    """Spectra of a dataset ``spectra[point, wavelength]`` as an image: wavelength across, the points' axis
    ``along`` (values, its name and unit) up, counts colour-mapped with a colour bar; NaN rows (not measured
    yet) grey."""

    def __init__(self, plan: Any, dataset: str, along: np.ndarray, name: str, unit: str, title: str):
        self.plot = map_plot(title)
        self.plot.setMinimumHeight(140)
        self.map = MapImage(self.plot, quantity_label(dataset).split(" (")[0], unit_of(plan, dataset))
        wl_name = plan.dataset(dataset).dims[-1]
        wl = np.asarray(plan.axis(wl_name), float)
        self.map.set_grid(wl, np.asarray(along, float), quantity_label(wl_name).split(" (")[0], name,
                          unit=unit_of(plan, wl_name), relative=False, y_unit=unit)
        self.values = np.full((np.size(along), wl.size), np.nan)

    def put(self, index: Any, value: np.ndarray) -> None:
        """The spectrum (or block of spectra) of point ``index``."""
        self.values[point_index(index)] = np.asarray(value, float)

    def draw(self) -> None:
        self.map.show(self.values)


class SpectraLinePanel(ViewPanel):
    """A ``line`` of spectra beside the main view (which draws their integrated counts against the line's
    axis): the spectra as a contour of the axis (the position along a line scan from its start, a setpoint)
    against wavelength, counts colour-mapped with a colour bar, filled as the spectra arrive."""

    @property
    def has_colour_bar(self) -> bool:
        return True

    accompanies_main = True

    def __init__(self, plan: Any, view: Any):
        name = view.axes[0]
        along = np.asarray(plan.axis(name), float)
        unit = unit_of(plan, name)
        if unit == "µm":  # a position on the sample: counted along the line from its start
            along, label = np.abs(along - along[0]), "position along the line"
        else:
            label = quantity_label(name).split(" (")[0]
        self.spectra = SpectraContour(plan, view.dataset, along, label, unit, f"spectra vs {label}")
        self.map = self.spectra.map
        super().__init__(view, self.spectra.plot)

    @property
    def dock_title(self) -> str:
        return f"{self.view.kind}: {self.plot.getPlotItem().titleLabel.text}"

    def _take(self, index: Any, value: np.ndarray) -> None:
        self.spectra.put(index, value)
        self._arrived()

    def data(self) -> np.ndarray:
        """spectra[point, wavelength] shown so far (NaN: not measured yet)."""
        return self.spectra.values.copy()

    def _draw(self) -> None:
        self.spectra.draw()
