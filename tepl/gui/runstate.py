"""The station during a run, from what the run itself reports (design rule 7: no second reader on the
instruments): the plan's point written last (stage x, y, gap, exposure ...; for a run whose writes never name a
point, such as the blocks of a g2 or a time trace, the last point its progress says is done), every value per
point the run writes (fitted peak, pressure, force, tip height Z), each beside the station limit the plan's
interlocks hold on it and coloured when it comes near that limit; the tip's contact and the excitation as the
run's events state them (``RUN_EVENTS``), and at the end the safe state the run left each instrument in; elapsed
and remaining time, and whether the run is paused."""

from __future__ import annotations

import math
import re
import time
from typing import Any

import numpy as np
from PyQt5 import QtGui
from PyQt5 import QtWidgets as qw
from PyQt5.QtCore import QTimer

from tepl.gui.labels import limit_for, quantity_label, unit_of

NEAR_FRACTION = 0.05  # a value within this fraction of its limit's span from an edge is near the limit
ALARM_COLOURS = {"ok": None, "near": QtGui.QColor(230, 160, 0), "outside": QtGui.QColor(220, 40, 40)}


def alarm(value: float, limit: Any) -> str:
    """``ok``, ``near`` (within ``NEAR_FRACTION`` of the span from an edge) or ``outside`` a ``Range``."""
    if limit is None or not np.isfinite(value):
        return "ok"
    if value < limit.low or value > limit.high:
        return "outside"
    margin = NEAR_FRACTION * (limit.high - limit.low)
    # a travel's lower edge is one to come near; a ceiling's zero, a shortest exposure or a gap of 0 is not
    low_edge = limit.unit == "µm"
    return "near" if value > limit.high - margin or (low_edge and value < limit.low + margin) else "ok"


