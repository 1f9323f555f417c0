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
from PyQt5 import QtWidgets

from tepl.gui.labels import is_spectral, label_axes, limit_for, quantity_label, unit_of

Handler = Callable[[Any, np.ndarray], None]

def _point_index(index: Any) -> Any:
    """A write's index along a 1-D series: an int or a slice (a 1-tuple is unpacked)."""
    if isinstance(index, tuple) and len(index) == 1:
        index = index[0]
    if isinstance(index, (slice, int, np.integer)) and not isinstance(index, bool):
        return index
    raise ValueError(f"index {index!r} is not a point or a block of points")


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
        index = _point_index(index)
        self._grow_for(index, max(1, np.size(value)))
        self.y[index] = value

    def put_x(self, index: Any, value: np.ndarray) -> None:
        index = _point_index(index)
        self._grow_for(index, max(1, np.size(value)))
        self.x[index] = np.asarray(value, float)

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
    y_label = "integrated counts" if is_spectral(plan, view.dataset) else quantity_label(
        view.dataset, unit_of(plan, view.dataset))
    return quantity_label(x_name, unit_of(plan, x_name)), y_label


class ViewPanel:
    """One declared view in its own plot: ``handlers()`` take the writes, ``redraw()`` draws what arrived,
    ``data()`` is what the panel shows; ``widget`` is what the console places in a dock."""

    replaces_main = False  # True: the panel draws the plan's main view itself (the main dock is hidden)
    accompanies_main = False  # True: as the plan's main view, the panel is shown beside the main dock

    def __init__(self, view: Any, plot: pg.PlotWidget | None = None):
        self.view = view
        self.plot = plot if plot is not None else pg.PlotWidget(title=view.title)
        self.plot.setMinimumHeight(140)
        self.widget: Any = self.plot
        self.redraws = 0  # redraws that drew something
        self._dirty = False
        self._seen = False

    @property
    def dock_title(self) -> str:
        """The title of the panel's dock: the view's kind and title."""
        return f"{self.view.kind}: {self.view.title}"

    def handlers(self) -> dict[str, Handler]:
        raise NotImplementedError

    def data(self) -> Any:
        raise NotImplementedError

    def redraw(self) -> None:
        if self._dirty:
            self._dirty = False
            self.redraws += 1
            self._draw()

    def _draw(self) -> None:
        raise NotImplementedError

    @property
    def busy(self) -> bool:
        """True while the panel still works on what arrived (a fit in progress)."""
        return False

    @property
    def has_colour_bar(self) -> bool:
        """True when the panel draws values on a colour scale (with its colour bar)."""
        return False

    def show_pixel(self, iy: int, ix: int) -> bool:
        """Show what the panel keeps of map pixel (iy, ix) (a click on the main map); False: nothing kept."""
        return False

    def restart(self, plan: Any, view: Any) -> bool:
        """Show the same ``view`` for the next run's ``plan``, emptied, rather than building a new panel (its
        plot and dock cost 50-100 ms of the event loop); False when the panel cannot (it is built anew)."""
        return False

    def close(self) -> None:
        """The run's views are replaced: release what the panel holds beyond its widgets."""

    def _arrived(self) -> None:
        self._dirty = self._seen = True

    def _label(self, bottom: str, left: str) -> None:
        label_axes(self.plot, bottom, left)


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


