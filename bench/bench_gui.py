"""The console's responsiveness during fast runs: the largest event-loop stall and the views' redraw rate.

    QT_QPA_PLATFORM=offscreen python bench/bench_gui.py [--seconds 5] [--rate 1000]

1. raster: the console's views laid out from a 100 x 100 raster plan of the simulated station (the main map,
   the height, peak-energy and FWHM maps, the latest spectrum) receive, from another thread, the writes a
   raster makes (a 1024-pixel spectrum and three per-pixel values) at ``--rate`` spectra per second, queued
   as the worker's signals are;
2. confocal: a real confocal raster of the simulated confocal station run from the console (worker thread,
   protocol simulators, file), 1 ms dwell per pixel.

A 2 ms timer in the UI thread measures the stall: the longest time between two of its ticks beyond its
interval. The redraw rate counts the redraws that drew something. Figures are as measured on this machine,
whatever else runs on it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PyQt5.QtCore import QObject, QTimer, pyqtSignal
from PyQt5.QtWidgets import QApplication

TICK_MS = 2


class StallMeter:
    """Ticks every ``TICK_MS`` in the UI thread; ``worst_ms`` is the longest gap beyond the interval."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.gaps: list[float] = []
        self.timer = QTimer(interval=TICK_MS, timeout=self._tick)

    def start(self) -> None:
        self.last = time.perf_counter()
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append((now - self.last) * 1e3 - TICK_MS)
        self.last = now

    @property
    def worst_ms(self) -> float:
        return max(self.gaps, default=0.0)

    def over(self, ms: float) -> int:
        """How many ticks came more than ``ms`` late."""
        return sum(gap > ms for gap in self.gaps)

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.gaps, q)) if self.gaps else 0.0


def watch(app: QApplication, seconds: float, busy: Callable[[], bool] = lambda: False) -> StallMeter:
    """Run the event loop for ``seconds`` (or while ``busy()``), measuring its stalls."""
    meter = StallMeter()
    meter.start()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds or busy():
        app.processEvents()
        time.sleep(0.0005)
    meter.timer.stop()
    return meter


class Feeder(QObject):
    """Emits a raster's writes from its own thread at a fixed rate of spectra per second."""

    data = pyqtSignal(str, object, object)

    def __init__(self, shape: tuple[int, int], n_pixels: int, rate_per_s: float, seconds: float):
        super().__init__()
        self.shape, self.n_pixels, self.rate, self.seconds = shape, n_pixels, rate_per_s, seconds
        self.sent = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        rng = np.random.default_rng(0)
        base = rng.poisson(500, self.n_pixels).astype(np.float32)
        ny, nx = self.shape
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < self.seconds:
            i = self.sent % (ny * nx)
            iy, ix = divmod(i, nx)
            spectrum = base + np.float32(i % 97)
            self.data.emit("spectra", (iy, ix), spectrum)
            for name, value in (("height_nm", 5.0 + (ix % 7)), ("peak_energy_eV", 1.9 + 1e-3 * (iy % 11)),
                                ("peak_fwhm_eV", 0.02 + 1e-4 * ix)):
                self.data.emit(name, (iy, ix), np.float64(value))
            self.sent += 1
            ahead = self.sent / self.rate - (time.perf_counter() - t0)
            if ahead > 0:
                time.sleep(ahead)


def bench_raster(app: QApplication, rate: float, seconds: float) -> dict[str, float]:
    from tepl.gui import latency
    from tepl.gui.console import Console
    from tepl.procedures import make_procedure
    from tepl.station import build_station

    station = build_station()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            console = Console(station, Path(tmp) / "runs", status_interval_s=None, settings_dir=Path(tmp))
            console.resize(1600, 1000)
            console.show()
            plan = make_procedure("raster", size_x_um=0.198, size_y_um=0.198, pixel_um=0.002,
                                  exposure_s=0.001).plan(station)
            watch(app, 0.5)  # the window's first layout and paint
            baseline = watch(app, 1.0)  # the idle console on this machine, now: the floor of what is measured
            latency.run_started()  # as the console does when it starts a run
            console.views.reset(plan)
            console.run_state.start(plan)
            layout = watch(app, 0.3)  # the run's views laid out and first drawn, once per run
            wl = plan.axis("wavelength_nm")
            console.views.set_wavelengths(np.asarray(wl, float))
            feeder = Feeder((plan.axis("y_um").size, plan.axis("x_um").size), wl.size, rate, seconds)
            feeder.data.connect(console.views.on_data)
            feeder.data.connect(console.run_state.on_data)
            redraws0 = console.views.redraws
            panels0 = [p.redraws for p in console.views.panels]
            t0, cpu0 = time.perf_counter(), time.thread_time()
            feeder.thread.start()
            meter = watch(app, seconds, feeder.thread.is_alive)
            elapsed = time.perf_counter() - t0
            ui_cpu = (time.thread_time() - cpu0) / elapsed
            app.processEvents()
            latency.run_ended()
            out = {"spectra_per_s": feeder.sent / elapsed, "worst_stall_ms": meter.worst_ms,
                   "over_50ms": meter.over(50), "ticks": len(meter.gaps),
                   "p99_stall_ms": meter.percentile_ms(99), "redraw_hz": (console.views.redraws - redraws0) / elapsed,
                   "map_panel_redraw_hz": min((p.redraws - p0) / elapsed
                                              for p, p0 in zip(console.views.panels, panels0, strict=True)),
                   "baseline_ms": baseline.worst_ms, "layout_ms": layout.worst_ms, "ui_cpu": ui_cpu}
            console.close()
            return out
    finally:
        station.close()


