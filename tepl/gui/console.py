"""The operator console: pick a procedure, set its parameters, run it in a worker and watch it live.

The console observes (design rule 7): parameters and limits are checked here (configuration only, nothing
moves), the run itself goes to a ``ProcedureWorker`` thread, and its writes go to the ``LiveViews``, which
draw the latest values at a timer's pace (``tepl.gui.views``). Between runs a
``StatusPoller`` thread reads the station's status (stage, tip, CCD temperature, shutters, count rates) into
the station panel; a run holds the station lock, so the poller never talks to an instrument a run is using,
and during a run the station panel shows what the run itself reports (``tepl.gui.runstate``).

Every part is a dock of one ``DockArea`` (the views' own): the run form, the station, the log, the manual
controls, the queue with its presets, points of interest and the data browser. The layout is saved per user
when the console closes (``layout.json`` in ``tepl.gui.settings.config_dir()``) and restored when it opens.
"""

from __future__ import annotations

import math
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PyQt5 import QtWidgets as qw
from PyQt5.QtCore import Qt
from pyqtgraph.dockarea import Dock

from tepl.gui import latency
from tepl.gui.browser import DataBrowser
from tepl.gui.logview import LogView
from tepl.gui.manual import ManualPanel
from tepl.gui.runqueue import Presets, RunQueue
from tepl.gui.runstate import RunState
from tepl.gui.settings import config_dir, load_json, save_json
from tepl.gui.status import StatusPoller, describe_status
from tepl.gui.views import LiveViews
from tepl.gui.worker import ProcedureWorker
from tepl.procedures import PROCEDURES, Parameter, make_procedure

_INT_LIMIT = 2**31 - 1
_FLOAT_LIMIT = 1e15
FINAL_STATUSES = ("complete", "aborted", "failed")


