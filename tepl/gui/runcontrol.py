"""Run control: a run is checked from the form, planned and run in a ``ProcedureWorker`` thread (design rule 7:
the console observes), paused, stopped or aborted at its safe points; the worker's events update the console;
queued runs start one after the other while each completes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from tepl.gui import latency
from tepl.gui.worker import ProcedureWorker
from tepl.procedures import make_procedure


class RunControl:
    """Starting, pausing, stopping and aborting runs, and the worker's events (a part of ``Console``: it uses
    the console's station, form, views, run state, queue and log)."""

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
