"""Main views that are curves: a g2 or a time trace in the curve view (the g2 fitted as it grows, the trace with
its intensity histogram and ON/OFF threshold in the main view), and a value per point against a plan axis or a
quantity the run measures (``SeriesView``: an approach curve, a line of values)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tepl.gui.labels import COUNTS_LABEL, PER_BIN_LABEL
from tepl.gui.mainviews.base import MainView, axis_label
from tepl.gui.panels.series import series_for, series_labels

G2_FIT_INTERVAL = 5  # the g2 fit is redone every this many redraws (and at the end of the run)
G2_COUNTS = ("coincidences", "photons")  # what the g2 run's own fit rule looks at (``too_few_for_g2_fit``)


class CurveView(MainView):
    """A ``g2`` or ``trace`` view: the dataset over the plan's lag or time axis in the curve view, filled by the
    run's writes. A g2 is fitted every ``G2_FIT_INTERVAL`` redraws (``fit``) unless the run's own rule refuses
    it; a trace's main view is its histogram of counts per bin, with the ON/OFF threshold (``threshold``)."""

    def __init__(self, widgets: Any, plan: Any, view: Any, **kwargs: Any):
        super().__init__(widgets, **kwargs)
        w = self.w
        self.kind, self.plan = view.kind, plan
        self.shows_main = self.kind == "trace"  # the trace's histogram; a g2 is all in the curve view
        x = np.asarray(plan.axis(view.axes[0]), float)
        y_label = "g2" if self.kind == "g2" else PER_BIN_LABEL
        self.handlers = {view.dataset: [self.take_points]}
        self.curve_x, self.curve_y = x, np.full(x.size, np.nan)
        self.curve_len = 0  # points of curve_y received so far (a growing trace)
        self.counts: dict[str, np.ndarray] = {}  # the g2 run's coincidences per lag and photons per channel
        w.set_labels(w.spectrum_plot, view.title, axis_label(view.axes[0]), y_label)
        if self.kind == "g2":  # the counts the run's fit rule judges, as the run writes them
            for name in G2_COUNTS:
                if plan.has_dataset(name) and plan.dataset(name).allocated:
                    self.counts[name] = np.zeros(plan.dataset(name).shape)
                    self.add_handler(name, lambda index, value, _n=name: self._take_counts(_n, index, value))
        if self.kind == "trace":  # the main view: the histogram of counts per bin, threshold marked
            w.set_labels(w.map_plot, "intensity histogram", y_label, "bins")
            w.map.set_visible(False)
            w.map_plot.setAspectLocked(False)
            w.map_curve.setVisible(False)
            w.hist_curve.setVisible(True)

    def _take_counts(self, name: str, index: Any, value: np.ndarray) -> None:
        self.counts[name][index] = value

    def take_points(self, index: Any, value: np.ndarray) -> None:
        """Points of a curve with a known x axis (g2 after each block, bins of a time trace as it grows)."""
        covered = range(self.curve_y.size)[index]
        self.curve_y[index] = value
        stop = covered + 1 if isinstance(covered, int) else (max(covered[0], covered[-1]) + 1 if covered else 0)
        self.curve_len = max(self.curve_len, stop)
        self.dirty = True

    def curve_values(self) -> tuple[np.ndarray, np.ndarray]:
        return self.curve_x[: self.curve_len], self.curve_y[: self.curve_len]

    def curve_drawn(self, x: np.ndarray, y: np.ndarray, final: bool, redraws: int) -> None:
        if self.kind == "g2" and (final or redraws % G2_FIT_INTERVAL == 0):
            self._update_g2_fit(x, y)
        elif self.kind == "trace":
            self._update_trace(y)

    def draw(self) -> None:
        """Nothing more: the curve view and the histogram are drawn with the curve."""

    # ---- g2 ---------------------------------------------------------------------------------------------
    def _g2_too_few(self) -> bool:
        """True when the g2 run's own rule refuses a fit of the counts written so far (``too_few_for_g2_fit``);
        False for a plan without those counts."""
        from tepl.procedures.counting import too_few_for_g2_fit

        if set(self.counts) != set(G2_COUNTS):
            return False
        photons, parameters = self.counts["photons"], self.plan.parameters
        a, b = (int(parameters[name]["value"]) for name in ("channel_a", "channel_b"))
        return too_few_for_g2_fit(photons[a], photons[b], self.counts["coincidences"])

    def _no_fit(self, why: str) -> None:
        self.fit = None
        self.w.fit_curve.setData([], [])
        self.w.spectrum_plot.setTitle(f"g2 (no fit: {why})")

    def _update_g2_fit(self, x: np.ndarray, y: np.ndarray) -> None:
        from tepl.analysis.g2 import fit_g2, g2_model

        if self._g2_too_few():  # what the run itself would not fit is not fitted live either
            self._no_fit("too few coincidences")
            return
        finite = np.isfinite(y)
        if finite.sum() < 8:
            return
        try:
            fit = fit_g2(x[finite], y[finite])
        except (ValueError, RuntimeError, FloatingPointError) as exc:
            self.w.spectrum_plot.setTitle(f"g2 (no fit: {exc})")
            return
        if not (fit.ok and 0.0 <= fit.contrast <= 1.0):  # no antibunching dip the data resolve: no fit drawn
            self._no_fit("no dip resolved yet")
            return
        self.fit = fit
        self.w.fit_curve.setData(x, g2_model(x, fit.tau_ns, fit.contrast, fit.t0_ns, fit.irf_sigma_ns,
                                             fit.normalization, bin_width_ns=float(x[1] - x[0])))
        self.w.spectrum_plot.setTitle(f"g2: fit τ = {fit.tau_ns:.3g} ns, C = {fit.contrast:.3f}")

    # ---- time trace -------------------------------------------------------------------------------------
    def _update_trace(self, y: np.ndarray) -> None:
        from tepl.analysis.blinking import on_fraction

        w = self.w
        y = y[np.isfinite(y)]
        if y.size < 2:
            return
        counts, edges = np.histogram(y, bins=min(60, max(5, int(y.max() - y.min()) + 1)))
        w.hist_curve.setData(edges, counts)
        try:
            result = on_fraction(np.rint(y))
        except ValueError:
            return
        if not result.blinks:  # one level so far (no dip the analysis separates): no threshold, no ON fraction
            self.threshold = None
            w.threshold_line.setVisible(False)
            w.map_plot.setTitle("intensity histogram: one level (no ON/OFF threshold)")
            return
        self.threshold = result.threshold
        w.threshold_line.setPos(result.threshold)
        w.threshold_line.setVisible(True)
        w.map_plot.setTitle(f"intensity histogram: threshold {result.threshold:.1f} counts/bin, "
                            f"ON {100 * result.on_fraction:.0f} %")


class SeriesView(MainView):
    """A value per point against a plan axis (a ``line`` of values) or a dataset the run measures (an
    ``approach``), in the main view; the curve view shows the latest spectrum when the plan declares a
    ``spectrum`` view (``spectrum``), and is hidden otherwise."""

    draws_curve = True

    def __init__(self, widgets: Any, plan: Any, view: Any, spectrum: Any = None, **kwargs: Any):
        super().__init__(widgets, **kwargs)
        w = self.w
        self.series, sides = series_for(plan, view)
        for name, side in sides.items():
            self.add_handler(name, self.series.writer(side, self.mark_dirty))
        self.shows_curve = spectrum is not None
        if spectrum is not None:
            self.add_handler(spectrum.dataset, self.take_latest_spectrum)
            w.set_labels(w.spectrum_plot, spectrum.title, "wavelength (nm)", COUNTS_LABEL)
        w.set_labels(w.map_plot, view.title, *series_labels(plan, view))
        w.show_map_as(1)

    def map_values(self) -> np.ndarray:
        return self.series.y

    def draw(self) -> None:
        self.w.map_curve.setData(*self.series.points())
