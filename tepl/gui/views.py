"""The console's live views of a run, as its plan declares them (``plan.views``): a curve (spectrum, g2,
trace, confocal line), the main view (integrated counts, confocal count image, spectra vs frame, a value
against a plan axis or a measured quantity), and a panel for each further view (``tepl.gui.panels``).

``on_data`` takes the run's dataset writes (in the UI thread, queued from the worker) and buffers only the
newest values; a timer redraws at ``redraw_hz`` when something arrived, so a fast procedure drops frames
instead of queueing redraws (12 Hz by default: a little above 10, so the timer's jitter on a busy machine never
takes the rate below 10 redraws per second). ``reset`` picks what the views show for the next procedure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtWidgets as qw
from PyQt5 import sip
from PyQt5.QtCore import QRectF, Qt, QTimer, pyqtSignal
from pyqtgraph.dockarea import Dock, DockArea

from tepl.gui.labels import is_spectral, label_axes, pixel_rect, quantity_label, unit_of
from tepl.gui.maps import MapImage, map_plot
from tepl.gui.panels import make_panel, panel_class
from tepl.gui.panels.base import Handler, ViewPanel
from tepl.gui.panels.series import Series, series_for, series_labels

_MAX_FRAME_ROWS = 2000  # a kinetic series' map keeps this many of the newest frames
ALL_CHANNELS = "sum of all channels"
GRID_FROM = 2  # views below the main one beyond this many go in two columns
MIN_PLOT_HEIGHT_PX = 150  # the main and curve views never squeeze below this (their tick labels would overlap)


def _is_position(index: Any) -> bool:
    """True for a plain non-negative integer index (a pixel, line, step or frame number)."""
    return isinstance(index, (int, np.integer)) and not isinstance(index, bool) and index >= 0


def _position_label(plan: Any, name: str) -> str:
    """The label of a line view's axis: a stage position ("stage x (µm)"), or the axis with its unit."""
    unit = unit_of(plan, name)
    return _axis_label(name, "stage ") if unit == "µm" else quantity_label(name, unit)


def _axis_label(name: str, prefix: str = "") -> str:
    """``x_um`` -> "x (µm)", ``lag_ns`` -> "lag (ns)": an axis name as a plot label."""
    quantity, _, unit = name.rpartition("_")
    unit = {"um": "µm"}.get(unit, unit)
    return f"{prefix}{quantity} ({unit})" if quantity else name


_SPECTRA_CACHE_BYTES = 256 * 2**20  # a map keeps its spectra (for the spectrum under the cursor) up to this size
_G2_FIT_INTERVAL = 5  # the g2 fit is redone every this many redraws (and at the end of the run)
_G2_COUNTS = ("coincidences", "photons")  # what the g2 run's own fit rule looks at (``too_few_for_g2_fit``)


