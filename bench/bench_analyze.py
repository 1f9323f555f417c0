"""``tepl analyze`` out of core and on a dask.distributed cluster.

1. Writes a synthetic hyperspectral map of ``--size-gb`` (float32 spectra, 1024 pixels, a Gaussian peak on a
   flat background, Poisson counts; written row by row), then analyses it in a child process whose address
   space is limited to ``--limit-gb`` (RLIMIT_AS), and checks the maps of the first ``--check-rows`` rows
   against the in-memory fit of those rows. Target: 2 GB map under a 1 GB limit completes, equal.
2. Fits a ``--scaling-mb`` map on a LocalCluster with 1 worker and with 2 workers (one thread each) and prints
   the speed-up. Target: >= 1.6x (needs two idle cores: say how loaded the machine was).

Run: ``python bench/bench_analyze.py [--size-gb 2] [--limit-gb 1] [--scaling-mb 200] [--dir DIR]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np

N_WL = 1024


def write_map(path: Path, size_gb: float, nx: int = 500, seed: int = 1) -> tuple[int, int]:
    ny = max(1, int(size_gb * 1e9 // (nx * N_WL * 4)))
    rng = np.random.default_rng(seed)
    wl = np.linspace(550.0, 850.0, N_WL)
    with h5py.File(path, "w") as f:
        f["entry/data/wavelength_nm"] = wl
        dset = f.create_dataset("entry/data/spectra", (ny, nx, N_WL), np.float32, chunks=(1, nx, N_WL))
        for row in range(ny):
            centre, width = rng.uniform(660, 720, (nx, 1)), rng.uniform(10, 25, (nx, 1))
            dset[row] = rng.poisson(500 + rng.uniform(0, 400, (nx, 1)) * np.exp(-0.5 * ((wl - centre) / width) ** 2))
    return ny, nx


def out_of_core(path: Path, limit_gb: float, check_rows: int) -> None:
    from tepl.analysis.peaks import fit_peaks
    from tepl.analyze import FIELDS, GROUP

    script = textwrap.dedent(f"""
        import resource
        from tepl.analyze import analyze_file
        limit = int({limit_gb} * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        print(analyze_file({str(path)!r}, workers=1, chunk_mb=16.0, progress=True))
    """)
    env = {**os.environ, "MALLOC_ARENA_MAX": "2", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if done.returncode:
        print(f"out of core under {limit_gb:g} GB: FAILED\n{done.stderr[-3000:]}")
        return
    with h5py.File(path, "r") as f:
        reference = fit_peaks(f["entry/data/wavelength_nm"][()], f["entry/data/spectra"][:check_rows].astype(float))
        equal = all(np.array_equal(f[GROUP][name][:check_rows],
                                   np.asarray(getattr(reference, name)).astype(f[GROUP][name].dtype), equal_nan=True)
                    for name in FIELDS)
    size_gb = path.stat().st_size / 1e9
    print(f"out of core: {size_gb:.2f} GB map under RLIMIT_AS {limit_gb:g} GB: {done.stdout.strip()} "
          f"({elapsed:.0f} s wall); first {check_rows} rows equal to the in-memory fit: {equal}")


def scaling(path: Path) -> None:
    from distributed import LocalCluster

    from tepl.analyze import analyze_file

    times = {}
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            analyze_file(path, scheduler=cluster.scheduler_address, chunk_mb=8.0, progress=False)  # warm-up
            t0 = time.perf_counter()
            analyze_file(path, scheduler=cluster.scheduler_address, chunk_mb=8.0, progress=False)
            times[workers] = time.perf_counter() - t0
    load = os.getloadavg()[0]
    print(f"LocalCluster: 1 worker {times[1]:.1f} s, 2 workers {times[2]:.1f} s, speed-up {times[1] / times[2]:.2f}x "
          f"(target >= 1.6x; {os.cpu_count()} cores, load average {load:.1f} during the run)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=2.0)
    parser.add_argument("--limit-gb", type=float, default=1.0)
    parser.add_argument("--check-rows", type=int, default=4)
    parser.add_argument("--scaling-mb", type=float, default=200.0)
    parser.add_argument("--dir", default=None, help="where to write the maps (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        big = Path(tmp) / "big.h5"
        t0 = time.perf_counter()
        ny, nx = write_map(big, args.size_gb)
        print(f"wrote a {ny} x {nx} x {N_WL} map ({big.stat().st_size / 1e9:.2f} GB) in "
              f"{time.perf_counter() - t0:.0f} s")
        out_of_core(big, args.limit_gb, args.check_rows)
        big.unlink()
        small = Path(tmp) / "scaling.h5"
        write_map(small, args.scaling_mb / 1000.0)
        scaling(small)


if __name__ == "__main__":
    main()