def _decimals(param: Parameter) -> int:
    """Decimals a spin box needs to show the parameter's bounds and default exactly (2 to 6; 4 for µm)."""
    values = [float(v) for v in (param.low, param.high, param.default) if v is not None]
    # a stage position to the nanometre (a region or a point drawn on a nanometre-scale map)
    least = 4 if param.unit == "µm" else 2
    return max([least] + [next((d for d in range(7) if math.isclose(round(v, d), v, rel_tol=1e-12)), 6)
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


def set_editor_value(widget: qw.QWidget, value: Any) -> None:
    """Put ``value`` into an editor made by ``make_editor``."""
    if isinstance(widget, qw.QCheckBox):
        widget.setChecked(bool(value))
    elif isinstance(widget, qw.QComboBox):
        widget.setCurrentText(str(value))
    elif isinstance(widget, qw.QSpinBox):
        widget.setValue(int(value))
    elif isinstance(widget, qw.QDoubleSpinBox):
        widget.setValue(float(value))
    else:
        widget.setText(str(value))


REGION_PARAMETERS = ("center_x_um", "center_y_um", "size_x_um", "size_y_um")
"""The parameters a region drawn on a map fills, in the form of every procedure that has them."""
SPOT_PARAMETERS = ("x_um", "y_um")
"""The parameters a point of interest fills, in the form of every procedure that has them."""


def _confirm(parent: qw.QWidget, text: str) -> bool:
    answer = qw.QMessageBox.question(parent, "tepl console", text, qw.QMessageBox.Yes | qw.QMessageBox.No,
                                     qw.QMessageBox.No)
    return answer == qw.QMessageBox.Yes


def _scrolled(widget: qw.QWidget) -> qw.QScrollArea:
    area = qw.QScrollArea(widgetResizable=True, frameShape=qw.QFrame.NoFrame)
    area.setWidget(widget)
    return area


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

    def __init__(self, station: Any, out_dir: str | Path, redraw_hz: float = 12.0,
                 status_interval_s: float | None = 1.0, settings_dir: str | Path | None = None,
                 parent: qw.QWidget | None = None):
        super().__init__(parent)
        self.settings_dir = Path(settings_dir) if settings_dir is not None else config_dir()
        self.confirm = lambda text: _confirm(self, text)  # asks before a click moves the stage
        self.points_of_interest: list[tuple[float, float]] = []
        self._queue_running = False
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
        self.pause_next_run_at: float | None = None  # the next run pauses itself at this fraction (screenshots)
        self.setWindowTitle(f"tepl console: {getattr(station, 'name', 'station')}")
        self._build_controls()
        self.log_view = LogView()
        self.log_pane = self.log_view.pane
        self.views = LiveViews(redraw_hz, log=self.log)
        self.run_state = RunState()
        self.manual = ManualPanel(station, self.station_lock, self.is_running, self.abort_run, self.log)
        self.presets = Presets(self.settings_dir / "presets.json")
        self.queue = RunQueue(self.settings_dir / "queue.json", self.presets)
        self.browser = DataBrowser(self.out_dir)
        self._build_docks()
        self._connect_interaction()
        self.setCentralWidget(self.views)
        self.restore_layout()
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
        layout.addStretch(1)
        self.station_label = qw.QLabel("not read yet", wordWrap=True,
                                       toolTip="read between runs; during a run, what the run reports")
        self.station_label.setTextInteractionFlags(Qt.TextSelectableByMouse)

    def _build_docks(self) -> None:
        station = qw.QWidget()
        layout = qw.QVBoxLayout(station)
        layout.addWidget(self.station_label)
        layout.addWidget(self.run_state, 1)
        self.points_box = self._build_points()
        self.docks = {name: Dock(name, widget=_scrolled(widget) if scroll else widget, size=size)
                      for name, widget, size, scroll in (
            ("run", self._controls, (1, 3), True), ("station", station, (1, 2), False),
            ("log", self.log_view, (3, 1), False), ("manual", self.manual, (1, 2), True),
            ("queue", self.queue, (1, 3), False), ("points", self.points_box, (1, 3), False),
            ("data", self.browser, (3, 1), False))}
        area = self.views
        area.addDock(self.docks["run"], "left")
        area.addDock(self.docks["station"], "bottom", self.docks["run"])
        area.addDock(self.docks["manual"], "below", self.docks["station"])
        area.addDock(self.docks["queue"], "below", self.docks["run"])
        area.addDock(self.docks["points"], "below", self.docks["queue"])
        area.addDock(self.docks["log"], "bottom", self.views.curve_dock)
        area.addDock(self.docks["data"], "below", self.docks["log"])
        self.docks["run"].raiseDock()
        self.docks["station"].raiseDock()
        self.docks["log"].raiseDock()

    def _build_points(self) -> qw.QWidget:
        box = qw.QWidget()
        layout = qw.QVBoxLayout(box)
        layout.addWidget(qw.QLabel("double-click a map: go there; ctrl-click: add a point of interest", wordWrap=True))
        self.points_list = qw.QListWidget()
        layout.addWidget(self.points_list, 1)
        row = qw.QHBoxLayout()
        self.point_procedure_box = qw.QComboBox(toolTip="the procedure each point is queued for")
        self.point_procedure_box.addItems([name for name, cls in PROCEDURES.items()
                                           if {p.name for p in cls.parameters} >= set(SPOT_PARAMETERS)
                                           and all(self.station.has_role(r) for r in cls.roles)])
        self.queue_points_button = qw.QPushButton("queue the points")
        self.queue_points_button.clicked.connect(lambda: self.queue_points(self.point_procedure_box.currentText()))
        row.addWidget(self.point_procedure_box, 1)
        row.addWidget(self.queue_points_button)
        layout.addLayout(row)
        row = qw.QHBoxLayout()
        self.region_button = qw.QPushButton("draw a region", checkable=True,
                                            toolTip="a rectangle on the main map; drag and resize it")
        self.use_region_button = qw.QPushButton("region to the next scan")
        self.region_button.toggled.connect(self.show_region)
        self.use_region_button.clicked.connect(self.use_region)
        row.addWidget(self.region_button)
        row.addWidget(self.use_region_button)
        layout.addLayout(row)
        return box

    def _connect_interaction(self) -> None:
        self.region: pg.RectROI | None = None
        self.views.map_clicked.connect(self._on_map_clicked)
        self.views.current_point.connect(self.run_state.put_point)
        q = self.queue
        q.add_button.clicked.connect(lambda: self.enqueue(self.procedure_box.currentText()))
        q.add_preset_button.clicked.connect(lambda: q.preset_box.currentText() and q.add_preset(
            q.preset_box.currentText()))
        q.save_preset_button.clicked.connect(lambda: self.save_preset(q.preset_name.text()))
        q.load_preset_button.clicked.connect(lambda: q.preset_box.currentText() and self.load_preset(
            q.preset_box.currentText()))
        q.run_button.clicked.connect(self.run_queue)

    # ---- layout --------------------------------------------------------------------------------------------
    @property
    def layout_path(self) -> Path:
        return self.settings_dir / "layout.json"

    def save_layout(self) -> None:
        """The docks' arrangement, and the window's size, to ``layout_path``."""
        try:
            save_json(self.layout_path, {"docks": self.views.saveState(),
                                         "size": [self.width(), self.height()]})
        except OSError as exc:
            self.log(f"layout not saved: {exc}", "warning")

    def restore_layout(self) -> bool:
        """The saved arrangement of the docks, when there is one; docks of views not shown now are left out."""
        state = load_json(self.layout_path, None)
        if not isinstance(state, dict) or "docks" not in state:
            return False
        try:
            self.views.restoreState(state["docks"], missing="ignore", extra="bottom")
        except Exception as exc:  # a layout from another version: the default one
            self.log(f"saved layout not used: {exc}", "warning")
            return False
        if isinstance(state.get("size"), list) and len(state["size"]) == 2:
            self.resize(*(int(v) for v in state["size"]))
        return True

    # ---- map interaction, points, region -------------------------------------------------------------------
    def _on_map_clicked(self, x_um: float, y_um: float, modifiers: Any, double: bool) -> None:
        if double:
            self.click_to_go(x_um, y_um)
        elif modifiers & Qt.ControlModifier:
            self.add_point(x_um, y_um)

    def click_to_go(self, x_um: float, y_um: float) -> bool:
        """Move the stage to the clicked spot after the operator confirms; the stage role checks its travel (a
        refusal is logged in the CLI's words) and a run holding the station refuses it."""
        if self.is_running():
            self.log(f"go to x {x_um:.4f}, y {y_um:.4f} µm refused: a run holds the station", "warning")
            return False
        if not self.confirm(f"Move the stage to x = {x_um:.4f} µm, y = {y_um:.4f} µm?"):
            self.log("go to cancelled")
            return False
        return self.manual.go_to(x=x_um, y=y_um)

    def add_point(self, x_um: float, y_um: float) -> None:
        self.points_of_interest.append((float(x_um), float(y_um)))
        self.points_list.addItem(f"x {x_um:.4f} µm, y {y_um:.4f} µm")

    def queue_points(self, procedure: str) -> int:
        """Queue ``procedure`` (its form's values) at every point of interest; returns how many were queued."""
        if procedure not in PROCEDURES:
            return 0
        for x_um, y_um in self.points_of_interest:
            self.queue.add(procedure, {**self.values(procedure), "x_um": x_um, "y_um": y_um},
                           label=f"{procedure} at ({x_um:.3f}, {y_um:.3f}) µm")
        return len(self.points_of_interest)

    def show_region(self, visible: bool = True) -> None:
        """A rectangle on the main map, a quarter of its area at its centre, to drag and resize."""
        if self.region is not None:
            self.views.map_plot.removeItem(self.region)
            self.region = None
        if not visible:
            return
        rect = self.views.map.rect
        if not rect.isValid():
            rect = self.views.map_plot.getPlotItem().vb.viewRect()
        self.region = pg.RectROI([rect.center().x() - rect.width() / 4, rect.center().y() - rect.height() / 4],
                                 [rect.width() / 2, rect.height() / 2], pen=pg.mkPen("m", width=2))
        self.views.map_plot.addItem(self.region)

    def region_um(self) -> tuple[float, float, float, float] | None:
        """(centre x, centre y, size x, size y) of the region drawn, µm; None without one."""
        if self.region is None:
            return None
        (x, y), (w, h) = self.region.pos(), self.region.size()
        return float(x + w / 2), float(y + h / 2), float(abs(w)), float(abs(h))

    def use_region(self) -> list[str]:
        """Fill the next scan's centre and size from the region, in every form that has them; returns those
        procedures. A value the form cannot hold (beyond a parameter's bounds) is clipped by the form and logged."""
        region = self.region_um()
        if region is None:
            self.log("draw a region on the map first", "warning")
            return []
        filled = []
        for name, editors in self._editors.items():
            if set(REGION_PARAMETERS) <= set(editors):
                for key, value in zip(REGION_PARAMETERS, region, strict=True):
                    set_editor_value(editors[key], value)
                filled.append(name)
        self.log(f"region centre ({region[0]:.4f}, {region[1]:.4f}) µm, size {region[2]:.4f} x {region[3]:.4f} µm "
                 f"set in: {', '.join(filled)}")
        return filled

    # ---- presets and queue ---------------------------------------------------------------------------------
    def set_values(self, procedure: str, values: dict[str, Any]) -> None:
        """Fill the form of ``procedure`` with ``values`` (names it does not have are refused)."""
        unknown = sorted(set(values) - set(self._editors[procedure]))
        if unknown:
            raise KeyError(f"{procedure} has no parameters {unknown}")
        for name, value in values.items():
            set_editor_value(self._editors[procedure][name], value)

    def save_preset(self, name: str) -> None:
        procedure = self.procedure_box.currentText()
        try:
            self.presets.save(name, procedure, self.values(procedure))
        except (ValueError, OSError) as exc:
            self.log(f"preset not saved: {exc}", "warning")
            return
        self.queue.refresh()
        self.log(f"preset {name!r} saved: {procedure}")

    def load_preset(self, name: str) -> None:
        preset = self.presets.get(name)
        self.select_procedure(preset["procedure"])
        self.set_values(preset["procedure"], preset["values"])

    def enqueue(self, procedure: str, values: dict[str, Any] | None = None) -> None:
        self.queue.add(procedure, self.values(procedure) if values is None else values)

    def run_queue(self) -> bool:
        """Start the queue's first run; each run that completes starts the next. False when empty or busy."""
        if self.is_running() or not self.queue.entries:
            return False
        self._queue_running = True
        return self._start_next_queued()

    def _start_next_queued(self) -> bool:
        entry = self.queue.pop()
        if entry is None:
            self._queue_running = False
            self.log("queue done")
            return False
        try:
            self.select_procedure(entry["procedure"])
            self.set_values(entry["procedure"], entry["values"])
        except (KeyError, ValueError) as exc:
            self.log(f"queued run skipped: {exc}", "warning")
            return self._start_next_queued()
        self.log(f"queue: starting {entry.get('label') or entry['procedure']} ({len(self.queue.entries)} left)")
        if not self.start_run():
            self._queue_running = False
            return False
        return True

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
    def log(self, message: str, level: str = "info") -> None:
        """A message in the log pane, at ``level`` (info, warning, error)."""
        self.log_view.add(message, level)

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
        self.log(message, "warning")
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
        worker.pause_at_fraction, self.pause_next_run_at = self.pause_next_run_at, None
        for signal, slot in ((worker.planned, self._on_planned), (worker.refused, self._on_refused),
                             (worker.wavelengths, self.views.set_wavelengths),
                             (worker.log, self.log), (worker.log, self.run_state.on_log),
                             (worker.progress, self._on_progress), (worker.status, self._on_status),
                             (worker.data, self.views.on_data), (worker.data, self.run_state.on_data),
                             (worker.failed, self._on_failed),
                             (worker.finished, self._on_finished)):
            signal.connect(slot)
        self.statusBar().showMessage(f"{procedure.name} planning: {self.run_path}")
        self._active = True
        self._set_running(True)
        self.station_label.setText("held by the run: the values below are those the run reports")
        latency.run_started()
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
        self.run_state.set_paused(self._paused)

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
        for widget in (self.procedure_box, self.forms, self.dry_run_button, self.start_button,
                       self.queue.run_button):
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
        self.run_state.start(plan)
        if self.region is not None:  # the map was rebuilt: draw the region again on the new one
            self.show_region(True)
        self.log(f"{plan.procedure} started: {self.run_path} (estimated {plan.estimate_s:.1f} s)")
        self.statusBar().showMessage(f"{plan.procedure} running: {self.run_path}")

    def _on_refused(self, message: str) -> None:
        self.run_status = "refused"
        self._refused(message)

    def _on_progress(self, done: int, total: int, message: str) -> None:
        self.run_state.on_progress(done, total)
        self.progress_bar.setMaximum(max(total, 1))
        self.progress_bar.setValue(min(done, max(total, 1)))
        self.progress_bar.setFormat(message or "%v/%m")

    def _on_status(self, message: str, data: dict) -> None:
        if message in ("paused", "resumed"):
            self.log(f"run {message}")
            self.run_state.set_paused(message == "paused")
            return
        self.run_status, self.run_reason = message, data.get("reason")
        self.run_state.on_safe_state(data.get("safe_state"))
        reason = f" ({self.run_reason})" if self.run_reason else ""
        self.log(f"run {message}{reason}: {data.get('path', self.run_path)}",
                 {"complete": "info", "aborted": "warning"}.get(message, "error"))
        self.statusBar().showMessage(f"{data.get('path', self.run_path)}: {message}{reason}")

    def _on_failed(self, message: str) -> None:
        self.log(f"run failed: {message}", "error")
        self.run_reason = self.run_reason or message
        if self.run_status is None:
            self.run_status = "failed"
            self.statusBar().showMessage(f"{self.run_path}: failed ({message})")

    def _on_finished(self, status: str) -> None:
        latency.run_ended()
        self.run_status = self.run_status or status
        self._active = False
        self._set_running(False)
        if status == "refused":  # nothing ran: the worker is done with
            self.worker.wait()
            self.worker = None
            self._queue_running = False
        else:
            self.views.finish()
            self.run_state.finish(self.run_status or status)
            self.browser.refresh()
        if self._queue_running:
            if self.run_status == "complete":
                self._start_next_queued()
            else:
                self._queue_running = False
                self.log(f"queue halted: the run ended {self.run_status}", "warning")

    # ---- closing -----------------------------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.worker is not None and self.worker.is_running():
            self.abort_run("console closed during the run")
            self.worker.wait()
        if self._active:  # the run's end will not reach the closed console: collections as usual again
            latency.run_ended()
        self.manual.wait()
        self.views.stop()
        self.run_state.timer.stop()
        if self.poller is not None:
            self.poller.stop()
        self.save_layout()
        super().closeEvent(event)