class ApproachFitPanel(ViewPanel):
    """An ``approach`` view of spectra against a quantity the run measures (the gap): the fitted peak intensity
    and peak energy of each spectrum against it (``tepl.procedures.spectral.live_fit``, in a background
    thread), the threshold marked: the point of highest intensity once the intensity has fallen after it
    (``tepl.gui.livefit.turning_point``; until then, the highest so far)."""

    replaces_main = True

    def __init__(self, plan: Any, view: Any):
        from tepl.gui.livefit import BackgroundFit

        super().__init__(view)
        self.widget = QtWidgets.QWidget()
        layout = QtWidgets.QHBoxLayout(self.widget)
        layout.setContentsMargins(0, 0, 0, 0)
        self.series, self._sides = series_for(plan, view)
        n = self.series.y.size
        self.intensity = np.full(n, np.nan)
        self.energy = np.full(n, np.nan)
        self.threshold: float | None = None  # x of the threshold once the intensity fell after it
        self.highest: float | None = None  # x of the highest intensity so far
        self.x_unit = unit_of(plan, view.axes[0])
        x_label = quantity_label(view.axes[0], self.x_unit)
        self.plot.setTitle(f"fitted intensity vs {x_label.split(' (')[0]}")
        self._label(x_label, "fitted peak intensity (counts)")
        self.intensity_curve = self.plot.plot(pen=pg.mkPen("y"), symbol="o", symbolSize=5)
        self.mark = pg.InfiniteLine(angle=90, pen=pg.mkPen("r", style=2), label="",
                                    labelOpts={"position": 0.9, "color": "r", "anchors": [(0, 0), (0, 0)]})
        self.mark.setVisible(False)
        self.plot.addItem(self.mark)
        self.energy_plot = pg.PlotWidget(title=f"peak energy vs {x_label.split(' (')[0]}")
        label_axes(self.energy_plot, x_label, "peak energy (eV)")
        self.energy_curve = self.energy_plot.plot(pen=pg.mkPen("c"), symbol="o", symbolSize=5)
        self.energy_mark = pg.InfiniteLine(angle=90, pen=pg.mkPen("r", style=2))
        self.energy_mark.setVisible(False)
        self.energy_plot.addItem(self.energy_mark)
        layout.addWidget(self.plot)
        layout.addWidget(self.energy_plot)
        spectra = plan.dataset(view.dataset)
        self.fitter = BackgroundFit(np.asarray(plan.axis(spectra.dims[-1]), float))

    def handlers(self) -> dict[str, Handler]:
        return {name: self._put_spectrum if side == "y" else self._put_x for name, side in self._sides.items()}

    def _put_spectrum(self, index: Any, value: np.ndarray) -> None:
        step = _point_index(index)
        if not isinstance(step, (int, np.integer)) or value.ndim != 1:
            raise ValueError("expected one spectrum per point")
        self.fitter.submit(int(step), value)

    def _put_x(self, index: Any, value: np.ndarray) -> None:
        self.series.put_x(index, value)
        self._arrived()

    def redraw(self) -> None:
        for step, fit in self.fitter.collect():
            self.intensity[step] = fit.amplitude if fit.ok else np.nan
            self.energy[step] = fit.center_eV if fit.ok else np.nan
            self._arrived()
        super().redraw()

    @property
    def busy(self) -> bool:
        return self.fitter.busy

    def close(self) -> None:
        self.fitter.close()

    def data(self) -> dict[str, np.ndarray]:
        """{"intensity": fitted peak intensity (counts), "energy": peak energy (eV)} per point (NaN: not
        measured, not fitted yet, or no peak); ``series.x`` holds the measured quantity per point."""
        return {"intensity": self.intensity.copy(), "energy": self.energy.copy()}

    def _draw(self) -> None:
        from tepl.gui.livefit import turning_point

        x = self.series.x
        for curve, values in ((self.intensity_curve, self.intensity), (self.energy_curve, self.energy)):
            shown = np.isfinite(x) & np.isfinite(values)
            curve.setData(x[shown], values[shown])
        known = np.isfinite(x) & np.isfinite(self.intensity)
        if not known.any():
            return
        at = turning_point(np.where(np.isfinite(x), self.intensity, np.nan))
        self.threshold = None if at is None else float(x[at])
        if at is None:
            at = int(np.nanargmax(np.where(known, self.intensity, np.nan)))
        self.highest = float(x[at])
        unit = f" {self.x_unit}" if self.x_unit else ""
        self.mark.label.setFormat(f"threshold {self.threshold:.4g}{unit}" if self.threshold is not None
                                  else f"highest so far {self.highest:.4g}{unit}")
        for mark in (self.mark, self.energy_mark):
            mark.setPos(self.highest)
            mark.setVisible(True)


class DecayPanel(ViewPanel):
    """A ``decay`` view: the decay histogram of each channel against the delay axis, log counts (labelled at
    decades): the latest one written, or for the lines of a FLIM scan the sum of the lines of the scan so far
    (after the scan, the whole scan's decay)."""

    def __init__(self, plan: Any, view: Any):
        from tepl.gui.logaxis import log_plot

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
                    "counts per bin")

    def handlers(self) -> dict[str, Handler]:
        return {self.view.dataset: self._take}

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


class MapPanel(ViewPanel):
    """A ``map`` view: a per-pixel dataset (a spectrum counts as its integrated counts) on the plan's two
    stage axes, with its colour bar, the pixel written last outlined and unscanned pixels grey."""

    @property
    def has_colour_bar(self) -> bool:
        return True

    def __init__(self, plan: Any, view: Any):
        from tepl.gui.maps import MapImage, map_plot

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

    def handlers(self) -> dict[str, Handler]:
        return {self.view.dataset: self._take}

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


def ramp_reference(intensity: np.ndarray) -> int | None:
    """The step of a ramp's unstrained start: the first whose intensity is at least a quarter of the brightest
    so far (a dot blinking off when the ramp began is not the reference), as the ramp takes it; None before
    any step has an intensity."""
    intensity = np.asarray(intensity, float)
    finite = np.isfinite(intensity)
    if not finite.any():
        return None
    return int(np.flatnonzero(finite & (intensity >= 0.25 * np.nanmax(intensity)))[0])


