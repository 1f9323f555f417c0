"""The pressure-ramp panel: the fitted intensity, the pressed quantities against their station limits, the peak
shift from the unstrained start and the spectra along the steps."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtWidgets

from tepl.gui.labels import is_spectral, label_axes, limit_for, quantity_label, unit_of
from tepl.gui.livefit import turning_point
from tepl.gui.panels.base import Handler, ViewPanel, point_index
from tepl.gui.panels.images import SpectraContour


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
        layout = self._widget_of_plots(QtWidgets.QGridLayout)
        self.widget.setMinimumHeight(480)  # three rows of plots whose labels fit their height
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
        out: dict[str, Handler] = {name: (lambda index, value, _n=name: self._take_values(_n, index, value))
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

    def _take_values(self, name: str, index: Any, value: np.ndarray) -> None:
        self.values[name][point_index(index)] = np.asarray(value, float)
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
        self.quench_step = turning_point(self.values[self.view.dataset])
        if self.quench_step is not None:
            self.quench_mark.setPos(float(self.step[self.quench_step]))
            self.quench_mark.label.setFormat("quench onset")
        self.quench_mark.setVisible(self.quench_step is not None)
        if self.energy_name is not None:
            self.shift_curve.setData(*self.shift_meV())
        if self.contour is not None:
            self.spectra.draw()