RUN_EVENTS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("tip", re.compile(r"engaged at \((?P<x>[-\d.]+), (?P<y>[-\d.]+)\) µm, contact z = (?P<z>[-\d.]+) nm"),
     "in contact at ({x}, {y}) µm, contact Z {z} nm"),
    ("excitation", re.compile(r"excitation open \((?P<what>[^)]*)\)"), "open ({what})"),
)
"""The run's log messages that state an instrument's condition (``tepl.procedures.moves.approach_spot``, the
run's opening of the excitation in ``tepl.procedures.base.run``): the row they set, and its text."""


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class RunState(qw.QWidget):
    """Elapsed / remaining time, the pause indicator and the table of live values with their limits."""

    def __init__(self, parent: qw.QWidget | None = None):
        super().__init__(parent)
        layout = qw.QVBoxLayout(self)
        row = qw.QHBoxLayout()
        self.elapsed_label = qw.QLabel("elapsed -")
        self.remaining_label = qw.QLabel("remaining -")
        self.pause_label = qw.QLabel("")
        self.pause_label.setStyleSheet("QLabel { background: #e0a000; color: black; font-weight: bold; }")
        self.pause_label.setVisible(False)
        for widget in (self.elapsed_label, self.remaining_label, self.pause_label):
            row.addWidget(widget)
        layout.addLayout(row)
        self.table = qw.QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["quantity", "value", "limit"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(0, qw.QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(1, qw.QHeaderView.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(qw.QAbstractItemView.NoEditTriggers)
        layout.addWidget(self.table, 1)
        self.state_label = qw.QLabel("", wordWrap=True, toolTip="conditions as the run's events state them")
        self.state_label.setVisible(False)
        layout.addWidget(self.state_label)
        self.idle_label = qw.QLabel("", wordWrap=True)
        layout.addWidget(self.idle_label)
        self.rows: dict[str, int] = {}
        self.values: dict[str, float] = {}
        self.limits: dict[str, Any] = {}
        self.units: dict[str, str] = {}
        self.states: dict[str, str] = {}  # conditions the run stated in words: {"tip": "in contact at ..."}
        self.safe_state: dict[str, str] = {}  # what the run's safe state left each instrument in, at its end
        self.t0: float | None = None
        self.t_end: float | None = None
        self.paused = False
        self._paused_s = 0.0
        self._pause_t0: float | None = None
        self.done, self.total = 0, 0
        self.estimate_s = 0.0
        self._points: Any = None  # the plan's points, for a run whose progress is all that says where it is
        self._points_written = False  # True once a write named a point (``put_point``)
        self.timer = QTimer(self, interval=500, timeout=self.tick)

    # ---- a run ---------------------------------------------------------------------------------------------
    def start(self, plan: Any) -> None:
        """Rows for the plan's point columns and its per-point scalar datasets, each with its limit."""
        self.rows.clear()
        self.values.clear()
        self.states.clear()
        self.safe_state = {}
        self.state_label.setText("")
        self.state_label.setVisible(False)
        self.table.setRowCount(0)
        names = [n for n in plan.points.columns if n not in plan.points.index]
        n_points = len(plan.points)
        names += [d.name for d in plan.datasets if d.name not in names and plan.points.index
                  and len(d.dims) == len(plan.points.index) and d.dims[-1:] != ("wavelength_nm",)
                  and None not in d.shape and math.prod(d.shape) == n_points]  # a value per point
        for name in names:
            unit = unit_of(plan, name) or _column_unit(name)
            self.units[name] = unit
            self.limits[name] = limit_for(plan, name, unit)
            row = self.table.rowCount()
            self.table.insertRow(row)
            self.rows[name] = row
            limit = self.limits[name]
            for col, text in enumerate((quantity_label(name, unit), "-",
                                        f"{limit.describe()} ({limit.name})" if limit is not None else "")):
                self.table.setItem(row, col, qw.QTableWidgetItem(text))
        self.t0, self.t_end = time.monotonic(), None
        self.paused, self._paused_s, self._pause_t0 = False, 0.0, None
        self.pause_label.setVisible(False)
        self.done, self.total, self.estimate_s = 0, len(plan.points), float(plan.estimate_s)
        self._points, self._points_written = plan.points, False
        self.idle_label.setText(f"{plan.procedure}: values as the run reports them")
        self.timer.start()
        self.tick()

    def put(self, name: str, value: Any) -> None:
        """A value the run reported (a point's column or a scalar write)."""
        row = self.rows.get(name)
        if row is None:
            return
        try:
            value = float(np.asarray(value, float).reshape(-1)[-1])
        except (TypeError, ValueError, IndexError):
            return
        self.values[name] = value
        item = self.table.item(row, 1)
        item.setText(f"{value:.6g} {self.units.get(name, '')}".rstrip())
        state = alarm(value, self.limits.get(name))
        colour = ALARM_COLOURS[state]
        for col in range(3):
            self.table.item(row, col).setBackground(QtGui.QBrush(colour) if colour is not None else QtGui.QBrush())
        item.setToolTip({"ok": "", "near": "near its limit", "outside": "outside its limit"}[state])

    def put_text(self, name: str, text: str) -> None:
        """A condition the run stated in words (the tip's contact, the excitation), listed below the table."""
        self.states[name] = text
        self.state_label.setText("\n".join(f"{key}: {value}" for key, value in self.states.items()))
        self.state_label.setVisible(True)

    def on_safe_state(self, safe_state: dict[str, str] | None) -> None:
        """The run ended: what the safe state left each instrument in (``{role: "retracted"}``) replaces the
        conditions it stated while it ran."""
        self.safe_state = dict(safe_state or {})
        if self.safe_state:
            self.states.clear()
            self.state_label.setText("after the run: " + ", ".join(f"{role} {what}" for role, what
                                                                   in self.safe_state.items()))
            self.state_label.setVisible(True)

    def on_log(self, message: str) -> None:
        """A message of the run: one stating an instrument's condition (``RUN_EVENTS``) sets its row."""
        for name, pattern, text in RUN_EVENTS:
            found = pattern.search(message)
            if found:
                self.put_text(name, text.format(**found.groupdict()))

    def on_data(self, name: str, index: Any, value: Any) -> None:
        """A write of the run: a value per point (a scalar) goes to its row."""
        if name in self.rows and np.ndim(value) == 0:
            self.put(name, value)

    def put_point(self, row: dict[str, Any]) -> None:
        """The columns of the plan's point a write of the run named."""
        self._points_written = True
        self._put_row(row)

    def _put_row(self, row: dict[str, Any]) -> None:
        for name, value in row.items():
            self.put(name, value)

    def alarm_of(self, name: str) -> str:
        return alarm(self.values.get(name, float("nan")), self.limits.get(name))

    def on_progress(self, done: int, total: int) -> None:
        """The run's progress; until a write names a point, the point it says is done last (its share of the
        plan's points, ``done / total``, rounded) fills the point's rows."""
        self.done, self.total = done, total
        points = self._points
        if self._points_written or points is None or total <= 0 or len(points) == 0:
            return
        row = min(len(points), int(round(done / total * len(points)))) - 1
        if row >= 0:
            self._put_row({name: values[row].item() for name, values in points.columns.items()})

    def set_paused(self, paused: bool) -> None:
        if paused and not self.paused:
            self._pause_t0 = time.monotonic()
        elif not paused and self.paused and self._pause_t0 is not None:
            self._paused_s += time.monotonic() - self._pause_t0
            self._pause_t0 = None
        self.paused = paused
        self.pause_label.setText("PAUSED" if paused else "")
        self.pause_label.setVisible(paused)
        self.tick()

    def finish(self, status: str) -> None:
        self.set_paused(False)
        self.t_end = time.monotonic()
        self.tick()
        self.timer.stop()
        self.remaining_label.setText(f"run {status}")

    def elapsed_s(self) -> float:
        if self.t0 is None:
            return 0.0
        return (self.t_end or time.monotonic()) - self.t0

    def remaining_s(self) -> float | None:
        """Time left: from the pace so far once steps are done (pauses left out), else the plan's estimate."""
        if self.t0 is None:
            return None
        paused = self._paused_s + (time.monotonic() - self._pause_t0 if self._pause_t0 is not None else 0.0)
        working = max(self.elapsed_s() - paused, 0.0)
        if self.done > 0 and self.total > 0:
            return working / self.done * max(self.total - self.done, 0)
        return max(self.estimate_s - working, 0.0)

    def tick(self) -> None:
        self.elapsed_label.setText(f"elapsed {_clock(self.elapsed_s())}")
        remaining = self.remaining_s()
        if remaining is not None and self.t_end is None:
            self.remaining_label.setText(f"remaining {_clock(remaining)}"
                                         + (" (paused)" if self.paused else ""))


def _column_unit(name: str) -> str:
    """The unit a point column's name ends with (``x_um`` -> µm), '' when none."""
    token = name.rpartition("_")[2].lower()
    return {"um": "µm", "nm": "nm", "s": "s", "k": "K", "ev": "eV", "gpa": "GPa", "nn": "nN"}.get(token, "")
