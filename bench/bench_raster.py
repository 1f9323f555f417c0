"""Per-pixel cost of a simulated hyperspectral raster: stage move, Z read, spectrum, write, live fits.

    python bench/bench_raster.py [--pixels 100]

Runs an N x N raster (default 100 x 100 = 10,000 pixels) on config/sim.yaml at zero latency (simulated time,
no wall-clock pacing) through the full stack (drivers → protocol simulators → World, recorder, live peak fits
per line) and prints wall time per pixel. A second run with timers around each layer prints where a pixel's
time goes: stage move and settle, Z read, spectrum (driver and SDK calls, of which the simulator's exposure),
file writes, live fits, and the rest (run loop, events, checkpoints). The timers cost a little themselves,
so the breakdown's total is a bit above the untimed run's.
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from pathlib import Path

from tepl.procedures import run_procedure
from tepl.station import build_station

PARTS = ("stage move + settle", "Z read", "spectrum (driver + SDK)", "  of which simulated exposure",
         "file writes + flushes", "live fits", "run loop, events, rest")


def _raster(station, out: Path, n: int, exposure_s: float) -> float:
    """Wall time (s) of an n x n raster into ``out``."""
    t0 = time.perf_counter()
    run_procedure("raster", station, out, size_x_um=0.002 * (n - 1), size_y_um=0.002 * (n - 1), pixel_um=0.002,
                  exposure_s=exposure_s)
    return time.perf_counter() - t0


def _timed(spent: dict[str, float], part: str, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[part] += time.perf_counter() - t0
    return wrapper


def _breakdown(station, out: Path, n: int, exposure_s: float) -> tuple[float, dict[str, float]]:
    """Wall time and seconds per part of an n x n raster with timers around the layers."""
    from tepl.data.recorder import Recorder
    from tepl.procedures import scans
    from tepl.sims.andor_sdk2 import SimSDK2

    spent = dict.fromkeys(PARTS, 0.0)
    patches = [(Recorder, name, "file writes + flushes") for name in ("write", "flush", "set_attrs")]
    patches += [(scans, "live_fit", "live fits"), (SimSDK2, "_expose", "  of which simulated exposure")]
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    roles = [(station.stage, "move_and_wait_um", "stage move + settle"), (station.zcontrol, "z_nm", "Z read"),
             (station.spectrometer, "acquire", "spectrum (driver + SDK)")]
    try:
        for owner, name, part in patches:
            setattr(owner, name, _timed(spent, part, getattr(owner, name)))
        for role, name, part in roles:
            setattr(role, name, _timed(spent, part, getattr(role, name)))
        wall_s = _raster(station, out, n, exposure_s)
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)
        for role, name, _ in roles:
            delattr(role, name)
    measured = sum(v for k, v in spent.items() if not k.startswith(" "))
    spent["run loop, events, rest"] = wall_s - measured
    return wall_s, spent


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
        wall_s = _raster(station, out, n, args.exposure_s)
        size_mb = out.stat().st_size / 1e6
        timed_s, spent = _breakdown(station, Path(tmp) / "bench_raster_timed.h5", n, args.exposure_s)
    print(f"raster {n} x {n} = {pixels} pixels on the simulated station (zero latency)")
    print(f"  wall time      {wall_s:.2f} s")
    print(f"  per pixel      {1e6 * wall_s / pixels:.0f} us")
    print(f"  pixels/s       {pixels / wall_s:.0f}")
    print(f"  file size      {size_mb:.1f} MB")
    print(f"per-pixel breakdown (timed run: {1e6 * timed_s / pixels:.0f} us per pixel)")
    for part in PARTS:
        print(f"  {part:<30} {1e6 * spent[part] / pixels:7.0f} us")


if __name__ == "__main__":
    main()