class RampPanel(ViewPanel):
    """A ``ramp`` view: the dataset (a fitted intensity) against the step, the quantities its other axes name
    (pressure, force) against the step with the station limits the plan's interlocks hold drawn as dashed
    lines, a peak energy (an axis in eV) as its shift (meV) from the unstrained start (``ramp_reference``)
    against the first of those quantities (the pressure), and the spectra along the same steps as a contour
    (step vs wavelength). The quench onset is marked on the intensity: the step of highest intensity once it
    has fallen after it (``turning_point``)."""

    @property
    def has_colour_bar(self) -> bool:
        return self.contour_name is not None  # the spectra contour

    replaces_main = True

    def __init__(self, plan: Any, view: Any):
        super().__init__(view)
        self.widget = QtWidgets.QWidget()
        self.widget.setMinimumHeight(480)  # three rows of plots whose labels fit their height
        layout = QtWidgets.QGridLayout(self.widget)
        layout.setContentsMargins(0, 0, 0, 0)
        step_name = view.axes[0]
        self.step = np.asarray(plan.axis(step_name), float)
        n = self.step.size
        self.values = {view.dataset: np.full(n, np.nan)}
        self.curves: dict[str, Any] = {view.dataset: self.plot.plot(pen=pg.mkPen("y"), symbol="o", symbolSize=4)}
        self._label(quantity_label(step_name, unit_of(plan, step_name)) or "step",
                    quantity_label(view.dataset, unit_of(plan, view.dataset)))
        layout.addWidget(self.plot, 0, 0)
        self.quench_step: int | None = None  # the quench onset, once the intensity fell after its maximum
        self.quench_mark = pg.InfiniteLine(angle=90, pen=pg.mkPen("r", style=2), label="quench onset",
                                           labelOpts={"position": 0.1, "color": "r", "anchors": [(0, 1), (0, 1)]})
        self.quench_mark.setVisible(False)
        self.plot.addItem(self.quench_mark)
        self.limit_plots: dict[str, pg.PlotWidget] = {}
        self.limits: dict[str, Any] = {}
        quantities = [n for n in view.axes[1:] if plan.has_dataset(n)]
        energies = [n for n in quantities if unit_of(plan, n) == "eV"]
        quantities = [n for n in quantities if n not in energies]
        for i, name in enumerate(quantities):
            plot = pg.PlotWidget(title=f"{quantity_label(name).split(' (')[0]} vs its limit")
            label_axes(plot, "step", quantity_label(name, unit_of(plan, name)))
            self.values[name] = np.full(n, np.nan)
            self.curves[name] = plot.plot(pen=pg.mkPen("c"), symbol="o", symbolSize=4)
            limit = limit_for(plan, name)
            if limit is not None:
                self.limits[name] = limit
                plot.addItem(pg.InfiniteLine(pos=limit.high, angle=0, pen=pg.mkPen("r", style=2),
                                             label=f"limit {limit.high:g} {limit.unit}",
                                             labelOpts={"position": 0.85, "color": "r"}))
            self.limit_plots[name] = plot
            layout.addWidget(plot, *divmod(1 + i, 2))
        # a peak energy: its shift from the unstrained start against the first quantity (the pressure)
        self.energy_name = energies[0] if energies and quantities else None
        self.shift_against = quantities[0] if self.energy_name else None
        self.reference_step: int | None = None
        if self.energy_name is not None:
            self.values[self.energy_name] = np.full(n, np.nan)
            against = quantity_label(self.shift_against, unit_of(plan, self.shift_against))
            self.shift_plot = pg.PlotWidget(title=f"peak shift from the unstrained start vs {against.split(' (')[0]}")
            label_axes(self.shift_plot, against, "peak shift (meV)")
            self.shift_curve = self.shift_plot.plot(pen=pg.mkPen("m"), symbol="o", symbolSize=4)
            layout.addWidget(self.shift_plot, *divmod(1 + len(quantities), 2))
        rows = (2 + len(quantities) + (self.energy_name is not None)) // 2
        spectral = next((d for d in plan.datasets if d.dims[:1] == (step_name,) and is_spectral(plan, d.name)),
                        None)
        self.contour_name = spectral.name if spectral is not None else None
        self.contour: np.ndarray | None = None
        if spectral is not None:
            self.spectra = SpectraContour(plan, spectral.name, self.step, "step", "", f"{spectral.name} vs step")
            self.contour_plot, self.contour_map = self.spectra.plot, self.spectra.map
            self.contour = self.spectra.values
            layout.addWidget(self.contour_plot, rows, 0, 1, 2)

    def handlers(self) -> dict[str, Handler]:
        out: dict[str, Handler] = {name: (lambda index, value, _n=name: self._take(_n, index, value))
                                   for name in self.values}
        if self.contour_name is not None:
            out[self.contour_name] = self._take_spectrum
        return out

    def shift_meV(self) -> tuple[np.ndarray, np.ndarray]:
        """(pressure, peak shift meV) of the steps so far where both are known: the peak energy less that of the
        unstrained start (``ramp_reference`` of the intensity); empty without a peak energy."""
        if self.energy_name is None:
            return np.empty(0), np.empty(0)
        self.reference_step = ramp_reference(self.values[self.view.dataset])
        if self.reference_step is None:
            return np.empty(0), np.empty(0)
        energy = self.values[self.energy_name]
        shift = (energy - energy[self.reference_step]) * 1000.0
        x = self.values[self.shift_against]
        shown = np.isfinite(x) & np.isfinite(shift)
        return x[shown], shift[shown]

    def _take(self, name: str, index: Any, value: np.ndarray) -> None:
        self.values[name][_point_index(index)] = np.asarray(value, float)
        self._arrived()

    def _take_spectrum(self, index: Any, value: np.ndarray) -> None:
        self.spectra.put(index, value)
        self._arrived()

    def data(self) -> dict[str, np.ndarray]:
        """{dataset: values per step} of the curves, and ``contour`` (spectra[step, pixel]) when shown."""
        out = {name: v.copy() for name, v in self.values.items()}
        if self.contour is not None:
            out["contour"] = self.contour.copy()
        return out

    def _draw(self) -> None:
        for name, values in self.values.items():
            if name not in self.curves:
                continue
            finite = np.isfinite(values)
            self.curves[name].setData(self.step[finite], values[finite])
            limit = self.limits.get(name)
            if limit is not None and finite.any():  # near its limit: the plot's title turns red
                near = float(np.nanmax(values)) >= 0.9 * limit.high
                self.limit_plots[name].setTitle(self.limit_plots[name].plotItem.titleLabel.text,
                                                color="r" if near else None)
        from tepl.gui.livefit import turning_point

        self.quench_step = turning_point(self.values[self.view.dataset])
        if self.quench_step is not None:
            self.quench_mark.setPos(float(self.step[self.quench_step]))
            self.quench_mark.label.setFormat("quench onset")
        self.quench_mark.setVisible(self.quench_step is not None)
        if self.energy_name is not None:
            self.shift_curve.setData(*self.shift_meV())
        if self.contour is not None:
            self.spectra.draw()


