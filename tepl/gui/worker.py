"""A procedure run in a worker thread, its run-loop events turned into Qt signals for the console.

The run loop (``tepl.procedures.run``) executes in a ``QThread`` owned by the worker, never in the UI thread.
Every listener call happens in that thread; the signals it emits reach slots of objects living in the UI
thread through queued connections. Operator requests go through the ``RunControl`` the worker holds, which is
thread-safe. An exception re-raised by the run becomes the ``failed`` signal; it never reaches the UI thread.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

import numpy as np
from PyQt5.QtCore import QObject, QThread, pyqtSignal, pyqtSlot

from tepl.procedures import Event, Procedure, RunControl, run


class ProcedureWorker(QObject):
    """Runs one procedure on a station into ``out_path`` in its own thread.

    Signals (emitted from the worker thread, delivered queued to UI-thread receivers):

    - ``planned(plan)``: the run's plan, made in the worker thread before anything moves (the views draw
      what it declares);
    - ``refused(message)``: the plan refused the run (``"<procedure> refused: <why>"``); no file was made;
    - ``wavelengths(ndarray)``: the spectrometer's pixel wavelengths (nm), once, before the run starts;
    - ``progress(done, total, message)``;
    - ``log(message)``;
    - ``status(message, data)``: paused, resumed, complete, stopped, aborted, failed; ``data`` has
      ``reason`` and ``path``;
    - ``data(name, index, value)``: one dataset write (arrays are copied, so later writes cannot alter them),
      or a ``live`` event: a value a procedure shows before it writes it (a confocal pixel before its line);
    - ``failed(message)``: the run raised (``"TypeName: message"``), after the file was closed if it existed;
    - ``finished(status)``: the thread is done; ``status`` is the final status, or ``"failed"``.
    """

    planned = pyqtSignal(object)
    refused = pyqtSignal(str)
    wavelengths = pyqtSignal(object)
    progress = pyqtSignal(int, int, str)
    log = pyqtSignal(str)
    status = pyqtSignal(str, object)
    data = pyqtSignal(str, object, object)
    failed = pyqtSignal(str)
    finished = pyqtSignal(str)

    def __init__(self, procedure: Procedure, station: Any, out_path: str | Path, overwrite: bool = False,
                 station_lock: threading.Lock | None = None, plan: Any = None):
        super().__init__()
        self.plan = plan  # made by the console for this station; None: the run makes it
        self.station_lock = station_lock  # held for the whole run: the status poller keeps off the station
        self.procedure = procedure
        self.station = station
        self.out_path = Path(out_path)
        self.overwrite = overwrite
        self.control = RunControl()
        # pause the run by itself once this fraction of its steps is done (its next safe point, in this thread,
        # so a fast run cannot finish first); None: only the operator pauses
        self.pause_at_fraction: float | None = None
        self.final_status: str | None = None
        self.error: str | None = None
        self._thread = QThread()
        self._thread.setObjectName(f"tepl-run-{procedure.name}")
        self.moveToThread(self._thread)
        self._thread.started.connect(self._run)

    # ---- operator requests (any thread; pause, resume, stop and abort go to ``control``) -------------
    def start(self) -> None:
        """Start the run in the worker thread; returns at once."""
        self._thread.start()

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the worker thread has ended (or ``timeout_s`` passed); True when it has ended."""
        if timeout_s is None:
            return self._thread.wait()
        return self._thread.wait(max(0, int(timeout_s * 1000)))

    # ---- worker thread -------------------------------------------------------------------------------
    def _listen(self, event: Event) -> None:
        if event.kind == "progress":
            fraction = self.pause_at_fraction
            if fraction is not None and 1 < event.total and fraction * event.total <= event.done < event.total:
                self.pause_at_fraction = None
                self.control.pause()
            self.progress.emit(int(event.done), int(event.total), event.message)
        elif event.kind == "log":
            self.log.emit(event.message)
        elif event.kind == "status":
            if event.message not in ("paused", "resumed"):
                self.final_status = event.message
            self.status.emit(event.message, dict(event.data))
        elif event.kind in ("data", "live"):  # a dataset write, or a value shown before it is written
            value = event.data.get("value")
            if isinstance(value, np.ndarray):
                value = value.copy()
            self.data.emit(str(event.data.get("name", "")), event.data.get("index"), value)

    @pyqtSlot()
    def _run(self) -> None:
        try:
            with self.station_lock or contextlib.nullcontext():
                if self.plan is None:
                    try:
                        self.plan = self.procedure.plan(self.station)
                    except Exception as exc:  # a refusal before anything moves: no file, nothing to record
                        self.final_status = "refused"
                        self.refused.emit(f"{self.procedure.name} refused: {exc}")
                        return
                self.planned.emit(self.plan)
                if self.station.has_role("spectrometer"):
                    self.wavelengths.emit(np.asarray(self.station.spectrometer.wavelengths_nm(), float))
                run(self.procedure, self.station, self.out_path, control=self.control, listeners=[self._listen],
                    overwrite=self.overwrite, plan=self.plan)
        except BaseException as exc:  # noqa: BLE001 - a failed run is reported, never raised into Qt
            self.error = f"{type(exc).__name__}: {exc}"
            if self.final_status is None:
                self.final_status = "failed"
            self.failed.emit(self.error)
        finally:
            self.finished.emit(self.final_status or "failed")
            self._thread.quit()
