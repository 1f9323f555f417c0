"""The station status poller: reads ``Station.status()`` in its own thread while no run holds the station.

A run and the poller share one lock (``station_lock``): the worker holds it for the whole run, the poller
only tries it and skips the poll when it is taken, so a status read never interleaves with a procedure's
commands on the same instrument. The poll timer lives in the poller's thread; Qt merges timeouts that come
while a poll is still going, so a slow instrument makes the status line update less often, never pile up.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from PyQt5.QtCore import QObject, QThread, QTimer, pyqtSignal, pyqtSlot


class StatusPoller(QObject):
    """Polls ``station.status()`` every ``interval_s`` seconds in a ``QThread``; emits ``polled(dict)``."""

    polled = pyqtSignal(object)

    def __init__(self, station: Any, station_lock: threading.Lock, interval_s: float = 1.0):
        super().__init__()
        if not interval_s > 0:
            raise ValueError(f"status interval {interval_s} s must be > 0")
        self.station, self.station_lock = station, station_lock
        self.interval_s = float(interval_s)
        self.skipped = 0  # polls skipped because a run held the station
        self._thread = QThread()
        self._thread.setObjectName("tepl-status")
        self.moveToThread(self._thread)
        self._timer: QTimer | None = None
        self._thread.started.connect(self._begin)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """End the polls and the thread; returns when a poll in progress has finished."""
        if self._thread.isRunning():
            self._thread.quit()
            self._thread.wait()

    @pyqtSlot()
    def _begin(self) -> None:
        self._timer = QTimer(interval=max(1, int(self.interval_s * 1000.0)), timeout=self.poll)
        self._thread.finished.connect(self._timer.stop)
        self._timer.start()
        self.poll()

    @pyqtSlot()
    def poll(self) -> None:
        if not self.station_lock.acquire(blocking=False):
            self.skipped += 1
            return
        try:
            status = self.station.status()
        finally:
            self.station_lock.release()
        self.polled.emit(status)


def describe_status(status: dict[str, Any], channel_names: Sequence[str] | None = None, sep: str = " · ") -> str:
    """The station's status as text, one item per role joined by ``sep``, every number with its unit; a failed
    read shows as ``unavailable: <why>``."""
    parts = []
    if "stage_um" in status:
        stage = status["stage_um"]
        parts.append("stage " + (", ".join(f"{axis} {stage[axis]:.3f}" for axis in sorted(stage)) + " µm"
                                 if isinstance(stage, dict) else str(stage)))
    if "tip" in status:
        parts.append(f"tip {status['tip']}, z {_number(status.get('tip_z_nm'), '.1f', 'nm')}")
    if "ccd_temperature_c" in status:
        t_c, state = status["ccd_temperature_c"], status.get("ccd_status", "")
        parts.append(f"CCD {_number(t_c, '.1f', '°C')}" + (f" {state}" if isinstance(t_c, float | int) else ""))
    for name in ("shutter", "lamp"):
        if name in status:
            parts.append(f"{name} {status[name]}")
    if "count_rates_per_s" in status:
        rates = status["count_rates_per_s"]
        if isinstance(rates, str):
            parts.append(f"counts {rates}")
        else:
            names = list(channel_names or [])
            names += [f"ch {i}" for i in range(len(names), len(rates))]
            parts.append(f"sync {_number(status.get('sync_rate_per_s'), ',.0f', '/s')}; "
                         + ", ".join(f"{n} {r:,.0f} /s" for n, r in zip(names, rates, strict=False)))
    return sep.join(parts)


def _number(value: Any, spec: str, unit: str) -> str:
    return f"{value:{spec}} {unit}" if isinstance(value, float | int) else str(value)
