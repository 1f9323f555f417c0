"""The operator console: pick a procedure, set its parameters, run it in a worker and watch it live.

The console observes (design rule 7): parameters and limits are checked here (configuration only, nothing
moves), the run itself goes to a ``ProcedureWorker`` thread, and the views are redrawn by a timer from the
latest values the run reported, so a fast procedure drops frames instead of queueing redraws.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt5 import QtWidgets as qw
from PyQt5.QtCore import QRectF, Qt, QTimer

from tepl.gui.worker import ProcedureWorker
from tepl.procedures import PROCEDURES, Parameter, make_procedure

_INT_LIMIT = 2**31 - 1
_FLOAT_LIMIT = 1e15
FINAL_STATUSES = ("complete", "aborted", "failed")


def _decimals(param: Parameter) -> int:
    """Decimals a spin box needs to show the parameter's bounds and default exactly (2 to 6)."""
    values = [float(v) for v in (param.low, param.high, param.default) if v is not None]
    return max([2] + [next((d for d in range(7) if math.isclose(round(v, d), v, rel_tol=1e-12)), 6)
                      for v in values])


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
                 parent: qw.QWidget | None = None):
        super().__init__(parent)
        self.station = station
        self.out_dir = Path(out_dir)
        self.worker: ProcedureWorker | None = None
        self.run_path: Path | None = None
        self.run_status: str | None = None
        self.run_reason: str | None = None
        self._editors: dict[str, dict[str, qw.QWidget]] = {}
        self._wavelengths_nm: np.ndarray | None = None
        self._latest_spectrum: np.ndarray | None = None
        self._integrated: np.ndarray = np.empty(0)
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
        self._set_running(False)

    # ---- layout ----------------------------------------------------------------------------------------
    def _build_controls(self) -> None:
        self._controls = qw.QWidget()
        layout = qw.QVBoxLayout(self._controls)
        self.procedure_box = qw.QComboBox()
        self.forms = qw.QStackedWidget()
        for name, cls in PROCEDURES.items():
            self.procedure_box.addItem(name)
            self.procedure_box.setItemData(self.procedure_box.count() - 1, cls.summary, Qt.ToolTipRole)
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
        layout.addStretch(1)

    def _build_views(self) -> None:
        self._views = qw.QSplitter(Qt.Vertical)
        self.spectrum_plot = pg.PlotWidget(title="latest spectrum")
        self.spectrum_plot.setLabels(bottom="wavelength (nm)", left="counts")
        self.spectrum_curve = self.spectrum_plot.plot(pen=pg.mkPen("y"))
        self.map_plot = pg.PlotWidget(title="integrated counts")
        self.map_image = pg.ImageItem(axisOrder="row-major")
        self.map_plot.addItem(self.map_image)
        self.map_curve = self.map_plot.plot(pen=pg.mkPen("c"), symbol="o", symbolSize=4)
        self.log_pane = qw.QPlainTextEdit(readOnly=True, maximumBlockCount=5000)
        for widget in (self.spectrum_plot, self.map_plot, self.log_pane):
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
        self.worker = worker = ProcedureWorker(procedure, self.station, self.run_path)
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
        """Buffer the newest values only; ``redraw`` shows them at the timer's pace."""
        if name != "spectra" or not isinstance(value, np.ndarray) or value.ndim == 0:
            return
        spectrum = value if value.ndim == 1 else value.reshape(-1, value.shape[-1])[-1]
        self._latest_spectrum = spectrum
        self._dirty = True
        index = index if isinstance(index, tuple) else (index,)
        if value.ndim != 1 or not all(isinstance(i, (int, np.integer)) and i >= 0 for i in index):
            return  # a whole block at once (e.g. a slice): shown as a spectrum, not placed on the map
        index = tuple(int(i) for i in index)
        self._grow_map(index)
        self._integrated[index] = float(np.nansum(spectrum))

    # ---- views ---------------------------------------------------------------------------------------------
    def _reset_views(self, procedure: Any) -> None:
        self._latest_spectrum = None
        self._line_axis = None
        self._map_rect = None
        self.progress_bar.reset()
        self.spectrum_curve.setData([], [])
        self.map_curve.setData([], [])
        self.map_image.clear()
        if hasattr(procedure, "axes_nm"):
            x_nm, y_nm = procedure.axes_nm()
            self._integrated = np.full((y_nm.size, x_nm.size), np.nan)
            dx = float(x_nm[1] - x_nm[0]) if x_nm.size > 1 else 1.0
            dy = float(y_nm[1] - y_nm[0]) if y_nm.size > 1 else 1.0
            self._map_rect = QRectF(x_nm[0] - dx / 2, y_nm[0] - dy / 2, dx * x_nm.size, dy * y_nm.size)
            labels = ("stage x (nm)", "stage y (nm)")
        else:
            if hasattr(procedure, "axis_nm"):
                self._line_axis = np.asarray(procedure.axis_nm(), float)
            self._integrated = np.full(self._line_axis.size if self._line_axis is not None else 0, np.nan)
            labels = ("stage x (nm)" if self._line_axis is not None else "step", "integrated counts")
        self.map_plot.setLabel("bottom", labels[0])
        self.map_plot.setLabel("left", labels[1])
        self._show_map_as(self._integrated.ndim)
        self._dirty = False

    def _show_map_as(self, ndim: int) -> None:
        self.map_plot.setAspectLocked(ndim == 2)
        self.map_image.setVisible(ndim == 2)
        self.map_curve.setVisible(ndim == 1)

    def _grow_map(self, index: tuple[int, ...]) -> None:
        if len(index) != self._integrated.ndim:
            self._integrated = np.full(tuple(i + 1 for i in index), np.nan)
            self._show_map_as(len(index))
        shape = tuple(max(n, i + 1) for n, i in zip(self._integrated.shape, index, strict=True))
        if shape != self._integrated.shape:
            grown = np.full(shape, np.nan)
            grown[tuple(slice(0, n) for n in self._integrated.shape)] = self._integrated
            self._integrated = grown

    def spectrum_data(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(x, counts) the spectrum view shows."""
        return self.spectrum_curve.xData, self.spectrum_curve.yData

    def integrated_counts(self) -> np.ndarray:
        """Integrated counts per pixel or step received so far (NaN where nothing arrived yet)."""
        return self._integrated.copy()

    def redraw(self) -> None:
        """Draw the newest buffered values, if anything arrived since the last redraw."""
        if not self._dirty:
            return
        self._dirty = False
        spectrum = self._latest_spectrum
        if spectrum is not None:
            wl = self._wavelengths_nm
            x = wl if wl is not None and wl.size == spectrum.size else np.arange(spectrum.size, dtype=float)
            self.spectrum_curve.setData(x, spectrum)
        data = self._integrated
        finite = np.isfinite(data)
        if data.ndim == 2 and finite.any():
            lo, hi = float(data[finite].min()), float(data[finite].max())
            self.map_image.setImage(np.where(finite, data, lo), levels=(lo, hi if hi > lo else lo + 1.0))
            rows, cols = data.shape
            self.map_image.setRect(self._map_rect or QRectF(-0.5, -0.5, cols, rows))
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
        super().closeEvent(event)
