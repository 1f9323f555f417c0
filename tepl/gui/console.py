"""The operator console: pick a procedure, set its parameters, run it in a worker and watch it live.

The console observes (design rule 7): parameters and limits are checked here (configuration only, nothing
moves), the run itself goes to a ``ProcedureWorker`` thread, and the views are redrawn by a timer from the
latest values the run reported, so a fast procedure drops frames instead of queueing redraws. Between runs a
``StatusPoller`` thread reads the station's status (stage, tip, CCD temperature, shutters, count rates) into
the station panel; a run holds the station lock, so the poller never talks to an instrument a run is using.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtWidgets as qw
from PyQt5.QtCore import QRectF, Qt, QTimer

from tepl.gui.status import StatusPoller, describe_status
from tepl.gui.worker import ProcedureWorker
from tepl.procedures import PROCEDURES, Parameter, make_procedure

_INT_LIMIT = 2**31 - 1
_FLOAT_LIMIT = 1e15
FINAL_STATUSES = ("complete", "aborted", "failed")
_MAX_FRAME_ROWS = 2000  # a kinetic series' map keeps this many of the newest frames
ALL_CHANNELS = "sum of all channels"


def _decimals(param: Parameter) -> int:
    """Decimals a spin box needs to show the parameter's bounds and default exactly (2 to 6)."""
    values = [float(v) for v in (param.low, param.high, param.default) if v is not None]
    return max([2] + [next((d for d in range(7) if math.isclose(round(v, d), v, rel_tol=1e-12)), 6)
                      for v in values])


def _is_position(index: Any) -> bool:
    """True for a plain non-negative integer index (a pixel, line, step or frame number)."""
    return isinstance(index, (int, np.integer)) and not isinstance(index, bool) and index >= 0


def _pixel_rect(x: np.ndarray, y: np.ndarray) -> QRectF:
    """The rectangle an image of pixels centred on the grid ``x`` (columns) x ``y`` (rows) covers."""
    dx = float(x[1] - x[0]) if x.size > 1 else 1.0
    dy = float(y[1] - y[0]) if y.size > 1 else 1.0
    return QRectF(float(x[0]) - dx / 2, float(y[0]) - dy / 2, dx * x.size, dy * y.size)


def make_editor(param: Parameter) -> qw.QWidget:
    """The input widget of one parameter: a bounded spin box (unit as suffix), a combo box for choices, a
    check box for a bool, a line edit for free text. The tooltip is the parameter's doc and bounds."""
    suffix = f" {param.unit}" if param.unit else ""
    if param.kind is bool:
        widget: qw.QWidget = qw.QCheckBox()
        widget.setChecked(bool(param.default))
    elif param.choices:
        widget = qw.QComboBox()
        widget.addItems(list(param.choices))
        widget.setCurrentText(str(param.default))
    elif param.kind is int:
        widget = qw.QSpinBox(suffix=suffix)
        widget.setRange(-_INT_LIMIT if param.low is None else int(math.ceil(param.low)),
                        _INT_LIMIT if param.high is None else int(math.floor(param.high)))
        widget.setValue(int(param.default))
    elif param.kind is float:
        widget = qw.QDoubleSpinBox(suffix=suffix, decimals=_decimals(param),
                                   stepType=qw.QAbstractSpinBox.AdaptiveDecimalStepType)
        widget.setRange(-_FLOAT_LIMIT if param.low is None else float(param.low),
                        _FLOAT_LIMIT if param.high is None else float(param.high))
        widget.setValue(float(param.default))
    else:
        widget = qw.QLineEdit(str(param.default))
    widget.setObjectName(param.name)
    widget.setToolTip(param.describe())
    return widget


def editor_value(widget: qw.QWidget) -> Any:
    """The value an editor made by ``make_editor`` holds."""
    if isinstance(widget, qw.QCheckBox):
        return widget.isChecked()
    if isinstance(widget, qw.QComboBox):
        return widget.currentText()
    if isinstance(widget, (qw.QSpinBox, qw.QDoubleSpinBox)):
        return widget.value()
    return widget.text()