def bench_confocal(app: QApplication, seconds: float) -> dict[str, float]:
    from tepl.config import CONFIG_DIR
    from tepl.gui.console import Console
    from tepl.station import build_station

    station = build_station(CONFIG_DIR / "confocal-sim.yaml")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            console = Console(station, Path(tmp) / "runs", status_interval_s=None, settings_dir=Path(tmp))
            console.resize(1600, 1000)
            console.show()
            console.select_procedure("confocal-raster")
            console.set_values("confocal-raster", {"size_x_um": 4.0, "size_y_um": 4.0, "pixel_um": 0.1,
                                                   "dwell_s": 0.001})
            watch(app, 0.5)  # the window's first layout and paint
            baseline = watch(app, 1.0)  # the idle console on this machine, now
            console.start_run()
            while console.plan is None and console.is_running():
                app.processEvents()
            layout = watch(app, 0.3)  # the run's views laid out and first drawn, once per run
            redraws0, lines0 = console.views.redraws, console.progress_bar.value()
            t0, cpu0 = time.perf_counter(), time.thread_time()
            meter = watch(app, 0.0, lambda: console.is_running() and time.perf_counter() - t0 < seconds)
            elapsed = time.perf_counter() - t0
            ui_cpu = (time.thread_time() - cpu0) / elapsed
            lines = console.progress_bar.value() - lines0
            console.abort_run("benchmark over")
            while console.is_running():
                app.processEvents()
            out = {"lines_per_s": lines / elapsed, "worst_stall_ms": meter.worst_ms,
                   "over_50ms": meter.over(50), "ticks": len(meter.gaps),
                   "p99_stall_ms": meter.percentile_ms(99),
                   "redraw_hz": (console.views.redraws - redraws0) / elapsed,
                   "baseline_ms": baseline.worst_ms, "layout_ms": layout.worst_ms, "ui_cpu": ui_cpu}
            console.close()
            return out
    finally:
        station.close()


def _context(result: dict[str, float]) -> None:
    print(f"  UI thread CPU       {100 * result['ui_cpu']:.0f} % of a core (the 0.5 ms sleeps of the benchmark's loop "
          "excluded)")
    print(f"  for comparison      largest stall of the idle console {result['baseline_ms']:.1f} ms (1 s, same "
          f"process); while the run's views are laid out at its start {result['layout_ms']:.1f} ms (once, 0.3 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="how long each part runs")
    parser.add_argument("--rate", type=float, default=1000.0, help="spectra per second fed to the raster views")
    parser.add_argument("--only", choices=("raster", "confocal"), help="run one part only")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    if args.only != "confocal":
        _print_raster(bench_raster(app, args.rate, args.seconds), args)
    if args.only != "raster":
        _print_confocal(bench_confocal(app, args.seconds), args)
    print(f"figures as measured on this machine (shared; load average {os.getloadavg()[0]:.2f} at the end)")


def _print_raster(raster: dict[str, float], args: argparse.Namespace) -> None:
    print(f"raster views fed at {args.rate:.0f} spectra/s for {args.seconds:g} s (100 x 100 plan, 1024-pixel "
          "spectra, 4 maps + spectrum)")
    print(f"  spectra delivered   {raster['spectra_per_s']:.0f} /s")
    print(f"  largest UI stall    {raster['worst_stall_ms']:.1f} ms (99th percentile {raster['p99_stall_ms']:.1f} ms; "
          f"{raster['over_50ms']} of {raster['ticks']} ticks over 50 ms late)")
    print(f"  main view redraws   {raster['redraw_hz']:.1f} /s; "
          f"slowest map panel {raster['map_panel_redraw_hz']:.1f} /s")
    _context(raster)


def _print_confocal(confocal: dict[str, float], args: argparse.Namespace) -> None:
    print(f"confocal raster from the console (40 x 40 px, 1 ms dwell, simulated TCSPC) for up to {args.seconds:g} s")
    print(f"  lines written       {confocal['lines_per_s']:.1f} /s")
    print(f"  largest UI stall    {confocal['worst_stall_ms']:.1f} ms (99th percentile {confocal['p99_stall_ms']:.1f} "
          f"ms; {confocal['over_50ms']} of {confocal['ticks']} ticks over 50 ms late)")
    print(f"  main view redraws   {confocal['redraw_hz']:.1f} /s")
    _context(confocal)


if __name__ == "__main__":
    main()