class SpectraContour:
    """Spectra of a dataset ``spectra[point, wavelength]`` as an image: wavelength across, the points' axis
    ``along`` (values, its name and unit) up, counts colour-mapped with a colour bar; NaN rows (not measured
    yet) grey."""

    def __init__(self, plan: Any, dataset: str, along: np.ndarray, name: str, unit: str, title: str):
        from tepl.gui.maps import MapImage, map_plot

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
        self.values[_point_index(index)] = np.asarray(value, float)

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

    def handlers(self) -> dict[str, Handler]:
        return {self.view.dataset: self._take}

    def _take(self, index: Any, value: np.ndarray) -> None:
        self.spectra.put(index, value)
        self._arrived()

    def data(self) -> np.ndarray:
        """spectra[point, wavelength] shown so far (NaN: not measured yet)."""
        return self.spectra.values.copy()

    def _draw(self) -> None:
        self.spectra.draw()


PANELS: dict[str, type[ViewPanel]] = {"line": SeriesPanel, "approach": SeriesPanel, "decay": DecayPanel,
                                      "map": MapPanel, "ramp": RampPanel}
"""The view kinds a panel beside the main view can show; the others (``spectrum``, ``frames``, ``count-map``,
``g2``, ``trace``) are drawn by the main views (``tepl.gui.views``)."""


def panel_class(plan: Any, view: Any) -> type[ViewPanel] | None:
    """The panel class of a declared view: by kind, an ``approach`` of spectra against a measured quantity as
    fitted curves, a ``line`` of spectra as their contour; None when the kind has no panel."""
    if view.kind == "approach" and is_spectral(plan, view.dataset) and plan.has_dataset(view.axes[0]):
        return ApproachFitPanel
    if view.kind == "line" and is_spectral(plan, view.dataset):
        return SpectraLinePanel
    return PANELS.get(view.kind)


def make_panel(plan: Any, view: Any) -> ViewPanel | None:
    """The panel of a declared view, or None when its kind has no panel or the plan lacks what it names."""
    cls = panel_class(plan, view)
    if cls is None or not plan.has_dataset(view.dataset) or not plan.dataset(view.dataset).allocated:
        return None
    try:
        return cls(plan, view)
    except KeyError:  # an axis the plan does not have
        return None
