"""The console's live views of a run, as its plan declares them (``plan.views``): the curve view and the main
view (``tepl.gui.mainviews``: a spectrum, g2, trace or confocal line in the curve view; integrated counts, a
confocal count image, spectra vs frame or a value against a plan axis or a measured quantity in the main view),
and a panel for each further view (``tepl.gui.panels``), each in a dock of one dock area.

``on_data`` takes the run's dataset writes (in the UI thread, queued from the worker) and the views buffer only
the newest values; a timer redraws at ``redraw_hz`` when something arrived, so a fast procedure drops frames
instead of queueing redraws (12 Hz by default: a little above 10, so the timer's jitter on a busy machine never
takes the rate below 10 redraws per second). ``reset`` picks what the views show for the next procedure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PyQt5 import QtWidgets as qw
from PyQt5 import sip
from PyQt5.QtCore import QTimer, pyqtSignal
from pyqtgraph.dockarea import Dock, DockArea

from tepl.gui.labels import shown_label
from tepl.gui.mainviews import main_view
from tepl.gui.mainviews.base import MainView, is_position
from tepl.gui.mainviews.widgets import MainWidgets
from tepl.gui.panels import make_panel, panel_class
from tepl.gui.panels.base import Handler, ViewPanel

GRID_FROM = 2  # views below the main one beyond this many go in two columns


class LiveViews(DockArea):
    """The dock area of the run's views: the curve view ("curve") and the main view ("main", with its channel
    choice for photon-counting runs), and a dock for each further view of the plan (``panels``); the console
    adds its own docks to the same area, so one saved layout holds them all. ``main`` is the run's main view
    (``tepl.gui.mainviews``), drawing on the widgets both docks hold (``widgets``).

    ``log(message)`` reports a write the views could not place (once per dataset and run). ``map_clicked(x, y,
    modifiers, double)`` is a click on a map in stage coordinates (µm); ``current_point(row)`` the plan's point
    the run wrote last (its columns: ``x_um``, ``gap_nm`` ...).
    """

    map_clicked = pyqtSignal(float, float, object, bool)
    current_point = pyqtSignal(object)

    def __init__(self, redraw_hz: float = 12.0, log: Callable[[str], None] = print,
                 parent: qw.QWidget | None = None):
        super().__init__(parent)
        self.redraws = 0  # redraws that drew something (the benchmark's count)
        self._point_rows: dict[tuple[int, ...], int] = {}
        self._plan: Any = None
        self._last_point: tuple[int, ...] | None = None
        self.cursor_spectrum: tuple[int, int] | None = None
        self._log = log
        self._handlers: dict[str, list[Handler]] = {}
        self._unplaced: set[str] = set()
        self._dirty = False
        self.widgets = w = MainWidgets()
        self.main = MainView(w)  # shows nothing until the first run's ``reset``
        self.spectrum_plot, self.spectrum_curve, self.fit_curve = w.spectrum_plot, w.spectrum_curve, w.fit_curve
        self.threshold_line, self.hist_curve, self.readout = w.threshold_line, w.hist_curve, w.readout
        self.map_plot, self.map, self.map_image, self.map_curve = w.map_plot, w.map, w.map_image, w.map_curve
        self.channel_box, self.channel_row, self.map_panel = w.channel_box, w.channel_row, w.map_panel
        self.map.clicked.connect(self._on_map_click)
        self.channel_box.currentIndexChanged.connect(self._mark_dirty)
        self.panels: list[ViewPanel] = []  # the plan's further views, one dock each
        self.panel_docks: list[Dock] = []
        self.main_dock = Dock("main view", widget=self.map_panel, size=(3, 3))
        self.curve_dock = Dock("curve view", widget=self.spectrum_plot, size=(3, 2))
        self.addDock(self.main_dock, "left")
        self.addDock(self.curve_dock, "bottom", self.main_dock)
        self.redraw_timer = QTimer(self, interval=max(1, int(1000.0 / redraw_hz)), timeout=self.redraw)
        self.redraw_timer.start()

    def set_wavelengths(self, wavelengths_nm: np.ndarray) -> None:
        """The spectrometer's pixel wavelengths (nm), the x axis of spectra."""
        self.widgets.wavelengths_nm = wavelengths_nm

    def stop(self) -> None:
        self.redraw_timer.stop()

    # ---- a run's writes (UI thread) ----------------------------------------------------------------------
    def on_data(self, name: str, index: Any, value: Any) -> None:
        """Buffer the newest values only; ``redraw`` shows them at the timer's pace. Which datasets are
        buffered, and how, depends on the run (see ``reset``)."""
        if isinstance(index, (tuple, int, np.integer)):
            key = index if isinstance(index, tuple) else (index,)
            if self._point_rows and all(is_position(i) for i in key):
                self._saw_point(key)
        handlers = self._handlers.get(name)
        if not handlers:
            return
        if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
            value = np.asarray(value, float)  # a value per point (a fitted peak, an amplitude)
        if not isinstance(value, np.ndarray):
            return
        for handler in handlers:
            try:
                handler(index, value)
            except (IndexError, ValueError, TypeError) as exc:  # a view problem must never end the console
                if name not in self._unplaced:
                    self._unplaced.add(name)
                    self._log(f"live view: {name}[{index!r}] of shape {value.shape} not shown ({exc})")

    def _saw_point(self, key: tuple[int, ...]) -> None:
        """A write at ``key``: the plan's point the station panel shows, when it is one of the plan's points."""
        if key in self._point_rows:
            self._last_point = key

    # ---- what a run shows ------------------------------------------------------------------------------
    def reset(self, plan: Any, channel_labels: Sequence[str] = ()) -> None:
        """Empty the views and show what ``plan.views`` asks for: the curve view shows its ``spectrum`` view
        (the latest spectrum), the main view its first other view (``tepl.gui.mainviews.main_view``), and a
        panel each of the others (``tepl.gui.panels``); ``channel_labels`` name the photon counter's inputs,
        one per channel."""
        self._unplaced.clear()
        self.widgets.clear()
        self._show(self.main_dock, self.map_panel, True)
        self._show(self.curve_dock, self.spectrum_plot, True)
        self._plan = plan
        self._last_point = None
        self.cursor_spectrum = None
        points = plan.points
        self._point_rows = ({tuple(int(v) for v in key): row for row, key in enumerate(
            zip(*(points[name].tolist() for name in points.index), strict=True))}
            if points.index and len(points) <= 1_000_000 else {})
        views = list(plan.views)
        spectrum = next((v for v in views if v.kind == "spectrum"), None)
        view = next((v for v in views if v.kind != "spectrum"), None)  # the main view
        cls = panel_class(plan, view) if view is not None else None
        own_panel = cls is not None and cls.replaces_main  # the view's own panel draws it (a ramp, a fitted approach)
        beside = cls is not None and cls.accompanies_main  # a panel of the main view beside it (spectra contour)
        self.main = main_view(self.widgets, plan, view, spectrum, own_panel, list(channel_labels),
                              saw_point=self._saw_point)
        self._handlers = {name: list(handlers) for name, handlers in self.main.handlers.items()}
        if not self.main.shows_main or own_panel:
            self._show(self.main_dock, self.map_panel, False)
        if not self.main.shows_curve:
            self._show(self.curve_dock, self.spectrum_plot, False)
        self._set_panels(plan, [v for v in views if (v is not view or own_panel or beside) and v.kind != "spectrum"])
        self._dirty = self.main.dirty = False

    @staticmethod
    def _show(dock: Dock, widget: qw.QWidget, visible: bool) -> None:
        widget.setVisible(visible)
        dock.setVisible(visible)

    def _add_handler(self, name: str, handler: Handler) -> None:
        self._handlers.setdefault(name, []).append(handler)

    def _set_panels(self, plan: Any, views: list[Any]) -> None:
        """A panel for each of ``views`` that has one (maps beside the main view; the others below it, in two
        columns when there are more than ``GRID_FROM``), its handlers added; the last
        run's panels, emptied, when it had the same views and the operator closed none of their docks."""
        if ([panel.view for panel in self.panels] == views and all(d.container() is not None for d in self.panel_docks)
                and all(panel.restart(plan, view) for panel, view in zip(self.panels, views, strict=True))):
            for panel in self.panels:  # the same views as the last run's, in their docks: emptied and reused
                for name, handler in panel.handlers().items():
                    self._add_handler(name, handler)
            return
        for panel in self.panels:
            panel.close()
        for dock in self.panel_docks:
            dock.close()
            # deleted now, with its plots, rather than by the garbage collector: that one empties the items'
            # Python attributes before Qt, taking the scene down, asks them their size (an AttributeError)
            if not sip.isdeleted(dock):
                sip.delete(dock)
        self.panels = [panel for panel in (make_panel(plan, v) for v in views) if panel is not None]
        self.panel_docks = []
        previous = self.main_dock
        below = [panel for panel in self.panels if panel.view.kind != "map"]
        columns = 2 if len(below) > GRID_FROM else 1
        stacked: list[Dock] = []  # the views below the main one, in reading order
        for panel in self.panels:
            dock = Dock(panel.dock_title, widget=panel.widget, size=(3, 3), closable=True)
            if panel.view.kind == "map":  # maps side by side with the main map
                self.addDock(dock, "right", previous)
                previous = dock
            elif not stacked:  # the other views below it: one column, or two when there are many
                self.addDock(dock, "bottom", self.main_dock)
            elif len(stacked) < columns:
                self.addDock(dock, "right", stacked[-1])
            else:
                self.addDock(dock, "bottom", stacked[-columns])
            if panel.view.kind != "map":
                stacked.append(dock)
            self.panel_docks.append(dock)
            for name, handler in panel.handlers().items():
                self._add_handler(name, handler)

    # ---- map interaction --------------------------------------------------------------------------------
    def _on_map_click(self, x: float, y: float, modifiers: Any, double: bool) -> None:
        """A click on the main map: the spectrum under the cursor in the curve view (when the map keeps its
        spectra), and ``map_clicked`` for the console (go there, region, point of interest)."""
        pixel = self.map.pixel_at(x, y)
        if pixel is not None and not double:
            self.show_spectrum_at(*pixel)
            for panel in self.panels:  # the decay of that pixel, in a panel that keeps the scan's decays
                panel.show_pixel(*pixel)
        self.map_clicked.emit(x, y, modifiers, double)

    def show_spectrum_at(self, iy: int, ix: int) -> bool:
        """Show the spectrum measured at pixel (iy, ix) in the curve view; False when none is kept there."""
        spectrum = self.main.spectrum_at(iy, ix)
        if spectrum is None:
            return False
        self.cursor_spectrum = (iy, ix)
        self.spectrum_curve.setData(self.widgets.spectrum_x(spectrum.size), spectrum.astype(float), connect="finite")
        self.spectrum_plot.setTitle(f"spectrum at pixel ({ix}, {iy})")
        return True

    def g2_fit(self) -> Any:
        """The latest fit of the g2 curve (``tepl.analysis.g2.G2Fit``), or None."""
        return self.main.fit

    def trace_threshold(self) -> float | None:
        """The ON/OFF threshold (counts per bin) drawn on the time trace, or None."""
        return self.main.threshold

    def finish(self) -> None:
        """The run has ended: draw everything, and fit what is fitted once the data are complete."""
        self._dirty = True
        self.redraw(final=True)

    def _mark_dirty(self, *_: Any) -> None:
        self._dirty = True

    # ---- what the views show -----------------------------------------------------------------------
    def curve_data(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(x, y) the curve view draws: a spectrum (nm, counts), g2 vs lag (ns), counts per bin vs time (s),
        or a confocal raster's last line (stage x µm, counts)."""
        return self.spectrum_curve.xData, self.spectrum_curve.yData

    def spectrum_data(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(x, counts) the spectrum view shows (the curve view, see ``curve_data``)."""
        return self.curve_data()

    def map_data(self) -> np.ndarray:
        """What the map view holds so far (NaN where nothing arrived yet): integrated counts per pixel or
        step of a spectral scan; photon counts per pixel of the confocal scan in progress (summed over the
        channels, or the one ``channel_box`` selects); or spectra[frame, pixel] of a kinetic series from
        frame ``first_frame_shown``."""
        return self.main.map_values().copy()

    def main_curve_data(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(x, y) the main view draws as a curve: integrated counts along a line, or a value per point against
        its axis (the amplitude against the coarse travel of an approach)."""
        return self.map_curve.xData, self.map_curve.yData

    def panel(self, dataset: str, kind: str | None = None) -> ViewPanel:
        """The panel showing ``dataset`` (of view ``kind``, when given); KeyError when none does."""
        for panel in self.panels:
            if panel.view.dataset == dataset and kind in (None, panel.view.kind):
                return panel
        raise KeyError(f"no live panel shows {dataset!r}" + (f" as {kind}" if kind else ""))

    def integrated_counts(self) -> np.ndarray:
        """Integrated counts per pixel or step received so far (NaN where nothing arrived yet); for any run,
        what the map view holds (``map_data``)."""
        return self.map_data()

    def view_contents(self) -> list[dict[str, Any]]:
        """What each of the plan's views shows now: ``view``, ``values`` (finite values drawn), ``x_label``,
        ``y_label`` and ``colour_bar`` (True for an image with its colour bar), read from the widgets' data."""
        if self._plan is None:
            return []
        views = list(self._plan.views)
        main = next((v for v in views if v.kind != "spectrum"), None)
        out = []
        for view in views:
            colour_bar = False
            if view.kind == "spectrum":
                plot, data = self.spectrum_plot, self.spectrum_curve.yData
            elif view is main and not any(panel.view is view for panel in self.panels):
                plot = self.spectrum_plot if view.kind == "g2" else self.map_plot
                if view.kind in ("g2", "trace"):
                    plot, data = self.spectrum_plot, self.spectrum_curve.yData
                elif self.main.draws_curve or self.map_curve.isVisible():
                    data = self.map_curve.yData
                else:
                    data = self.map_image.image
                    colour_bar = self.map.colorbar.isVisible() and self.map.colorbar.axis.labelText != ""
            else:
                try:
                    panel = self.panel(view.dataset, view.kind)
                except KeyError:
                    out.append({"view": view, "values": 0, "x_label": "", "y_label": "", "colour_bar": False})
                    continue
                plot, shown = panel.plot, panel.data()
                if isinstance(shown, dict):
                    data = np.concatenate([np.ravel(v) for v in shown.values()])
                elif isinstance(shown, tuple):
                    data = shown[1]
                else:
                    data = shown
                colour_bar = panel.has_colour_bar
            values = 0 if data is None else int(np.isfinite(np.asarray(data, float)).sum())
            out.append({"view": view, "values": values, "x_label": shown_label(plot.getAxis("bottom")),
                        "y_label": shown_label(plot.getAxis("left")), "colour_bar": colour_bar})
        return out

    @property
    def busy(self) -> bool:
        """True while a panel still works on what arrived (a live fit in progress)."""
        return any(panel.busy for panel in self.panels)

    @property
    def first_frame_shown(self) -> int:
        """Frame number of the map's first row for a kinetic series (older frames are dropped past
        ``tepl.gui.mainviews.frames.MAX_FRAME_ROWS``)."""
        return self.main.first_frame

    def redraw(self, final: bool = False) -> None:
        """Draw the newest buffered values, if anything arrived since the last redraw."""
        for panel in self.panels:
            panel.redraw()
        if self._last_point is not None and self._plan is not None:
            row = self._point_rows.get(self._last_point)
            self._last_point = None
            if row is not None:
                self.current_point.emit({name: values[row].item() for name, values in
                                         self._plan.points.columns.items()})
        if not (self._dirty or self.main.dirty):
            return
        self._dirty = self.main.dirty = False
        self.redraws += 1
        curve = self.main.curve_values()
        if curve is not None and self.cursor_spectrum is None:
            self.spectrum_curve.setData(*curve, connect="finite")
            self.main.curve_drawn(*curve, final, self.redraws)
        title = self.main.title()
        if title != self.map_plot.plotItem.titleLabel.text:
            self.map_plot.setTitle(title)
        self.main.draw()
