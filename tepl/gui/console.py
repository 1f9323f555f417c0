"""The operator console: pick a procedure, set its parameters, run it in a worker and watch it live.

The console observes (design rule 7): parameters and limits are checked here (configuration only, nothing
moves), the run itself goes to a ``ProcedureWorker`` thread, and its writes go to the ``LiveViews``, which
draw the latest values at a timer's pace (``tepl.gui.views``). Between runs a
``StatusPoller`` thread reads the station's status (stage, tip, CCD temperature, shutters, count rates) into
the station panel; a run holds the station lock, so the poller never talks to an instrument a run is using.
"""

from __future__ import annotations

import math
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from PyQt5 import QtWidgets as qw
from PyQt5.QtCore import Qt

from tepl.gui.status import StatusPoller, describe_status
from tepl.gui.views import LiveViews
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
                 status_interval_s: float | None = 1.0, parent: qw.QWidget | None = None):
        super().__init__(parent)
        self.station = station
        self.station_lock = threading.Lock()  # held by a run, and by the poller for each status read
        self.last_status: dict | None = None
        self.out_dir = Path(out_dir)
        self.worker: ProcedureWorker | None = None
        self.plan = None  # the running (or last) run's plan, from the worker
        self.run_path: Path | None = None
        self.run_status: str | None = None
        self.run_reason: str | None = None
        self._editors: dict[str, dict[str, qw.QWidget]] = {}
        self._paused = False
        self._active = False
        self.setWindowTitle(f"tepl console: {getattr(station, 'name', 'station')}")
        self._build_controls()
        self.views = LiveViews(redraw_hz, log=self.log)
        self.log_pane = qw.QPlainTextEdit(readOnly=True, maximumBlockCount=5000)
        self.views.addWidget(self.log_pane)
        splitter = qw.QSplitter(Qt.Horizontal)
        splitter.addWidget(self._controls)
        splitter.addWidget(self.views)
        splitter.setStretchFactor(1, 1)
        self.setCentralWidget(splitter)
        self.statusBar().showMessage(f"station {getattr(station, 'name', '')}; runs go to {self.out_dir}")
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
                editor = make_editor(param.on_station(self.station.limits))
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

    def _dry_run_text(self) -> str | None:
        """The selected procedure's plan in words, or None after logging why it is refused."""
        procedure = self._checked_parameters()
        if procedure is None:
            return None
        try:
            with self.station_lock:  # waits for a status read in progress
                return procedure.dry_run(self.station, self.out_dir)
        except Exception as exc:  # LimitError, or anything planning raises: nothing starts
            self._refused(f"{procedure.name} refused: {exc}")
            return None

    # ---- actions ---------------------------------------------------------------------------------------
    def log(self, message: str) -> None:
        self.log_pane.appendPlainText(f"{datetime.now():%H:%M:%S}  {message}")

    def dry_run(self) -> None:
        text = self._dry_run_text()
        if text is not None:
            self.log(text)

    def next_run_path(self, name: str) -> Path:
        """``<out_dir>/<name>-<YYYYmmdd-HHMMSS>.h5``, with ``-2``, ``-3`` ... when that file exists."""
        stem = f"{name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
        path, n = self.out_dir / f"{stem}.h5", 1
        while path.exists():
            n += 1
            path = self.out_dir / f"{stem}-{n}.h5"
        return path

    def _checked_parameters(self):
        """The selected procedure built from the form, or None after logging why not."""
        name = self.procedure_box.currentText()
        try:
            return make_procedure(name, **self.values(name))
        except Exception as exc:  # ParameterError: nothing starts
            self._refused(f"{name} refused: {exc}")
            return None

    def _refused(self, message: str) -> None:
        self.log(message)
        self.statusBar().showMessage(message)

    def start_run(self) -> bool:
        """Check the form, then start the run in a worker, which plans it (checking the limits) before anything
        moves; False (why: in the log) if the form is refused. A plan's refusal arrives as ``refused``."""
        if self.is_running():
            return False
        procedure = self._checked_parameters()
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
        self.progress_bar.reset()
        self.plan = None
        self.worker = worker = ProcedureWorker(procedure, self.station, self.run_path,
                                               station_lock=self.station_lock)
        for signal, slot in ((worker.planned, self._on_planned), (worker.refused, self._on_refused),
                             (worker.wavelengths, self.views.set_wavelengths), (worker.log, self.log),
                             (worker.progress, self._on_progress), (worker.status, self._on_status),
                             (worker.data, self.views.on_data), (worker.failed, self._on_failed),
                             (worker.finished, self._on_finished)):
            signal.connect(slot)
        self.statusBar().showMessage(f"{procedure.name} planning: {self.run_path}")
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
            self.worker.control.pause()
            self.log("pause requested: the run waits at its next safe point")
        else:
            self.worker.control.resume()
            self.log("resume requested")
        self.pause_button.setText("Resume" if self._paused else "Pause")

    def stop_run(self) -> None:
        if self.is_running():
            self.worker.control.stop()
            self.stop_button.setEnabled(False)
            self.log("stop requested: the run ends after the current line")

    def abort_run(self, reason: str = "aborted by the operator") -> None:
        if self.is_running():
            self.worker.control.abort(reason)
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
        names = [channel["name"] for channel in self.station.counter_channels()]
        self.station_label.setText(describe_status(status, names, sep="\n"))

    def _channel_labels(self) -> list[str]:
        """``channel 0: qd 635-665 nm`` for every input the photon counter reports (none without one)."""
        if not self.station.has_role("tcspc"):
            return []
        labels = self.station.counter_channel_labels()
        return [f"channel {labels[i]}" if i < len(labels) else f"channel {i}"
                for i in range(int(self.station.tcspc.n_channels))]

    # ---- events from the worker (UI thread, queued) ---------------------------------------------------
    def _on_planned(self, plan) -> None:
        self.plan = plan
        self.views.reset(plan, self._channel_labels())
        self.log(f"{plan.procedure} started: {self.run_path} (estimated {plan.estimate_s:.1f} s)")
        self.statusBar().showMessage(f"{plan.procedure} running: {self.run_path}")

    def _on_refused(self, message: str) -> None:
        self.run_status = "refused"
        self._refused(message)

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
        if status == "refused":  # nothing ran: the worker is done with
            self.worker.wait()
            self.worker = None
        self.views.redraw()

    # ---- closing -----------------------------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.worker is not None and self.worker.is_running():
            self.abort_run("console closed during the run")
            self.worker.wait()
        self.views.stop()
        if self.poller is not None:
            self.poller.stop()
        super().closeEvent(event)