class Console(qw.QMainWindow):
    """Operator console over one station; each run writes ``<out_dir>/<procedure>-<timestamp>.h5``."""

    def __init__(self, station: Any, out_dir: str | Path, redraw_hz: float = 10.0,
                 status_interval_s: float | None = 1.0, parent: qw.QWidget | None = None):
        super().__init__(parent)
        self.station = station
        self.station_lock = threading.Lock()  # held by a run, and by the poller for each status read
        self.last_status: dict | None = None
        self.out_dir = Path(out_dir)
        self.worker: ProcedureWorker | None = None
        self.run_path: Path | None = None
        self.run_status: str | None = None
        self.run_reason: str | None = None
        self._editors: dict[str, dict[str, qw.QWidget]] = {}
        self._wavelengths_nm: np.ndarray | None = None
        # what the run's "data" events left for the views; ``redraw`` draws it (see ``_reset_views``)
        self._mode = "spectra"
        self._handlers: dict[str, Callable[[Any, np.ndarray], None]] = {}
        self._unplaced: set[str] = set()
        self._curve_x: np.ndarray | None = None  # None: the wavelengths of the spectrum in _curve_y
        self._curve_y: np.ndarray | None = None
        self._curve_len = 0  # points of _curve_y received so far (a growing trace)
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
        self._paused = False
        self._active = False
        self.setWindowTitle(f"tepl console: {getattr(station, 'name', 'station')}")
        self._build_controls()
        self._build_views()
        splitter = qw.QSplitter(Qt.Horizontal)
        splitter.addWidget(self._controls)
        splitter.addWidget(self._views)
        splitter.setStretchFactor(1, 1)
        self.setCentralWidget(splitter)
        self.statusBar().showMessage(f"station {getattr(station, 'name', '')}; runs go to {self.out_dir}")
        self.redraw_timer = QTimer(self, interval=max(1, int(1000.0 / redraw_hz)), timeout=self.redraw)
        self.redraw_timer.start()
        self.poller: StatusPoller | None = None
        if status_interval_s is not None:
            self.poller = StatusPoller(station, self.station_lock, status_interval_s)
            self.poller.polled.connect(self._on_station_status)
            self.poller.start()
        self._set_running(False)

    # ---- layout ----------------------------------------------------------------------------------------
    def _build_controls(self) -> None:
        self._controls = qw.QWidget()
        layout = qw.QVBoxLayout(self._controls)
        self.procedure_box = qw.QComboBox()
        self.forms = qw.QStackedWidget()
        for name, cls in PROCEDURES.items():
            self.procedure_box.addItem(name)
            index = self.procedure_box.count() - 1
            missing = [role for role in cls.roles if not self.station.has_role(role)]
            if missing:  # listed greyed out, so the operator sees what this station cannot run and why
                self.procedure_box.model().item(index).setEnabled(False)
                self.procedure_box.setItemData(index, f"{cls.summary} (needs {', '.join(missing)}, which "
                                                      f"this station lacks)", Qt.ToolTipRole)
            else:
                self.procedure_box.setItemData(index, cls.summary, Qt.ToolTipRole)
            page = qw.QWidget()
            form = qw.QFormLayout(page)
            self._editors[name] = {}
            for param in cls.parameters:
                editor = make_editor(param)
                label = qw.QLabel(param.name)
                label.setToolTip(param.doc)
                form.addRow(label, editor)
                self._editors[name][param.name] = editor
            self.forms.addWidget(page)
        self.procedure_box.currentIndexChanged.connect(self.forms.setCurrentIndex)
        runnable = [i for i in range(self.procedure_box.count()) if self.procedure_box.model().item(i).isEnabled()]
        if runnable:
            self.procedure_box.setCurrentIndex(runnable[0])
        layout.addWidget(qw.QLabel("procedure"))
        layout.addWidget(self.procedure_box)
        layout.addWidget(self.forms)
        buttons = {}
        for row_spec in ((("Dry run", self.dry_run, "check limits and estimate time, move nothing"),
                          ("Start", self.start_run, "run into a new file in the output folder")),
                         (("Pause", self.toggle_pause, "wait at the next safe point / go on"),
                          ("Stop", self.stop_run, "finish the current line, keep the data, end cleanly"),
                          ("Abort", lambda: self.abort_run(), "end at the next safe point: tip withdrawn, "
                                                              "shutter closed"))):
            row = qw.QHBoxLayout()
            for text, slot, tip in row_spec:
                buttons[text] = qw.QPushButton(text, toolTip=tip)
                buttons[text].clicked.connect(slot)
                row.addWidget(buttons[text])
            layout.addLayout(row)
        self.dry_run_button, self.start_button, self.pause_button, self.stop_button, self.abort_button = (
            buttons[name] for name in ("Dry run", "Start", "Pause", "Stop", "Abort"))
        self.progress_bar = qw.QProgressBar()
        layout.addWidget(self.progress_bar)
        layout.addWidget(qw.QLabel("station"))
        self.station_label = qw.QLabel("not read yet", wordWrap=True,
                                       toolTip="read between runs; a run holds the station")
        self.station_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout.addWidget(self.station_label)
        layout.addStretch(1)

    def _build_views(self) -> None:
        self._views = qw.QSplitter(Qt.Vertical)
        self.spectrum_plot = pg.PlotWidget(title="latest spectrum")
        self.spectrum_plot.setLabels(bottom="wavelength (nm)", left="counts")
        self.spectrum_curve = self.spectrum_plot.plot(pen=pg.mkPen("y"))
        self.spectrum_curve.setDownsampling(auto=True, method="peak")  # a long time trace stays fast to draw
        self.spectrum_curve.setClipToView(True)
        self.map_plot = pg.PlotWidget(title="integrated counts")
        self.map_image = pg.ImageItem(axisOrder="row-major")
        self.map_plot.addItem(self.map_image)
        self.map_curve = self.map_plot.plot(pen=pg.mkPen("c"), symbol="o", symbolSize=4)
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
        self.channel_row.setVisible(False)
        self.log_pane = qw.QPlainTextEdit(readOnly=True, maximumBlockCount=5000)
        for widget in (self.spectrum_plot, self.map_panel, self.log_pane):
            self._views.addWidget(widget)

    # ---- parameters --------------------------------------------------------------------------------------
    def select_procedure(self, name: str) -> None:
        self.procedure_box.setCurrentIndex(list(PROCEDURES).index(name))

    def editor(self, procedure: str, parameter: str) -> qw.QWidget:
        """The input widget of ``parameter`` in the form of ``procedure``."""
        return self._editors[procedure][parameter]

    def values(self, procedure: str | None = None) -> dict[str, Any]:
        """The form's values of ``procedure`` (default: the selected one)."""
        editors = self._editors[procedure or self.procedure_box.currentText()]
        return {name: editor_value(widget) for name, widget in editors.items()}

    def _checked_procedure(self):
        """The selected procedure built from the form and checked against the station's limits, or None after
        logging why not. Returns (procedure, dry-run text)."""
        name = self.procedure_box.currentText()
        try:
            procedure = make_procedure(name, **self.values(name))
            with self.station_lock:  # waits for a status read in progress
                return procedure, procedure.dry_run(self.station)
        except Exception as exc:  # ParameterError, LimitError, or anything a check raises: nothing starts
            self.log(f"{name} refused: {exc}")
            self.statusBar().showMessage(f"{name} refused: {exc}")
            return None, ""

    # ---- actions ---------------------------------------------------------------------------------------
    def log(self, message: str) -> None:
        self.log_pane.appendPlainText(f"{datetime.now():%H:%M:%S}  {message}")

    def dry_run(self) -> None:
        procedure, text = self._checked_procedure()
        if procedure is not None:
            self.log(text)

    def next_run_path(self, name: str) -> Path:
        """``<out_dir>/<name>-<YYYYmmdd-HHMMSS>.h5``, with ``-2``, ``-3`` ... when that file exists."""
        stem = f"{name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
        path, n = self.out_dir / f"{stem}.h5", 1
        while path.exists():
            n += 1
            path = self.out_dir / f"{stem}-{n}.h5"
        return path

    def start_run(self) -> bool:
        """Check the form and the limits, then start the run in a worker; False (why: in the log) if not."""
        if self.is_running():
            return False
        procedure, _ = self._checked_procedure()
        if procedure is None:
            return False
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.log(f"cannot create the output folder {self.out_dir}: {exc}")
            return False
        if self.worker is not None:  # the previous run's thread has ended or is just leaving its loop
            self.worker.wait()
        self.run_path = self.next_run_path(procedure.name)
        self.run_status = self.run_reason = None
        self._reset_views(procedure)
        self.worker = worker = ProcedureWorker(procedure, self.station, self.run_path,
                                               station_lock=self.station_lock)
        for signal, slot in ((worker.wavelengths, self._on_wavelengths), (worker.log, self.log),
                             (worker.progress, self._on_progress), (worker.status, self._on_status),
                             (worker.data, self._on_data), (worker.failed, self._on_failed),
                             (worker.finished, self._on_finished)):
            signal.connect(slot)
        estimate_s = procedure.estimate_s(self.station)
        self.log(f"{procedure.name} started: {self.run_path} (estimated {estimate_s:.1f} s)")
        self.statusBar().showMessage(f"{procedure.name} running: {self.run_path}")
        self._active = True
        self._set_running(True)
        self.station_label.setText("held by the run")
        worker.start()
        return True

    def is_running(self) -> bool:
        """True from Start until the console has handled the worker's ``finished`` signal."""
        return self._active

    def toggle_pause(self) -> None:
        if not self.is_running():
            return
        self._paused = not self._paused
        if self._paused:
            self.worker.pause()
            self.log("pause requested: the run waits at its next safe point")
        else:
            self.worker.resume()
            self.log("resume requested")
        self.pause_button.setText("Resume" if self._paused else "Pause")

    def stop_run(self) -> None:
        if self.is_running():
            self.worker.stop()
            self.stop_button.setEnabled(False)
            self.log("stop requested: the run ends after the current line")

    def abort_run(self, reason: str = "aborted by the operator") -> None:
        if self.is_running():
            self.worker.abort(reason)
            for button in (self.pause_button, self.stop_button, self.abort_button):
                button.setEnabled(False)
            self.log(f"abort requested: {reason}")

    def _set_running(self, running: bool) -> None:
        self._paused = False
        self.pause_button.setText("Pause")
        for widget in (self.procedure_box, self.forms, self.dry_run_button, self.start_button):
            widget.setEnabled(not running)
        for button in (self.pause_button, self.stop_button, self.abort_button):
            button.setEnabled(running)

    def _on_station_status(self, status: dict) -> None:
        self.last_status = status
        names = [spec.get("name") or f"ch {i}" for i, spec in enumerate(self._channel_specs())]
        self.station_label.setText(describe_status(status, names, sep="\n"))

    # ---- events from the worker (UI thread, queued) ---------------------------------------------------
    def _on_wavelengths(self, wavelengths_nm: np.ndarray) -> None:
        self._wavelengths_nm = wavelengths_nm

    def _on_progress(self, done: int, total: int, message: str) -> None:
        self.progress_bar.setMaximum(max(total, 1))
        self.progress_bar.setValue(min(done, max(total, 1)))
        self.progress_bar.setFormat(message or "%v/%m")

    def _on_status(self, message: str, data: dict) -> None:
        if message in ("paused", "resumed"):
            self.log(f"run {message}")
            return
        self.run_status, self.run_reason = message, data.get("reason")
        reason = f" ({self.run_reason})" if self.run_reason else ""
        self.log(f"run {message}{reason}: {data.get('path', self.run_path)}")
        self.statusBar().showMessage(f"{data.get('path', self.run_path)}: {message}{reason}")

    def _on_failed(self, message: str) -> None:
        self.log(f"run failed: {message}")
        self.run_reason = self.run_reason or message
        if self.run_status is None:
            self.run_status = "failed"
            self.statusBar().showMessage(f"{self.run_path}: failed ({message})")

    def _on_finished(self, status: str) -> None:
        self.run_status = self.run_status or status
        self._active = False
        self._set_running(False)
        self.redraw()

    def _on_data(self, name: str, index: Any, value: Any) -> None:
        """Buffer the newest values only; ``redraw`` shows them at the timer's pace. Which datasets are
        buffered, and how, depends on the run (see ``_reset_views``)."""
        handler = self._handlers.get(name)
        if handler is None or not isinstance(value, np.ndarray) or value.ndim == 0:
            return
        try:
            handler(index, value)
        except (IndexError, ValueError, TypeError) as exc:  # a view problem must never end the console
            if name not in self._unplaced:
                self._unplaced.add(name)
                self.log(f"live view: {name}[{index!r}] of shape {value.shape} not shown ({exc})")

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
        """A confocal raster's line ``counts[scan, :, iy]`` (one row of counts per channel)."""
        if not (isinstance(index, tuple) and len(index) == 3 and value.ndim == 2):
            raise ValueError("expected counts[scan, :, line] = counts[channel, x]")
        scan, _, iy = index
        if not (_is_position(scan) and _is_position(iy)):
            raise ValueError("expected a scan and a line number")
        if self._counts.shape[0] != value.shape[0]:  # the counter reports another number of channels
            self._counts = np.full((value.shape[0],) + self._counts.shape[1:], np.nan)
        if int(scan) != self._scan:  # a new scan: the map shows it from its first line
            self._counts.fill(np.nan)
            self._scan = int(scan)
        self._counts[:, int(iy)] = value
        self._curve_y = value
        self._dirty = True

    def _take_curve_points(self, index: Any, value: np.ndarray) -> None:
        """Points of a curve with a known x axis (g2 after each block, bins of a time trace as it grows)."""
        covered = range(self._curve_y.size)[index]
        self._curve_y[index] = value
        stop = covered + 1 if isinstance(covered, int) else (max(covered[0], covered[-1]) + 1 if covered else 0)
        self._curve_len = max(self._curve_len, stop)
        self._dirty = True

    # ---- views ---------------------------------------------------------------------------------------------
    def _reset_views(self, procedure: Any) -> None:
        """Empty the views and choose what they show for ``procedure``:

        - a confocal raster (``axes_um``): the count image of the scan in progress in µm, summed over the
          channels or one channel (``channel_box``); the curve view: the last line;
        - g2 (``lag_edges_ps``): the curve view shows g2 vs lag (ns); no map;
        - a time trace (``n_bins`` and ``bin_s``): the curve view shows counts per bin vs time (s); no map;
        - a series of spectra (a ``frames`` parameter): the latest spectrum, and the map one row per frame;
        - any other procedure writing ``spectra``: the latest spectrum, and its integrated counts on the map
          (a raster's ``axes_nm``, a line's ``axis_nm``, or the step number).
        """
        self._unplaced.clear()
        self._curve_x = self._curve_y = None
        self._curve_len = 0
        self._counts = None
        self._scan, self._n_scans = 0, 1
        self._map = np.empty(0)
        self._map_rows = self._first_frame = 0
        self._line_axis = None
        self._map_rect = None
        self.progress_bar.reset()
        self.spectrum_curve.setData([], [])
        self.map_curve.setData([], [])
        self.map_image.clear()
        self.map_panel.setVisible(True)
        self.channel_row.setVisible(False)
        values = procedure.params.values
        if hasattr(procedure, "axes_um"):
            self._setup_count_map(procedure)
        elif hasattr(procedure, "lag_edges_ps"):
            edges_ps = np.asarray(procedure.lag_edges_ps(), float)
            self._setup_curve("g2", "g2", 0.5 * (edges_ps[:-1] + edges_ps[1:]) / 1000.0, "lag (ns)", "g2")
        elif hasattr(procedure, "n_bins") and "bin_s" in values:
            bin_s = float(values["bin_s"])
            self._setup_curve("counts", f"counts per {bin_s:g} s bin",
                              (np.arange(procedure.n_bins()) + 0.5) * bin_s, "time (s)", "counts per bin")
        elif "frames" in values:
            self._mode, self._handlers = "frames", {"spectra": self._take_frame}
            self._frame_rows = max(1, min(int(values["frames"]), _MAX_FRAME_ROWS))
            self._set_labels(self.spectrum_plot, "latest spectrum", "wavelength (nm)", "counts")
            self._set_labels(self.map_plot, "spectra vs frame", "wavelength (nm)", "frame")
            self._show_map_as(2, lock_aspect=False)
        else:
            self._setup_spectral_map(procedure)
        self._dirty = False

    def _setup_spectral_map(self, procedure: Any) -> None:
        self._mode, self._handlers = "spectra", {"spectra": self._take_spectrum}
        self._set_labels(self.spectrum_plot, "latest spectrum", "wavelength (nm)", "counts")
        if hasattr(procedure, "axes_nm"):
            x_nm, y_nm = procedure.axes_nm()
            self._map = np.full((y_nm.size, x_nm.size), np.nan)
            self._map_rect = _pixel_rect(x_nm, y_nm)
            labels = ("stage x (nm)", "stage y (nm)")
        else:
            if hasattr(procedure, "axis_nm"):
                self._line_axis = np.asarray(procedure.axis_nm(), float)
            self._map = np.full(self._line_axis.size if self._line_axis is not None else 0, np.nan)
            labels = ("stage x (nm)" if self._line_axis is not None else "step", "integrated counts")
        self._set_labels(self.map_plot, "integrated counts", *labels)
        self._show_map_as(self._map.ndim)

    def _setup_count_map(self, procedure: Any) -> None:
        x_um, y_um = (np.asarray(a, float) for a in procedure.axes_um())
        n_channels = int(self.station.tcspc.n_channels)
        self._mode, self._handlers = "counts", {"counts": self._take_count_line}
        self._counts = np.full((n_channels, y_um.size, x_um.size), np.nan)
        self._n_scans = int(procedure.params.values.get("scans", 1))
        self._curve_x = x_um
        self._map_rect = _pixel_rect(x_um, y_um)
        choice = self.channel_box.currentIndex()
        self.channel_box.blockSignals(True)
        self.channel_box.clear()
        self.channel_box.addItems([ALL_CHANNELS] + self._channel_names(n_channels))
        self.channel_box.setCurrentIndex(choice if 0 <= choice < self.channel_box.count() else 0)
        self.channel_box.blockSignals(False)
        self.channel_row.setVisible(True)
        self._set_labels(self.spectrum_plot, "last line", "stage x (µm)", "counts")
        self._set_labels(self.map_plot, "counts", "stage x (µm)", "stage y (µm)")
        self._show_map_as(2)

    def _setup_curve(self, dataset: str, title: str, x: np.ndarray, x_label: str, y_label: str) -> None:
        """The curve view shows ``dataset`` over the known axis ``x``, filled by the run's writes; no map."""
        self._mode, self._handlers = "points", {dataset: self._take_curve_points}
        self._curve_x, self._curve_y = x, np.full(x.size, np.nan)
        self._set_labels(self.spectrum_plot, title, x_label, y_label)
        self.map_panel.setVisible(False)

    def _channel_specs(self) -> list[dict]:
        """The photon-counter channels of the station's config (name, band_nm), ``{}`` where one is unnamed."""
        try:
            channels = list(self.station.config.data["instruments"]["tcspc"].get("channels") or [])
        except (AttributeError, KeyError, TypeError):
            channels = []
        return [spec if isinstance(spec, dict) else {} for spec in channels]

    def _channel_names(self, n_channels: int) -> list[str]:
        """``channel i: <name> <band> nm`` from the station's photon-counter config where it names them."""
        channels = self._channel_specs()
        names = []
        for i in range(n_channels):
            spec = channels[i] if i < len(channels) else {}
            band = spec.get("band_nm")
            label = f"channel {i}" + (f": {spec['name']}" if spec.get("name") else "")
            names.append(label + (f" {band[0]:g}-{band[1]:g} nm" if band and len(band) == 2 else ""))
        return names

    @staticmethod
    def _set_labels(plot: pg.PlotWidget, title: str, bottom: str, left: str) -> None:
        plot.setTitle(title)
        plot.setLabel("bottom", bottom)
        plot.setLabel("left", left)

    def _show_map_as(self, ndim: int, lock_aspect: bool | None = None) -> None:
        self.map_plot.setAspectLocked(ndim == 2 if lock_aspect is None else lock_aspect)
        self.map_image.setVisible(ndim == 2)
        self.map_curve.setVisible(ndim == 1)

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
            return _pixel_rect(np.asarray(x, float), self._first_frame + np.arange(rows, dtype=float))
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

    def integrated_counts(self) -> np.ndarray:
        """Integrated counts per pixel or step received so far (NaN where nothing arrived yet); for any run,
        what the map view holds (``map_data``)."""
        return self.map_data()

    @property
    def first_frame_shown(self) -> int:
        """Frame number of the map's first row for a kinetic series (older frames are dropped past
        ``_MAX_FRAME_ROWS``)."""
        return self._first_frame

    def redraw(self) -> None:
        """Draw the newest buffered values, if anything arrived since the last redraw."""
        if not self._dirty:
            return
        self._dirty = False
        curve = self._curve_values()
        if curve is not None:
            self.spectrum_curve.setData(*curve, connect="finite")
        title = self._map_title()
        if title != self.map_plot.plotItem.titleLabel.text:
            self.map_plot.setTitle(title)
        data = self._map_values()
        finite = np.isfinite(data)
        if data.ndim == 2 and finite.any():
            lo, hi = float(data[finite].min()), float(data[finite].max())
            self.map_image.setImage(np.where(finite, data, lo), levels=(lo, hi if hi > lo else lo + 1.0))
            self.map_image.setRect(self._map_rect_for(*data.shape))
        elif data.ndim == 1 and finite.any():
            axis = self._line_axis
            x = axis if axis is not None and axis.size == data.size else np.arange(data.size, dtype=float)
            self.map_curve.setData(x[finite], data[finite])

    # ---- closing -----------------------------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.worker is not None and self.worker.is_running():
            self.abort_run("console closed during the run")
            self.worker.wait()
        self.redraw_timer.stop()
        if self.poller is not None:
            self.poller.stop()
        super().closeEvent(event)