class LiveViews(DockArea):
    """The dock area of the run's views: the curve view ("curve") and the main view ("main", with its channel
    choice for photon-counting runs), and a dock for each further view of the plan (``panels``); the console
    adds its own docks to the same area, so one saved layout holds them all.

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
        self._spectra: np.ndarray | None = None  # spectra[iy, ix, pixel] of a spectral map, for clicks
        self._spectrum_kept = np.zeros((0, 0), bool)  # True where _spectra holds a measured spectrum
        self._current: tuple[int, int] | None = None
        self._g2_fit: Any = None
        self._g2_counts: dict[str, np.ndarray] = {}  # the g2 run's coincidences per lag and photons per channel
        self._trace_threshold: float | None = None
        self.cursor_spectrum: tuple[int, int] | None = None
        self._kind: str | None = None
        self._log = log
        self._wavelengths_nm: np.ndarray | None = None
        # what the run's "data" events left for the views; ``redraw`` draws it (see ``reset``)
        self._mode = "spectra"
        self._handlers: dict[str, list[Handler]] = {}
        self._series: Series | None = None  # the main view's points, for a line or approach view of values
        self._unplaced: set[str] = set()
        self._curve_x: np.ndarray | None = None  # None: the wavelengths of the spectrum in _curve_y
        self._curve_y: np.ndarray | None = None
        self._curve_len = 0  # points of _curve_y received so far (a growing trace)
        self._curve_line = -1  # the confocal line _curve_y holds
        self._map: np.ndarray = np.empty(0)
        self._map_rows = 0  # rows of _map holding frames (a kinetic series)
        self._first_frame = 0  # frame number of _map's first row
        self._frame_rows = _MAX_FRAME_ROWS
        self._counts: np.ndarray | None = None  # counts[channel, y, x] of the confocal scan in progress
        self._scan = 0
        self._n_scans = 1
        self._line_axis: np.ndarray | None = None
        self._map_rect: QRectF | None = None
        self._dirty = False
        self.spectrum_plot = pg.PlotWidget(title="latest spectrum")
        self.spectrum_plot.setLabels(bottom="wavelength (nm)", left="counts")
        self.spectrum_curve = self.spectrum_plot.plot(pen=pg.mkPen("y"))
        self.spectrum_curve.setDownsampling(auto=True, method="peak")  # a long time trace stays fast to draw
        self.spectrum_curve.setClipToView(True)
        self.fit_curve = self.spectrum_plot.plot(pen=pg.mkPen("r", width=2))
        self.threshold_line = pg.InfiniteLine(angle=0, pen=pg.mkPen("r", style=Qt.DashLine),
                                              label="ON/OFF threshold", labelOpts={"position": 0.12, "color": "r"})
        self.spectrum_plot.addItem(self.threshold_line)
        self.threshold_line.setVisible(False)
        self.map_plot = map_plot("integrated counts")
        self.map = MapImage(self.map_plot, "integrated counts", "counts")
        self.map.clicked.connect(self._on_map_click)
        self.map_image = self.map.image
        self.map_curve = self.map_plot.plot(pen=pg.mkPen("c"), symbol="o", symbolSize=4)
        self.hist_curve = self.map_plot.plot([0, 1], [0], stepMode="center", fillLevel=0, brush=(0, 200, 200, 90),
                                             pen=pg.mkPen("c"))
        self.hist_curve.setVisible(False)
        self.readout = qw.QLabel("", toolTip="position and value under the cursor")
        self.map.hovered.connect(self.readout.setText)
        self.channel_box = qw.QComboBox(toolTip="the photon-counting channel(s) the count map shows")
        self.channel_box.currentIndexChanged.connect(self._mark_dirty)
        self.map_panel = qw.QWidget()
        panel = qw.QVBoxLayout(self.map_panel)
        panel.setContentsMargins(0, 0, 0, 0)
        self.channel_row = qw.QWidget()
        row = qw.QHBoxLayout(self.channel_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(qw.QLabel("channels"))
        row.addWidget(self.channel_box, 1)
        panel.addWidget(self.channel_row)
        panel.addWidget(self.map_plot, 1)
        panel.addWidget(self.readout)
        self.channel_row.setVisible(False)
        self.panels: list[ViewPanel] = []  # the plan's further views, one dock each
        self.panel_docks: list[Dock] = []
        self.main_dock = Dock("main view", widget=self.map_panel, size=(3, 3))
        self.curve_dock = Dock("curve view", widget=self.spectrum_plot, size=(3, 2))
        for plot in (self.map_panel, self.spectrum_plot):  # readable axes however many views share the window
            plot.setMinimumHeight(MIN_PLOT_HEIGHT_PX)
        self.addDock(self.main_dock, "left")
        self.addDock(self.curve_dock, "bottom", self.main_dock)
        self.redraw_timer = QTimer(self, interval=max(1, int(1000.0 / redraw_hz)), timeout=self.redraw)
        self.redraw_timer.start()

    def set_wavelengths(self, wavelengths_nm: np.ndarray) -> None:
        """The spectrometer's pixel wavelengths (nm), the x axis of spectra."""
        self._wavelengths_nm = wavelengths_nm

    def stop(self) -> None:
        self.redraw_timer.stop()

    # ---- a run's writes (UI thread) ----------------------------------------------------------------------
    def on_data(self, name: str, index: Any, value: Any) -> None:
        """Buffer the newest values only; ``redraw`` shows them at the timer's pace. Which datasets are
        buffered, and how, depends on the run (see ``reset``)."""
        if isinstance(index, (tuple, int, np.integer)):
            key = index if isinstance(index, tuple) else (index,)
            if self._point_rows and all(_is_position(i) for i in key) and key in self._point_rows:
                self._last_point = key
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

    def _take_spectrum(self, index: Any, value: np.ndarray) -> None:
        """A spectral scan's spectrum: the spectrum view, and its integrated counts on the map."""
        spectrum = value if value.ndim == 1 else value.reshape(-1, value.shape[-1])[-1]
        self._curve_y = spectrum
        self._dirty = True
        index = index if isinstance(index, tuple) else (index,)
        if value.ndim != 1 or not all(_is_position(i) for i in index):
            return  # a whole block at once (e.g. a slice): shown as a spectrum, not placed on the map
        index = tuple(int(i) for i in index)
        self._grow_map(index)
        self._map[index] = float(np.nansum(spectrum))
        if len(index) == 2:
            self._current = index
            cache = self._spectra
            if cache is None and self._map.size * spectrum.size * 4 <= _SPECTRA_CACHE_BYTES:
                # left uninitialised (its pages are mapped as they are written, not all at once): which pixels
                # hold a spectrum is in _spectrum_kept
                cache = self._spectra = np.empty(self._map.shape + (spectrum.size,), np.float32)
                self._spectrum_kept = np.zeros(self._map.shape, bool)
            if cache is not None and cache.shape[:2] == self._map.shape and cache.shape[2] == spectrum.size:
                cache[index] = spectrum
                self._spectrum_kept[index] = True

    def _take_latest_spectrum(self, index: Any, value: np.ndarray) -> None:
        """A spectrum for the curve view only (the main view shows something else)."""
        if value.ndim == 0:
            raise ValueError("expected a spectrum")
        self._curve_y = value if value.ndim == 1 else value.reshape(-1, value.shape[-1])[-1]
        self._dirty = True

    def _take_series_y(self, index: Any, value: np.ndarray) -> None:
        self._series.put_y(index, value)
        self._dirty = True

    def _take_series_x(self, index: Any, value: np.ndarray) -> None:
        self._series.put_x(index, value)
        self._dirty = True

    def _take_frame(self, index: Any, value: np.ndarray) -> None:
        """A kinetic series' frame: the spectrum view, and one more row of the map."""
        self._curve_y = value if value.ndim == 1 else value.reshape(-1, value.shape[-1])[-1]
        self._dirty = True
        if value.ndim != 1 or not _is_position(index):
            return
        frame = int(index)
        if self._map.ndim != 2 or self._map.shape[1] != value.size:
            self._map = np.full((self._frame_rows, value.size), np.nan)
            self._map_rows, self._first_frame = 0, frame
        row = frame - self._first_frame
        if row < 0:
            return  # older than the frames kept
        rows = self._map.shape[0]
        if row >= rows:  # full: drop the oldest frames, leaving room for half the rows
            shift = row - (rows - rows // 2 - 1)
            kept = max(self._map_rows - shift, 0)
            self._map[:kept] = self._map[shift:shift + kept]
            self._map[kept:] = np.nan
            self._first_frame += shift
            self._map_rows, row = kept, row - shift
        self._map[row] = value
        self._map_rows = max(self._map_rows, row + 1)

    def _take_count_line(self, index: Any, value: np.ndarray) -> None:
        """A confocal raster's line ``counts[scan, :, iy]`` (one row of counts per channel), or one pixel of it
        as soon as it is measured (``counts[scan, :, iy, ix]``, counts per channel: a ``live`` event)."""
        pixel = isinstance(index, tuple) and len(index) == 4 and value.ndim == 1
        if not (pixel or (isinstance(index, tuple) and len(index) == 3 and value.ndim == 2)):
            raise ValueError("expected counts[scan, :, line] = counts[channel, x] or counts[scan, :, line, x]")
        scan, iy = index[0], index[2]
        ix = index[3] if pixel else self._counts.shape[2] - 1
        if not (_is_position(scan) and _is_position(iy) and _is_position(ix)):
            raise ValueError("expected a scan, a line and a pixel number")
        scan, iy, ix = int(scan), int(iy), int(ix)
        if self._counts.shape[0] != value.shape[0]:  # the counter reports another number of channels
            self._counts = np.full((value.shape[0],) + self._counts.shape[1:], np.nan)
        if scan != self._scan:  # a new scan: the map shows it from its first line
            self._counts.fill(np.nan)
            self._scan = scan
        if pixel:
            self._counts[:, iy, ix] = value
            if (scan, iy, ix) in self._point_rows:  # the station panel shows where the stage is
                self._last_point = (scan, iy, ix)
            if self._curve_y is None or self._curve_line != iy:  # the curve view: the line in progress
                self._curve_y, self._curve_line = np.full(self._counts.shape[::2], np.nan), iy
            self._curve_y[:, ix] = value
        else:
            self._counts[:, iy] = value
            self._curve_y, self._curve_line = value, iy
        self._current = (iy, ix)
        self._dirty = True

    def _take_g2_counts(self, name: str, index: Any, value: np.ndarray) -> None:
        self._g2_counts[name][index] = value

    def _take_curve_points(self, index: Any, value: np.ndarray) -> None:
        """Points of a curve with a known x axis (g2 after each block, bins of a time trace as it grows)."""
        covered = range(self._curve_y.size)[index]
        self._curve_y[index] = value
        stop = covered + 1 if isinstance(covered, int) else (max(covered[0], covered[-1]) + 1 if covered else 0)
        self._curve_len = max(self._curve_len, stop)
        self._dirty = True

    # ---- what a run shows ------------------------------------------------------------------------------
    def reset(self, plan: Any, channel_labels: Sequence[str] = ()) -> None:
        """Empty the views and show what ``plan.views`` asks for: the curve view shows its ``spectrum`` view
        (the latest spectrum), the main view its first other view, and a panel each of the others
        (``tepl.gui.panels``); ``channel_labels`` name the photon counter's inputs, one per channel. The main
        view by kind:

        - ``count-map``: the count image of the scan in progress on the plan's µm axes, summed over the
          channels or one channel (``channel_box``); the curve view: the last line;
        - ``g2`` / ``trace``: the curve view shows the dataset against the plan's lag or time axis; no map;
        - ``frames``: the latest spectrum, and the map one row per frame;
        - ``approach``: the dataset (a spectrum as its integrated counts) against the dataset its axis names,
          as the run measures both (the gap, the coarse travel); ``line`` of values per point (not spectra):
          the dataset against the plan's axis; without a ``spectrum`` view the curve view is hidden;
        - ``map`` / ``line`` of spectra: the latest spectrum, and its integrated counts on the map against the
          plan's axes; any other (``ramp``, none): integrated counts against the step.
        """
        self._unplaced.clear()
        self._curve_x = self._curve_y = None
        self._curve_len = 0
        self._curve_line = -1
        self._counts = None
        self._scan, self._n_scans = 0, 1
        self._map = np.empty(0)
        self._map_rows = self._first_frame = 0
        self._line_axis = None
        self._map_rect = None
        self.spectrum_curve.setData([], [])
        self.fit_curve.setData([], [])
        self.threshold_line.setVisible(False)
        self.map_curve.setData([], [])
        self.hist_curve.setData([0, 1], [0])
        self.hist_curve.setVisible(False)
        self.map_image.clear()
        self._show(self.main_dock, self.map_panel, True)
        self._show(self.curve_dock, self.spectrum_plot, True)
        self.channel_row.setVisible(False)
        self._series = None
        self._plan = plan
        self._spectra, self._current, self._last_point = None, None, None
        self._g2_fit, self._trace_threshold, self.cursor_spectrum = None, None, None
        self._g2_counts = {}
        self._kind = None
        self.readout.setText("")
        self.map_plot.enableAutoRange()  # a map's grid sets its range; a curve's follows its data
        self.spectrum_plot.enableAutoRange()
        for side in ("bottom", "left"):  # absolute axes unless a map's grid says otherwise
            axis = self.map_plot.getAxis(side)
            axis.origin, axis.picture = 0.0, None
        points = plan.points
        self._point_rows = ({tuple(int(v) for v in key): row for row, key in enumerate(
            zip(*(points[name].tolist() for name in points.index), strict=True))}
            if points.index and len(points) <= 1_000_000 else {})
        views = list(plan.views)
        spectrum = next((v for v in views if v.kind == "spectrum"), None)
        view = next((v for v in views if v.kind != "spectrum"), None)  # the main view
        kind = view.kind if view is not None else "spectrum"
        self._kind = kind
        cls = panel_class(plan, view) if view is not None else None
        own_panel = cls is not None and cls.replaces_main
        beside = cls is not None and cls.accompanies_main  # a panel of the main view beside it (spectra contour)
        if kind == "count-map":
            self._setup_count_map(plan, view, list(channel_labels))
        elif kind in ("g2", "trace"):
            self._setup_curve(view.dataset, view.title, np.asarray(plan.axis(view.axes[0]), float),
                              _axis_label(view.axes[0]), "g2" if kind == "g2" else "counts per bin")
        elif kind == "frames":
            self._mode, self._handlers = "frames", {view.dataset: [self._take_frame]}
            self._frame_rows = max(1, min(int(plan.dataset(view.dataset).shape[0]), _MAX_FRAME_ROWS))
            self._set_labels(self.spectrum_plot, "latest spectrum", "wavelength (nm)", "counts")
            self._set_labels(self.map_plot, view.title, "wavelength (nm)", "frame")
            self.map.clear()  # the last run's image and outlined pixel go (its grid is set as frames come)
            self._show_map_as(2, lock_aspect=False)
        elif own_panel:
            self._setup_spectral_map(plan, None)  # only the latest spectrum, for the curve view
        elif kind == "approach" or (kind == "line" and not is_spectral(plan, view.dataset)):
            self._setup_series(plan, view, spectrum)
        else:
            self._setup_spectral_map(plan, view)
        if own_panel:  # the view's own panel draws it (a ramp, a fitted approach curve): no main view
            self._show(self.main_dock, self.map_panel, False)
        self._set_panels(plan, [v for v in views if (v is not view or own_panel or beside) and v.kind != "spectrum"])
        self._dirty = False

    @staticmethod
    def _show(dock: Dock, widget: qw.QWidget, visible: bool) -> None:
        widget.setVisible(visible)
        dock.setVisible(visible)

    def _add_handler(self, name: str, handler: Handler) -> None:
        self._handlers.setdefault(name, []).append(handler)

    def _setup_series(self, plan: Any, view: Any, spectrum: Any) -> None:
        """The main view shows a value per point against a plan axis or a measured dataset; the curve view the
        latest spectrum when the plan declares one."""
        self._series, sides = series_for(plan, view)
        self._mode, self._handlers = "series", {}
        for name, side in sides.items():
            self._add_handler(name, self._take_series_y if side == "y" else self._take_series_x)
        if spectrum is not None:
            self._add_handler(spectrum.dataset, self._take_latest_spectrum)
            self._set_labels(self.spectrum_plot, spectrum.title, "wavelength (nm)", "counts")
        else:
            self._show(self.curve_dock, self.spectrum_plot, False)
        self._set_labels(self.map_plot, view.title, *series_labels(plan, view))
        self._show_map_as(1)

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

    def _setup_spectral_map(self, plan: Any, view: Any) -> None:
        self._mode, self._handlers = "spectra", {"spectra": [self._take_spectrum]}
        self._set_labels(self.spectrum_plot, "latest spectrum", "wavelength (nm)", "counts")
        if view is not None and view.kind == "map":
            x, y = (np.asarray(plan.axis(name), float) for name in view.axes[:2])
            self._map = np.full((y.size, x.size), np.nan)
            self._map_rect = pixel_rect(x, y)
            self.map.set_quantity(view.title, "counts")
            self.map.set_grid(x, y, *(_axis_label(name, "stage ").split(" (")[0] for name in view.axes[:2]))
            self.map_plot.setTitle(view.title)
            self._show_map_as(2)
            return
        else:
            if view is not None and view.kind == "line":
                self._line_axis = np.asarray(plan.axis(view.axes[0]), float)
            self._map = np.full(self._line_axis.size if self._line_axis is not None else 0, np.nan)
            labels = (_position_label(plan, view.axes[0]) if self._line_axis is not None else "step",
                      "integrated counts")
        title = view.title if view is not None and view.kind in ("map", "line") else "integrated counts"
        self._set_labels(self.map_plot, title, *labels)
        self._show_map_as(self._map.ndim)

    def _setup_count_map(self, plan: Any, view: Any, channel_labels: list[str]) -> None:
        x_um, y_um = (np.asarray(plan.axis(name), float) for name in view.axes[:2])
        n_channels = len(channel_labels)
        self._mode, self._handlers = "counts", {view.dataset: [self._take_count_line]}
        self._counts = np.full((n_channels, y_um.size, x_um.size), np.nan)
        self._n_scans = int(plan.dataset(view.dataset).shape[0])
        self._curve_x = x_um
        self._map_rect = pixel_rect(x_um, y_um)
        choice = self.channel_box.currentIndex()
        self.channel_box.blockSignals(True)
        self.channel_box.clear()
        self.channel_box.addItems([ALL_CHANNELS] + channel_labels)
        self.channel_box.setCurrentIndex(choice if 0 <= choice < self.channel_box.count() else 0)
        self.channel_box.blockSignals(False)
        self.channel_row.setVisible(True)
        self._set_labels(self.spectrum_plot, "line in progress", _axis_label(view.axes[0], "stage "), "counts")
        self.spectrum_plot.setXRange(float(x_um[0]), float(x_um[-1]), padding=0.02)  # the whole line, from its start
        self.map.set_quantity("photon counts", "counts")
        self.map.set_grid(x_um, y_um, *(_axis_label(name, "stage ").split(" (")[0] for name in view.axes[:2]))
        self.map_plot.setTitle(view.title)
        self._show_map_as(2)

    def _setup_curve(self, dataset: str, title: str, x: np.ndarray, x_label: str, y_label: str) -> None:
        """The curve view shows ``dataset`` over the known axis ``x``, filled by the run's writes; no map."""
        self._mode, self._handlers = "points", {dataset: [self._take_curve_points]}
        self._curve_x, self._curve_y = x, np.full(x.size, np.nan)
        self._set_labels(self.spectrum_plot, title, x_label, y_label)
        if self._kind == "g2":  # the counts the run's fit rule judges, as the run writes them
            for name in _G2_COUNTS:
                if self._plan.has_dataset(name) and self._plan.dataset(name).allocated:
                    self._g2_counts[name] = np.zeros(self._plan.dataset(name).shape)
                    self._add_handler(name, lambda index, value, _n=name: self._take_g2_counts(_n, index, value))
        self._show(self.main_dock, self.map_panel, self._kind == "trace")
        if self._kind == "trace":  # the main view: the histogram of counts per bin, threshold marked
            self._set_labels(self.map_plot, "intensity histogram", y_label, "bins")
            self.map.set_visible(False)
            self.map_plot.setAspectLocked(False)
            self.map_curve.setVisible(False)
            self.hist_curve.setVisible(True)

    @staticmethod
    def _set_labels(plot: pg.PlotWidget, title: str, bottom: str, left: str) -> None:
        plot.setTitle(title)
        label_axes(plot, bottom, left)

    def _show_map_as(self, ndim: int, lock_aspect: bool | None = None) -> None:
        self.map_plot.setAspectLocked(ndim == 2 if lock_aspect is None else lock_aspect)
        self.map.set_visible(ndim == 2)
        self.map_curve.setVisible(ndim == 1)

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
        cache = self._spectra
        if cache is None or not (0 <= iy < cache.shape[0] and 0 <= ix < cache.shape[1]):
            return False
        if not self._spectrum_kept[iy, ix]:
            return False
        spectrum = cache[iy, ix]
        self.cursor_spectrum = (iy, ix)
        wl = self._wavelengths_nm
        x = wl if wl is not None and wl.size == spectrum.size else np.arange(spectrum.size, dtype=float)
        self.spectrum_curve.setData(x, spectrum.astype(float), connect="finite")
        self.spectrum_plot.setTitle(f"spectrum at pixel ({ix}, {iy})")
        return True

    def g2_fit(self) -> Any:
        """The latest fit of the g2 curve (``tepl.analysis.g2.G2Fit``), or None."""
        return self._g2_fit

    def trace_threshold(self) -> float | None:
        """The ON/OFF threshold (counts per bin) drawn on the time trace, or None."""
        return self._trace_threshold

    def _g2_too_few(self) -> bool:
        """True when the g2 run's own rule refuses a fit of the counts written so far (``too_few_for_g2_fit``);
        False for a plan without those counts."""
        from tepl.procedures.counting import too_few_for_g2_fit

        if set(self._g2_counts) != set(_G2_COUNTS):
            return False
        photons, parameters = self._g2_counts["photons"], self._plan.parameters
        a, b = (int(parameters[name]["value"]) for name in ("channel_a", "channel_b"))
        return too_few_for_g2_fit(photons[a], photons[b], self._g2_counts["coincidences"])

    def _update_g2_fit(self, x: np.ndarray, y: np.ndarray) -> None:
        from tepl.analysis.g2 import fit_g2, g2_model

        if self._g2_too_few():  # what the run itself would not fit is not fitted live either
            self._g2_fit = None
            self.fit_curve.setData([], [])
            self.spectrum_plot.setTitle("g2 (no fit: too few coincidences)")
            return
        finite = np.isfinite(y)
        if finite.sum() < 8:
            return
        try:
            fit = fit_g2(x[finite], y[finite])
        except (ValueError, RuntimeError, FloatingPointError) as exc:
            self.spectrum_plot.setTitle(f"g2 (no fit: {exc})")
            return
        if not (fit.ok and 0.0 <= fit.contrast <= 1.0):  # no antibunching dip the data resolve: no fit drawn
            self._g2_fit = None
            self.fit_curve.setData([], [])
            self.spectrum_plot.setTitle("g2 (no fit: no dip resolved yet)")
            return
        self._g2_fit = fit
        self.fit_curve.setData(x, g2_model(x, fit.tau_ns, fit.contrast, fit.t0_ns, fit.irf_sigma_ns,
                                           fit.normalization, bin_width_ns=float(x[1] - x[0])))
        self.spectrum_plot.setTitle(f"g2: fit τ = {fit.tau_ns:.3g} ns, C = {fit.contrast:.3f}")

    def _update_trace(self, y: np.ndarray) -> None:
        from tepl.analysis.blinking import on_fraction

        y = y[np.isfinite(y)]
        if y.size < 2:
            return
        counts, edges = np.histogram(y, bins=min(60, max(5, int(y.max() - y.min()) + 1)))
        self.hist_curve.setData(edges, counts)
        try:
            result = on_fraction(np.rint(y))
        except ValueError:
            return
        if not result.blinks:  # one level so far (no dip the analysis separates): no threshold, no ON fraction
            self._trace_threshold = None
            self.threshold_line.setVisible(False)
            self.map_plot.setTitle("intensity histogram: one level (no ON/OFF threshold)")
            return
        self._trace_threshold = result.threshold
        self.threshold_line.setPos(result.threshold)
        self.threshold_line.setVisible(True)
        self.map_plot.setTitle(f"intensity histogram: threshold {result.threshold:.1f} counts/bin, "
                               f"ON {100 * result.on_fraction:.0f} %")

    def finish(self) -> None:
        """The run has ended: draw everything, and fit what is fitted once the data are complete."""
        self._dirty = True
        self.redraw(final=True)

    def _grow_map(self, index: tuple[int, ...]) -> None:
        if len(index) != self._map.ndim:
            self._map = np.full(tuple(i + 1 for i in index), np.nan)
            self._show_map_as(len(index))
        shape = tuple(max(n, i + 1) for n, i in zip(self._map.shape, index, strict=True))
        if shape != self._map.shape:
            grown = np.full(shape, np.nan)
            grown[tuple(slice(0, n) for n in self._map.shape)] = self._map
            self._map = grown

    def _mark_dirty(self, *_: Any) -> None:
        self._dirty = True

    def _selected_channels(self, counts: np.ndarray) -> np.ndarray:
        """``counts[channel, ...]`` summed over the channels, or the one ``channel_box`` selects."""
        choice = self.channel_box.currentIndex()
        return counts[choice - 1] if 1 <= choice <= counts.shape[0] else counts.sum(axis=0)

    def _map_values(self) -> np.ndarray:
        if self._mode == "counts":
            return self._selected_channels(self._counts) if self._counts is not None else np.empty((0, 0))
        if self._mode == "frames":
            return self._map[: self._map_rows]
        if self._mode == "series":
            return self._series.y
        return self._map

    def _curve_values(self) -> tuple[np.ndarray, np.ndarray] | None:
        y = self._curve_y
        if y is None:
            return None
        if y.ndim == 2:  # a confocal line: counts[channel, x]
            y = self._selected_channels(y)
        x = self._curve_x
        if x is None:  # a spectrum: its wavelengths when known
            wl = self._wavelengths_nm
            x = wl if wl is not None and wl.size == y.size else np.arange(y.size, dtype=float)
        n = self._curve_len if self._mode == "points" else min(x.size, y.size)
        return x[:n], y[:n]

    def _map_rect_for(self, rows: int, cols: int) -> QRectF:
        if self._mode == "frames":
            wl = self._wavelengths_nm
            x = wl if wl is not None and wl.size == cols else np.arange(cols, dtype=float)
            return pixel_rect(np.asarray(x, float), self._first_frame + np.arange(rows, dtype=float))
        return self._map_rect or QRectF(-0.5, -0.5, cols, rows)

    def _map_title(self) -> str:
        if self._mode != "counts":
            return self.map_plot.plotItem.titleLabel.text
        scan = f", scan {self._scan + 1}/{self._n_scans}" if self._n_scans > 1 else ""
        return f"counts{scan} ({self.channel_box.currentText() or ALL_CHANNELS})"

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
        return self._map_values().copy()

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
                elif self._mode == "series" or self.map_curve.isVisible():
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
            out.append({"view": view, "values": values, "x_label": plot.getAxis("bottom").labelText,
                        "y_label": plot.getAxis("left").labelText, "colour_bar": colour_bar})
        return out

    @property
    def busy(self) -> bool:
        """True while a panel still works on what arrived (a live fit in progress)."""
        return any(panel.busy for panel in self.panels)

    @property
    def first_frame_shown(self) -> int:
        """Frame number of the map's first row for a kinetic series (older frames are dropped past
        ``_MAX_FRAME_ROWS``)."""
        return self._first_frame

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
        if not self._dirty:
            return
        self._dirty = False
        self.redraws += 1
        curve = self._curve_values()
        if curve is not None and self.cursor_spectrum is None:
            self.spectrum_curve.setData(*curve, connect="finite")
            if self._kind == "g2" and (final or self.redraws % _G2_FIT_INTERVAL == 0):
                self._update_g2_fit(*curve)
            elif self._kind == "trace":
                self._update_trace(curve[1])
        title = self._map_title()
        if title != self.map_plot.plotItem.titleLabel.text:
            self.map_plot.setTitle(title)
        if self._mode == "series":
            self.map_curve.setData(*self._series.points())
            return
        if self._kind == "trace":
            return
        data = self._map_values()
        finite = np.isfinite(data)
        if data.ndim == 2 and finite.any():
            if self._mode == "frames":
                wl = self._wavelengths_nm
                cols, rows = data.shape[1], data.shape[0]
                self.map.set_extent(wl if wl is not None and wl.size == cols else np.arange(cols, dtype=float),
                                    self._first_frame + np.arange(rows, dtype=float))
            elif not self.map.rect.isValid():
                self.map.rect = self._map_rect_for(*data.shape)
            self.map.show(data, None if self._mode == "frames" else self._current)
        elif data.ndim == 1 and finite.any():
            axis = self._line_axis
            x = axis if axis is not None and axis.size == data.size else np.arange(data.size, dtype=float)
            self.map_curve.setData(x[finite], data[finite])
