"""The fitted approach curve of a TEPL distance sweep: the peak fitted to each spectrum against the gap the run
measures, in a background thread, with the threshold gap marked."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtWidgets

from tepl.gui.labels import label_axes, quantity_label, unit_of
from tepl.gui.livefit import BackgroundFit, turning_point
from tepl.gui.panels.base import Handler, ViewPanel, point_index
from tepl.gui.panels.series import series_for


class ApproachFitPanel(ViewPanel):
    """An ``approach`` view of spectra against a quantity the run measures (the gap): the fitted peak intensity
    and peak energy of each spectrum against it (``tepl.procedures.spectral.live_fit``, in a background
    thread), the threshold marked: the point of highest intensity once the intensity has fallen after it
    (``tepl.gui.livefit.turning_point``; until then, the highest so far)."""

    replaces_main = True

    def __init__(self, plan: Any, view: Any):
        super().__init__(view)
        layout = self._widget_of_plots(QtWidgets.QHBoxLayout)
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
        return {name: self._put_spectrum if side == "y" else self.series.writer("x", self._arrived)
                for name, side in self._sides.items()}

    def _put_spectrum(self, index: Any, value: np.ndarray) -> None:
        step = point_index(index)
        if not isinstance(step, (int, np.integer)) or value.ndim != 1:
            raise ValueError("expected one spectrum per point")
        self.fitter.submit(int(step), value)

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
