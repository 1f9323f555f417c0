"""Per-pixel cost of a simulated hyperspectral raster: stage move, Z read, spectrum, write, live fits.

    python bench/bench_raster.py [--pixels 100]

Runs an N x N raster (default 100 x 100 = 10,000 pixels) on config/sim.yaml at zero latency (simulated time,
no wall-clock pacing) through the full stack (drivers → protocol simulators → World, recorder, live peak fits
per line) and prints wall time per pixel. A second run with timers around each layer prints where a pixel's
time goes: stage move and settle, Z read, spectrum (driver and SDK calls, of which the simulator's exposure),
file writes, live fits, and the rest (run loop, events, checkpoints). The timers cost a little themselves,
so the breakdown's total is a bit above the untimed run's. The live fits run on their own thread while the
next line is measured: the scan's thread only waits for what is not done by then.
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import time
from pathlib import Path

from tepl.procedures import run_procedure
from tepl.station import build_station

PARTS = ("stage move + settle", "Z read", "spectrum (driver + SDK)", "  of which simulated exposure",
         "file writes + flushes", "live fits (waiting for them)", "run loop, events, rest",
         "  live fits on their own thread")


def _raster(station, out: Path, n: int, exposure_s: float) -> float:
    """Wall time (s) of an n x n raster into ``out``."""
    return _raster_times(station, out, n, exposure_s)[0]


def _raster_times(station, out: Path, n: int, exposure_s: float) -> tuple[float, float]:
    """Wall time and processor time (s, every thread of the process) of an n x n raster into ``out``."""
    t0, c0 = time.perf_counter(), time.process_time()
    run_procedure("raster", station, out, size_x_um=0.002 * (n - 1), size_y_um=0.002 * (n - 1), pixel_um=0.002,
                  exposure_s=exposure_s)
    return time.perf_counter() - t0, time.process_time() - c0


def _timed(spent: dict[str, float], cpu: dict[str, float], part: str, fn):
    """``fn`` adding its wall time to ``spent[part]`` and its thread's processor time to ``cpu[part]``."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[part] += time.perf_counter() - t0
            cpu[part] += time.thread_time() - c0
    return wrapper


def _breakdown(station, out: Path, n: int, exposure_s: float) -> tuple[float, dict[str, float], dict[str, float]]:
    """Wall time, and wall and processor seconds per part, of an n x n raster with timers around the layers."""
    from tepl.data.recorder import Recorder
    from tepl.procedures import spectral
    from tepl.sims.andor_sdk2 import SimSDK2

    spent, cpu = dict.fromkeys(PARTS, 0.0), dict.fromkeys(PARTS, 0.0)
    patches = [(Recorder, name, "file writes + flushes") for name in ("write", "flush", "set_attrs")]
    patches += [(SimSDK2, "_expose", "  of which simulated exposure")]
    if hasattr(spectral, "LineFits"):
        patches += [(spectral.LineFits, "finish", "live fits (waiting for them)"),
                    (spectral, "live_fit", "  live fits on their own thread")]
    else:  # a tree from before the background fits (the "before" figures): the scan fits each line itself
        from tepl.procedures import scans

        patches += [(scans, "live_fit", "live fits (waiting for them)")]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    roles = [(station.stage, "move_and_wait_um", "stage move + settle"), (station.zcontrol, "z_nm", "Z read"),
             (station.spectrometer, "acquire", "spectrum (driver + SDK)")]
    try:
        for owner, name, part in patches:
            setattr(owner, name, _timed(spent, cpu, part, getattr(owner, name)))
        for role, name, part in roles:
            setattr(role, name, _timed(spent, cpu, part, getattr(role, name)))
        c0 = time.thread_time()
        wall_s = _raster(station, out, n, exposure_s)
        thread_s = time.thread_time() - c0
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)
        for role, name, _ in roles:
            delattr(role, name)
    measured = sum(v for k, v in spent.items() if not k.startswith(" "))  # the parts of the scan's own thread
    spent["run loop, events, rest"] = wall_s - measured
    cpu["run loop, events, rest"] = thread_s - sum(v for k, v in cpu.items() if not k.startswith(" "))
    return wall_s, spent, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pixels", type=int, default=100, help="pixels per side")
    parser.add_argument("--exposure-s", type=float, default=0.01, help="simulated exposure per pixel")
    args = parser.parse_args()
    n = args.pixels
    station = build_station()
    pixels = n * n
    with tempfile.TemporaryDirectory() as tmp:
        _raster(station, Path(tmp) / "warm_up.h5", 4, args.exposure_s)  # compiled fits, first-call costs
        out = Path(tmp) / "bench_raster.h5"
        wall_s, cpu_s = _raster_times(station, out, n, args.exposure_s)
        size_mb = out.stat().st_size / 1e6
        timed_s, spent, cpu = _breakdown(station, Path(tmp) / "bench_raster_timed.h5", n, args.exposure_s)
    print(f"raster {n} x {n} = {pixels} pixels on the simulated station (zero latency)")
    print(f"  wall time      {wall_s:.2f} s")
    print(f"  per pixel      {1e6 * wall_s / pixels:.0f} us")
    print(f"  pixels/s       {pixels / wall_s:.0f}")
    print(f"  processor time {1e6 * cpu_s / pixels:.0f} us per pixel (all threads; {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.1f})")
    print(f"  file size      {size_mb:.1f} MB")
    print(f"per-pixel breakdown (timed run: {1e6 * timed_s / pixels:.0f} us per pixel)   wall us   processor us")
    for part in PARTS:
        print(f"  {part:<48} {1e6 * spent[part] / pixels:7.0f} {1e6 * cpu[part] / pixels:11.0f}")


if __name__ == "__main__":
    main()
