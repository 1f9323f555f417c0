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

This module assembles the window; the run form is ``tepl.gui.forms``, starting and steering runs
``tepl.gui.runcontrol``, what a click or a region on the map does ``tepl.gui.mapactions``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PyQt5 import QtWidgets as qw
from PyQt5.QtCore import Qt
from pyqtgraph.dockarea import Dock

from tepl.gui import latency
from tepl.gui.browser import DataBrowser
from tepl.gui.forms import ProcedureForms
from tepl.gui.logview import LogView
from tepl.gui.manual import ManualPanel
from tepl.gui.mapactions import MapActions
from tepl.gui.runcontrol import RunControl
from tepl.gui.runqueue import Presets, RunQueue
from tepl.gui.runstate import RunState
from tepl.gui.settings import config_dir, load_json, save_json
from tepl.gui.status import StatusPoller, describe_status
from tepl.gui.views import LiveViews
from tepl.gui.worker import ProcedureWorker

FINAL_STATUSES = ("complete", "aborted", "failed")


def _confirm(parent: qw.QWidget, text: str) -> bool:
    answer = qw.QMessageBox.question(parent, "tepl console", text, qw.QMessageBox.Yes | qw.QMessageBox.No,
                                     qw.QMessageBox.No)
    return answer == qw.QMessageBox.Yes


def _scrolled(widget: qw.QWidget) -> qw.QScrollArea:
    area = qw.QScrollArea(widgetResizable=True, frameShape=qw.QFrame.NoFrame)
    area.setWidget(widget)
    return area

class Console(RunControl, MapActions, qw.QMainWindow):
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
        self.form = ProcedureForms(self.station)
        self.procedure_box, self.forms, self._editors = self.form.procedure_box, self.form.pages, self.form.editors
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

    def _connect_interaction(self) -> None:
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

    # ---- presets and queue ---------------------------------------------------------------------------------
    def set_values(self, procedure: str, values: dict[str, Any]) -> None:
        """Fill the form of ``procedure`` with ``values`` (names it does not have are refused)."""
        self.form.set_values(procedure, values)

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
    # ---- parameters --------------------------------------------------------------------------------------
    def select_procedure(self, name: str) -> None:
        self.form.select(name)

    def editor(self, procedure: str, parameter: str) -> qw.QWidget:
        """The input widget of ``parameter`` in the form of ``procedure``."""
        return self._editors[procedure][parameter]

    def values(self, procedure: str | None = None) -> dict[str, Any]:
        """The form's values of ``procedure`` (default: the selected one)."""
        return self.form.values(procedure)

    # ---- actions ---------------------------------------------------------------------------------------
    def log(self, message: str, level: str = "info") -> None:
        """A message in the log pane, at ``level`` (info, warning, error)."""
        self.log_view.add(message, level)

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
