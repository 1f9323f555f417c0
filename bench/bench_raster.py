"""Per-pixel cost of a simulated hyperspectral raster: stage move, Z read, spectrum, write, live fits.

    python bench/bench_raster.py [--pixels 100]

Runs an N x N raster (default 100 x 100 = 10,000 pixels) on config/sim.yaml through the full stack
(drivers → protocol simulators → World, recorder, live peak fits per line) and prints wall time per pixel.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tepl.procedures import run_procedure
from tepl.station import build_station


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pixels", type=int, default=100, help="pixels per side")
    parser.add_argument("--exposure-s", type=float, default=0.01, help="simulated exposure per pixel")
    args = parser.parse_args()
    n = args.pixels
    station = build_station()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench_raster.h5"
        t0 = time.perf_counter()
        run_procedure("raster", station, out, size_x_um=0.002 * (n - 1), size_y_um=0.002 * (n - 1), pixel_um=0.002,
                      exposure_s=args.exposure_s)
        wall_s = time.perf_counter() - t0
        size_mb = out.stat().st_size / 1e6
    pixels = n * n
    print(f"raster {n} x {n} = {pixels} pixels on the simulated station")
    print(f"  wall time      {wall_s:.2f} s")
    print(f"  per pixel      {1e3 * wall_s / pixels:.3f} ms")
    print(f"  pixels/s       {pixels / wall_s:.0f}")
    print(f"  file size      {size_mb:.1f} MB")


if __name__ == "__main__":
    main()
