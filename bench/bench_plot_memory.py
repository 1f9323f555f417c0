"""Peak memory of ``tepl plot`` on a large hyperspectral raster file: read whole vs streamed one line at a time.

    python bench/bench_plot_memory.py [--pixels 142] [--before /path/to/other/checkout/.venv/bin/tepl]

Writes an N x N raster run file (default 142 x 142 x 1024 float64 spectra, ~166 MB, as the issue's file)
with the raster procedure's layout (spectra, height, stored peak-energy maps), then runs in fresh processes:
``tepl plot`` as shipped (datasets above ``tepl.plotting.STREAM_ABOVE_BYTES`` read one row at a time), the same
with the whole file read into memory (the threshold raised above the file size: what ``tepl plot`` did before
streaming), and, with ``--before``, another checkout's ``tepl plot``. Prints each process's peak resident
memory (ru_maxrss) and wall time, and the ratio whole / streamed measured in this run.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tepl.data.recorder import Recorder
from tepl.units import HC_EV_NM

WL_NM = np.linspace(600.0, 800.0, 1024)


def write_raster(path: Path, n: int) -> None:
    rng = np.random.default_rng(1)
    rec = Recorder(path, "raster", {"exposure_s": {"value": 0.1, "unit": "s"}}, "station: bench\n",
                   {"spectrometer": {"exposure_s": 0.1}}, "tepl bench")
    rec.add_axis("wavelength_nm", WL_NM, "nm")
    rec.add_axis("energy_eV", HC_EV_NM / WL_NM, "eV", dim="wavelength_nm")
    axis = 50.0 + 0.005 * (np.arange(n) - n // 2)
    rec.add_axis("y_um", axis, "µm")
    rec.add_axis("x_um", axis, "µm")
    rec.add_dataset("spectra", (n, n, WL_NM.size), ("y_um", "x_um", "wavelength_nm"), "counts", signal=True)
    for name, unit in (("height_nm", "nm"), ("peak_energy_eV", "eV"), ("peak_intensity", "counts")):
        rec.add_dataset(name, (n, n), ("y_um", "x_um"), unit)
    energy = HC_EV_NM / WL_NM
    xx = np.arange(n)
    for iy in range(n):
        bright = 1.0 + 20.0 * np.exp(-(((xx - n / 2) ** 2 + (iy - n / 2) ** 2) / (0.02 * n * n)))
        band = np.exp(-4 * np.log(2) * ((energy - 1.91) / 0.17) ** 2)
        line = 530.0 + rng.poisson(200.0 * bright[:, None] * band[None, :]).astype(float)
        rec.write("spectra", iy, line)
        rec.write("height_nm", iy, 5.0 * bright / bright.max())
        rec.write("peak_energy_eV", iy, np.full(n, 1.91))
        rec.write("peak_intensity", iy, 200.0 * bright)
        rec.flush()
    rec.close("complete")


def measure(command: list[str]) -> tuple[float, float]:
    """(peak resident memory MB, wall s) of ``command`` run as a child process."""
    script = ("import resource, subprocess, sys, time; t0 = time.perf_counter(); "
              "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
              "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t0)")
    out = subprocess.run([sys.executable, "-c", script, *command], check=True, capture_output=True, text=True)
    kb, wall = out.stdout.split()
    return int(kb) / 1024.0, float(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pixels", type=int, default=142, help="pixels per side")
    parser.add_argument("--before", default=None, help="another checkout's tepl executable to compare")
    args = parser.parse_args()
    assert resource.RUSAGE_CHILDREN  # POSIX only
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big_raster.h5"
        write_raster(path, args.pixels)
        size_mb = path.stat().st_size / 2**20
        print(f"raster {args.pixels} x {args.pixels} x {WL_NM.size} spectra, file {size_mb:.0f} MiB")
        plot = ("import sys; import tepl.plotting as p; p.STREAM_ABOVE_BYTES = int(sys.argv[3]); "
                "p.plot_run(sys.argv[1], sys.argv[2])")
        runs = {
            "streamed (tepl plot as shipped)": [sys.executable, "-m", "tepl.cli", "plot", str(path), "--out",
                                                f"{tmp}/streamed"],
            "whole file read (before streaming)": [sys.executable, "-c", plot, str(path), f"{tmp}/whole",
                                                   str(1 << 62)],
        }
        if args.before:
            runs["--before checkout's tepl plot"] = [args.before, "plot", str(path), "--out", f"{tmp}/before"]
        results = {}
        for name, command in runs.items():
            t0 = time.perf_counter()
            results[name] = measure(command)
            print(f"  {name:38s} peak RSS {results[name][0]:7.0f} MiB   wall {time.perf_counter() - t0:6.1f} s")
        streamed = results["streamed (tepl plot as shipped)"][0]
        whole = results["whole file read (before streaming)"][0]
        print(f"  whole / streamed peak RSS: {whole / streamed:.1f}x")


if __name__ == "__main__":
    main()
