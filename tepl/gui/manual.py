"""Manual control between runs: stage jog and go-to, tip engage / withdraw / coarse approach, shutters, laser
and cryostat setpoint, and an abort.

Every action is a call on a station role, so the role's own limits apply (a go-to beyond the travel is refused
by ``Stage.move_to_um`` with the same words as the CLI). An action runs in its own thread holding the
station lock, never in the UI thread; while a run holds the station an action is refused before anything is
sent. The abort button aborts the run (at its next safe point) and stops a manual move in progress.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PyQt5 import QtWidgets as qw
from PyQt5.QtCore import QObject, pyqtSignal

_COARSE_STEPS = 50  # steps of a manual coarse approach (the tip's picomotor)


class _Done(QObject):
    done = pyqtSignal(str, bool)  # message, succeeded


class ManualPanel(qw.QWidget):
    """Buttons for the roles the station has; ``act(label, call)`` is the one way an action reaches them.

    ``is_running()`` says whether a run holds the station; ``abort_run(reason)`` aborts it; ``log(message,
    level)`` reports; ``finished(message, ok)`` follows each action."""

    def __init__(self, station: Any, station_lock: threading.Lock, is_running: Callable[[], bool],
                 abort_run: Callable[[str], None], log: Callable[[str, str], None],
                 parent: qw.QWidget | None = None):
        super().__init__(parent)
        self.station, self.station_lock = station, station_lock
        self._is_running, self._abort_run, self._log = is_running, abort_run, log
        self._signals = _Done()
        self.finished = self._signals.done
        self.finished.connect(self._report)
        self.busy = False
        self.last_result: tuple[str, bool] | None = None
        self._thread: threading.Thread | None = None
        self.buttons: dict[str, qw.QPushButton] = {}
        layout = qw.QVBoxLayout(self)
        self.abort_button = qw.QPushButton("ABORT", toolTip="abort the run at its next safe point (tip withdrawn, "
                                                           "shutters closed) and stop a manual move")
        self.abort_button.setStyleSheet("QPushButton { background: #b00000; color: white; font-weight: bold; }")
        self.abort_button.clicked.connect(self.abort)
        layout.addWidget(self.abort_button)
        if station.has_role("stage"):
            layout.addWidget(self._stage_box())
        if station.has_role("zcontrol"):
            box = self._box("tip", [("engage", lambda: self.station.zcontrol.engage()),
                                    ("withdraw", lambda: self.station.zcontrol.retract())])
            if station.has_role("picomotors"):
                self._add(box, f"coarse approach {_COARSE_STEPS} steps",
                          lambda: self.station.zcontrol.coarse_step(-_COARSE_STEPS))
            layout.addWidget(box)
        for role in ("shutter", "excitation_shutter", "lamp", "laser"):
            if station.has_role(role):
                layout.addWidget(self._box(role.replace("_", " "), [
                    ("open", lambda r=role: self.station.role(r).open()),
                    ("close", lambda r=role: self.station.role(r).shut())]))
        if station.has_role("laser") and station.laser.power_controllable:
            self.laser_power = qw.QDoubleSpinBox(decimals=4, suffix=" mW", minimum=0.0, maximum=1e6)
            limit = station.limits.laser_power_mW
            self.laser_power.setToolTip(f"limit {limit.describe()} ({limit.name})" if limit is not None else "")
            layout.addWidget(self._value_box("laser power", self.laser_power, "set", lambda v: (
                f"laser power {v:g} mW", lambda: self.station.laser.set_power_mW(v))))
        if station.has_role("spectrometer"):
            self.ccd_target = qw.QDoubleSpinBox(decimals=1, suffix=" °C", minimum=-150.0, maximum=30.0, value=-60.0)
            layout.addWidget(self._value_box("CCD cooler", self.ccd_target, "cool to", lambda v: (
                f"CCD cooler to {v:g} °C", lambda: self.station.spectrometer.cool(v, wait=False))))
        if station.has_role("cryostat"):
            layout.addWidget(self._setpoint_box())
        layout.addStretch(1)

    # ---- the panel -------------------------------------------------------------------------------------------
    def _box(self, title: str, actions: list[tuple[str, Callable[[], Any]]]) -> qw.QGroupBox:
        box = qw.QGroupBox(title)
        qw.QHBoxLayout(box)
        for label, call in actions:
            self._add(box, label, call)
        return box

    def _add(self, box: qw.QGroupBox, label: str, call: Callable[[], Any]) -> None:
        name = f"{box.title()} {label}"
        button = qw.QPushButton(label)
        button.clicked.connect(lambda: self.act(name, call))
        box.layout().addWidget(button)
        self.buttons[name] = button

    def _stage_box(self) -> qw.QGroupBox:
        box = qw.QGroupBox("stage")
        grid = qw.QGridLayout(box)
        self.goto: dict[str, qw.QDoubleSpinBox] = {}
        travel = self.station.limits.travel_um
        for col, axis in enumerate(("x", "y", "z")):
            spin = qw.QDoubleSpinBox(decimals=4, suffix=" µm", singleStep=0.1)
            spin.setRange(-1e6, 1e6)  # the role checks the travel, and refuses in its own words
            limit = travel.get(axis)
            spin.setToolTip(f"travel {limit.describe()} ({limit.name})" if limit is not None else "")
            self.goto[axis] = spin
            grid.addWidget(qw.QLabel(axis), 0, 2 * col)
            grid.addWidget(spin, 0, 2 * col + 1)
        go = qw.QPushButton("go to")
        go.clicked.connect(lambda: self.go_to(**{a: s.value() for a, s in self.goto.items() if a != "z"}))
        grid.addWidget(go, 0, 6)
        self.buttons["stage go to"] = go
        self.jog_step = qw.QDoubleSpinBox(decimals=4, suffix=" µm", value=0.1, minimum=0.0001, maximum=100.0)
        grid.addWidget(qw.QLabel("jog"), 1, 0)
        grid.addWidget(self.jog_step, 1, 1)
        for col, (label, axis, sign) in enumerate((("-x", "x", -1), ("+x", "x", 1), ("-y", "y", -1),
                                                   ("+y", "y", 1))):
            button = qw.QPushButton(label)
            button.clicked.connect(lambda _=False, a=axis, s=sign: self.jog(a, s * self.jog_step.value()))
            grid.addWidget(button, 1, 2 + col)
            self.buttons[f"stage jog {label}"] = button
        return box

    def _value_box(self, title: str, spin: qw.QDoubleSpinBox, label: str,
                   action: Callable[[float], tuple[str, Callable[[], Any]]]) -> qw.QGroupBox:
        """A value and a button that sends it (``action(value)`` gives the action's words and call)."""
        box = qw.QGroupBox(title)
        row = qw.QHBoxLayout(box)
        row.addWidget(spin)
        button = qw.QPushButton(label)
        button.clicked.connect(lambda: self.act(*action(spin.value())))
        row.addWidget(button)
        self.buttons[f"{title} {label}"] = button
        return box

    def _setpoint_box(self) -> qw.QGroupBox:
        box = qw.QGroupBox("cryostat")
        row = qw.QHBoxLayout(box)
        self.setpoint = qw.QDoubleSpinBox(decimals=2, suffix=" K", minimum=0.0, maximum=1000.0, value=10.0)
        row.addWidget(self.setpoint)
        button = qw.QPushButton("set")
        button.clicked.connect(lambda: self.act(f"cryostat setpoint {self.setpoint.value():g} K",
                                                lambda: self.station.cryostat.set_setpoint_k(
                                                    None, self.setpoint.value())))
        row.addWidget(button)
        self.buttons["cryostat set"] = button
        return box

    # ---- actions ---------------------------------------------------------------------------------------------
    def go_to(self, **targets_um: float) -> bool:
        """Move the stage to ``targets_um`` (absolute µm); the stage role checks its travel."""
        text = ", ".join(f"{a} {v:.4f}" for a, v in targets_um.items())
        return self.act(f"stage go to {text} µm", lambda: self.station.stage.move_and_wait_um(**targets_um))

    def jog(self, axis: str, step_um: float) -> bool:
        def move() -> None:
            position = self.station.stage.position_um()
            self.station.stage.move_and_wait_um(**{axis: position[axis] + step_um})
        return self.act(f"stage jog {axis} {step_um:+g} µm", move)

    def act(self, label: str, call: Callable[[], Any]) -> bool:
        """Run ``call`` in a thread holding the station lock; False (and a refusal logged) when a run or another
        action holds the station."""
        if self._is_running() or self.busy or not self.station_lock.acquire(blocking=False):
            why = "a run holds the station" if self._is_running() else "another action is in progress"
            self._log(f"{label} refused: {why}", "warning")
            self.last_result = (f"{label} refused: {why}", False)
            return False
        self.busy = True

        def work() -> None:
            try:
                call()
            except Exception as exc:  # LimitError, DeviceError: reported, never raised into Qt
                self.finished.emit(f"{label} refused: {exc}" if "Limit" in type(exc).__name__
                                   else f"{label} failed: {type(exc).__name__}: {exc}", False)
            else:
                self.finished.emit(f"{label}: done", True)
            finally:
                self.station_lock.release()

        self._thread = threading.Thread(target=work, name=f"tepl-manual-{label}", daemon=True)
        self._thread.start()
        return True

    def wait(self, timeout_s: float = 30.0) -> None:
        """Wait for the action in progress (tests, closing)."""
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _report(self, message: str, ok: bool) -> None:
        self.busy = False
        self.last_result = (message, ok)
        self._log(message, "info" if ok else "warning")

    def abort(self) -> None:
        """Abort the run (at its next safe point) and stop a manual stage move in progress."""
        if self._is_running():
            self._abort_run("aborted from the manual panel")
        elif self.busy and self.station.has_role("stage"):
            self.station.stage.stop()
            self._log("manual move stopped", "warning")
