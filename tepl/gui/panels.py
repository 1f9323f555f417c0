"""Live panels for the views a plan declares beside its main one (``tepl.plan.VIEW_KINDS``), and the series
buffer the main view shares with them.

- ``line`` / ``approach``: a dataset's value per point (a spectrum counts as its integrated counts) against a
  plan axis (``line``) or against another dataset the run measures as it goes (``approach``: the gap of a
  TEPL approach curve, the coarse travel of a tip approach);
- ``decay``: the latest TCSPC decay per channel against the plan's delay axis, on a log scale;
- ``map``: a per-pixel dataset as an image on the plan's two stage axes.

Each panel takes the run's dataset writes through ``handlers()`` (UI thread), keeps only what it shows and
redraws when something arrived. Labels come from the plan: names and units of its axes and datasets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import QRectF

Handler = Callable[[Any, np.ndarray], None]

_UNIT_TOKENS = {"um": "µm", "k": "K", "ev": "eV", "mev": "meV", "ns": "ns", "nm": "nm", "s": "s", "gpa": "GPa",
                "nn": "nN"}


def quantity_label(name: str, unit: str = "") -> str:
    """A dataset or axis name as a plot label: ``peak_energy_eV`` -> "peak energy (eV)", ``setpoint_k`` with
    unit K -> "setpoint (K)", ``signal`` in counts -> "signal (counts)", ``amplitude`` without unit -> "amplitude".
    A trailing unit token in the name is dropped in favour of ``unit`` (or the token's own spelling)."""
    quantity, _, token = name.rpartition("_")
    if quantity and (token.lower() in _UNIT_TOKENS or token == unit):
        unit = unit or _UNIT_TOKENS[token.lower()]
    else:
        quantity = name
    quantity = quantity.replace("_", " ")
    return f"{quantity} ({unit})" if unit else quantity


def unit_of(plan: Any, name: str) -> str:
    """The unit the plan states for an axis or dataset ``name`` ('' when it states none)."""
    for axis in plan.axes:
        if axis.name == name:
            return axis.unit
    if plan.has_dataset(name):
        return plan.dataset(name).unit
    return ""


def is_spectral(plan: Any, name: str) -> bool:
    """True for a dataset of spectra (its last dimension is the wavelength axis)."""
    return plan.has_dataset(name) and plan.dataset(name).dims[-1:] == ("wavelength_nm",)


def pixel_rect(x: np.ndarray, y: np.ndarray) -> QRectF:
    """The rectangle an image of pixels centred on the grid ``x`` (columns) x ``y`` (rows) covers."""
    dx = float(x[1] - x[0]) if x.size > 1 else 1.0
    dy = float(y[1] - y[0]) if y.size > 1 else 1.0
    return QRectF(float(x[0]) - dx / 2, float(y[0]) - dy / 2, dx * x.size, dy * y.size)


def _point_index(index: Any) -> Any:
    """A write's index along a 1-D series: an int or a slice (a 1-tuple is unpacked)."""
    if isinstance(index, tuple) and len(index) == 1:
        index = index[0]
    if isinstance(index, (slice, int, np.integer)) and not isinstance(index, bool):
        return index
    raise ValueError(f"index {index!r} is not a point or a block of points")


class Series:
    """A dataset's values per point against x: a known plan axis, or a dataset the run measures (filled by its
    writes). ``spectral``: each value is a spectrum, kept as its integrated counts."""

    def __init__(self, size: int, x: np.ndarray | None = None, spectral: bool = False):
        self.y = np.full(size, np.nan)
        self.x = np.full(size, np.nan) if x is None else np.array(x, float)
        self.spectral = spectral

    def put_y(self, index: Any, value: np.ndarray) -> None:
        value = np.asarray(value, float)
        self.y[_point_index(index)] = np.nansum(value, axis=-1) if self.spectral else value

    def put_x(self, index: Any, value: np.ndarray) -> None:
        self.x[_point_index(index)] = np.asarray(value, float)

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of the points measured so far (both finite), in point order."""
        finite = np.isfinite(self.x) & np.isfinite(self.y)
        return self.x[finite], self.y[finite]


def series_for(plan: Any, view: Any) -> tuple[Series, dict[str, str]]:
    """The buffer of a ``line`` or ``approach`` view, and which dataset fills which of its sides
    ({dataset: "y" | "x"})."""
    dataset, x_name = view.dataset, view.axes[0]
    size = int(plan.dataset(dataset).shape[0])
    measured_x = view.kind == "approach" and plan.has_dataset(x_name)
    series = Series(size, None if measured_x else plan.axis(x_name), spectral=is_spectral(plan, dataset))
    return series, ({dataset: "y", x_name: "x"} if measured_x else {dataset: "y"})


def series_labels(plan: Any, view: Any) -> tuple[str, str]:
    """(x label, y label) of a ``line`` or ``approach`` view."""
    x_name = view.axes[0]
    y_label = "integrated counts" if is_spectral(plan, view.dataset) else quantity_label(
        view.dataset, unit_of(plan, view.dataset))
    return quantity_label(x_name, unit_of(plan, x_name)), y_label


class ViewPanel:
    """One declared view in its own plot: ``handlers()`` take the writes, ``redraw()`` draws what arrived,
    ``data()`` is what the panel shows."""

    def __init__(self, view: Any):
        self.view = view
        self.plot = pg.PlotWidget(title=view.title)
        self.plot.setMinimumHeight(140)
        self._dirty = False
        self._seen = False

    def handlers(self) -> dict[str, Handler]:
        raise NotImplementedError

    def data(self) -> Any:
        raise NotImplementedError

    def redraw(self) -> None:
        if self._dirty:
            self._dirty = False
            self._draw()

    def _draw(self) -> None:
        raise NotImplementedError

    def _arrived(self) -> None:
        self._dirty = self._seen = True

    def _label(self, bottom: str, left: str) -> None:
        self.plot.setLabel("bottom", bottom)
        self.plot.setLabel("left", left)


class SeriesPanel(ViewPanel):
    """A ``line`` or ``approach`` view: points of a dataset against a plan axis or a measured dataset."""

    def __init__(self, plan: Any, view: Any):
        super().__init__(view)
        self.series, self._sides = series_for(plan, view)
        self.curve = self.plot.plot(pen=pg.mkPen("c"), symbol="o", symbolSize=5)
        self._label(*series_labels(plan, view))

    def handlers(self) -> dict[str, Handler]:
        return {name: self._put_y if side == "y" else self._put_x for name, side in self._sides.items()}

    def _put_y(self, index: Any, value: np.ndarray) -> None:
        self.series.put_y(index, value)
        self._arrived()

    def _put_x(self, index: Any, value: np.ndarray) -> None:
        self.series.put_x(index, value)
        self._arrived()

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of the points shown."""
        return self.series.points()

    def _draw(self) -> None:
        self.curve.setData(*self.series.points())


class DecayPanel(ViewPanel):
    """A ``decay`` view: the latest decay histogram of each channel against the delay axis, log counts."""

    def __init__(self, plan: Any, view: Any):
        super().__init__(view)
        self.time_ns = np.asarray(plan.axis(view.axes[0]), float)
        self.latest: np.ndarray | None = None  # counts[channel, bin]
        self.curves: list[Any] = []
        self.plot.setLogMode(x=False, y=True)
        unit = unit_of(plan, view.axes[0])
        self._label(f"delay after the laser pulse ({unit})" if unit else "delay after the laser pulse",
                    "counts per bin")

    def handlers(self) -> dict[str, Handler]:
        return {self.view.dataset: self._take}

    def _take(self, index: Any, value: np.ndarray) -> None:
        value = np.asarray(value, float)
        if value.shape[-1] != self.time_ns.size:
            raise ValueError(f"a decay of {value.shape[-1]} bins on a {self.time_ns.size}-bin axis")
        self.latest = value.reshape(-1, self.time_ns.size)
        self._arrived()

    def data(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(delay ns, counts[channel, bin]) of the latest decay (None before one arrived)."""
        return self.time_ns, None if self.latest is None else self.latest.copy()

    def _draw(self) -> None:
        while len(self.curves) < self.latest.shape[0]:
            self.curves.append(self.plot.plot(pen=pg.intColor(len(self.curves), hues=6)))
        for curve, counts in zip(self.curves, self.latest, strict=False):
            curve.setData(self.time_ns, np.where(counts > 0, counts, np.nan), connect="finite")


class MapPanel(ViewPanel):
    """A ``map`` view: a per-pixel dataset (a spectrum counts as its integrated counts) on the plan's two
    stage axes."""

    def __init__(self, plan: Any, view: Any):
        super().__init__(view)
        x, y = (np.asarray(plan.axis(name), float) for name in view.axes[:2])
        self.values = np.full((y.size, x.size), np.nan)
        self.spectral = is_spectral(plan, view.dataset)
        self.rect = pixel_rect(x, y)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.plot.setAspectLocked(True)
        self._label(*(("stage " if unit_of(plan, name) == "µm" else "") + quantity_label(name, unit_of(plan, name))
                      for name in view.axes[:2]))

    def handlers(self) -> dict[str, Handler]:
        return {self.view.dataset: self._take}

    def _take(self, index: Any, value: np.ndarray) -> None:
        value = np.asarray(value, float)
        self.values[index] = np.nansum(value, axis=-1) if self.spectral else value
        self._arrived()

    def data(self) -> np.ndarray:
        return self.values.copy()

    def _draw(self) -> None:
        finite = np.isfinite(self.values)
        if finite.any():
            lo, hi = float(self.values[finite].min()), float(self.values[finite].max())
            self.image.setImage(np.where(finite, self.values, lo), levels=(lo, hi if hi > lo else lo + 1.0),
                                autoLevels=False)
            self.image.setRect(self.rect)


PANELS: dict[str, type[ViewPanel]] = {"line": SeriesPanel, "approach": SeriesPanel, "decay": DecayPanel,
                                      "map": MapPanel}
"""The view kinds a panel beside the main view can show; the others (``spectrum``, ``frames``, ``count-map``,
``g2``, ``trace``, ``ramp``) are drawn by the main views (``tepl.gui.views``)."""


def make_panel(plan: Any, view: Any) -> ViewPanel | None:
    """The panel of a declared view, or None when its kind has no panel or the plan lacks what it names."""
    cls = PANELS.get(view.kind)
    if cls is None or not plan.has_dataset(view.dataset) or not plan.dataset(view.dataset).allocated:
        return None
    try:
        return cls(plan, view)
    except KeyError:  # an axis the plan does not have
        return None
