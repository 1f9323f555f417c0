"""A dataset's values per point against a plan axis or a measured quantity: the ``Series`` buffer the main
view shares with the panels, and the ``line`` / ``approach`` panel of values (``SeriesPanel``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg

from tepl.gui.labels import COUNTS_LABEL, is_spectral, quantity_label, unit_of
from tepl.gui.panels.base import Handler, ViewPanel, point_index


class Series:
    """A dataset's values per point against x: a known plan axis, or a dataset the run measures (filled by its
    writes). ``spectral``: each value is a spectrum, kept as its integrated counts. A ``size`` of None: the
    number of points is known only when measured (the lamp lines a calibration finds); the series grows to
    what the writes hold."""

    def __init__(self, size: int | None, x: np.ndarray | None = None, spectral: bool = False):
        self.grows = size is None
        size = 0 if size is None else size
        self.y = np.full(size, np.nan)
        self.x = np.full(size, np.nan) if x is None else np.array(x, float)
        self.spectral = spectral

    def _grow_for(self, index: Any, n_values: int) -> None:
        """Room for a write of ``n_values`` at ``index`` in a series that grows."""
        if not self.grows:
            return
        if isinstance(index, slice):
            start, stop, step = index.start or 0, index.stop, index.step or 1
            needed = stop if stop is not None else start + step * (n_values - 1) + 1
        else:
            needed = int(index) + 1
        if needed > self.y.size:
            self.y, self.x = (np.concatenate([a, np.full(needed - a.size, np.nan)]) for a in (self.y, self.x))

    def put_y(self, index: Any, value: np.ndarray) -> None:
        value = np.asarray(value, float)
        value = np.nansum(value, axis=-1) if self.spectral else value
        index = point_index(index)
        self._grow_for(index, max(1, np.size(value)))
        self.y[index] = value

    def put_x(self, index: Any, value: np.ndarray) -> None:
        index = point_index(index)
        self._grow_for(index, max(1, np.size(value)))
        self.x[index] = np.asarray(value, float)

    def writer(self, side: str, arrived: Callable[[], None]) -> Handler:
        """A handler of the writes of the dataset on ``side`` ("y": the values, "x": what they are against) that
        puts them in the series and then calls ``arrived``."""
        put = self.put_y if side == "y" else self.put_x

        def take(index: Any, value: np.ndarray) -> None:
            put(index, value)
            arrived()

        return take

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of the points measured so far (both finite), in point order."""
        finite = np.isfinite(self.x) & np.isfinite(self.y)
        return self.x[finite], self.y[finite]


def series_for(plan: Any, view: Any) -> tuple[Series, dict[str, str]]:
    """The buffer of a ``line`` or ``approach`` view, and which dataset fills which of its sides
    ({dataset: "y" | "x"})."""
    dataset, x_name = view.dataset, view.axes[0]
    size = plan.dataset(dataset).shape[0]  # None: known once measured
    measured_x = view.kind == "approach" and plan.has_dataset(x_name)
    series = Series(size, None if measured_x else plan.axis(x_name), spectral=is_spectral(plan, dataset))
    return series, ({dataset: "y", x_name: "x"} if measured_x else {dataset: "y"})


def series_labels(plan: Any, view: Any) -> tuple[str, str]:
    """(x label, y label) of a ``line`` or ``approach`` view."""
    x_name = view.axes[0]
    y_label = COUNTS_LABEL if is_spectral(plan, view.dataset) else quantity_label(
        view.dataset, unit_of(plan, view.dataset))
    return quantity_label(x_name, unit_of(plan, x_name)), y_label


class SeriesPanel(ViewPanel):
    """A ``line`` or ``approach`` view: points of a dataset against a plan axis or a measured dataset."""

    def __init__(self, plan: Any, view: Any):
        super().__init__(view)
        self.series, self._sides = series_for(plan, view)
        self.curve = self.plot.plot(pen=pg.mkPen("c"), symbol="o", symbolSize=5)
        self._label(*series_labels(plan, view))

    def handlers(self) -> dict[str, Handler]:
        return {name: self.series.writer(side, self._arrived) for name, side in self._sides.items()}

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of the points shown."""
        return self.series.points()

    def _draw(self) -> None:
        self.curve.setData(*self.series.points())
