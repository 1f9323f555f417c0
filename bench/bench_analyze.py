"""``tepl analyze`` out of core and on a dask.distributed cluster.

1. Writes a synthetic hyperspectral map of ``--size-gb`` (float32 spectra, 1024 pixels, a Gaussian peak on a
   flat background, Poisson counts; written row by row), then analyses it in a child process whose address
   space is limited to ``--limit-gb`` (RLIMIT_AS), and checks the maps of the first ``--check-rows`` rows
   against the in-memory fit of those rows. Target: 2 GB map under a 1 GB limit completes, equal.
   Prints the run's time and its peak resident memory and address space.
2. Fits a ``--scaling-mb`` map on a LocalCluster with 1 worker process and with 2 (one thread each; every fit
   task fits on one thread), then on the local threaded scheduler with 1 and 2 threads, and prints the
   speed-ups (best of ``--repeats`` runs each, every run listed). Target: >= 1.6x for the cluster (needs two
   idle cores: the load average is printed).

Run: ``python bench/bench_analyze.py [--size-gb 2] [--limit-gb 1] [--scaling-mb 200] [--repeats 2] [--dir DIR]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
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


def out_of_core(path: Path, limit_gb: float, check_rows: int, workers: int) -> None:
    from tepl.analysis.peaks import fit_peaks
    from tepl.analyze import FIELDS, GROUP

    script = textwrap.dedent(f"""
        import resource
        from tepl.analyze import analyze_file
        limit = int({limit_gb} * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        print(*analyze_file({str(path)!r}, workers={workers}, chunk_mb=16.0, progress=False))
        with open("/proc/self/status") as f:
            status = dict(line.split(":", 1) for line in f)
        print("peak:", status["VmHWM"].strip(), "resident,", status["VmPeak"].strip(), "address space")
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
    print(f"out of core: {size_gb:.2f} GB map under RLIMIT_AS {limit_gb:g} GB, {workers} local thread(s): "
          f"{done.stdout.strip()} ({elapsed:.0f} s wall with start-up); first {check_rows} rows equal to the "
          f"in-memory fit: {equal}")


def _speed_up(label: str, runs: dict[int, list[tuple[float, float]]], load: tuple[float, float]) -> None:
    """Print the best wall time of each configuration, the speed-up, and the cores the runs got (CPU s / wall s)."""
    best = {n: min(runs[n]) for n in (1, 2)}
    listed = "; ".join(f"{n}: " + ", ".join(f"{wall:.1f} s ({cpu / wall:.2f} cores)" for wall, cpu in runs[n])
                       for n in (1, 2))
    paired = np.median([one[0] / two[0] for one, two in zip(runs[1], runs[2], strict=True)])
    print(f"{label}: 1 worker {best[1][0]:.1f} s, 2 workers {best[2][0]:.1f} s, speed-up "
          f"{best[1][0] / best[2][0]:.2f}x best against best, {paired:.2f}x median of the run-by-run ratios "
          f"(target >= 1.6x; runs {listed}; {os.cpu_count()} cores, load average {load[0]:.1f} before, "
          f"{load[1]:.1f} after)", flush=True)


def _cpu_s(client) -> float:
    """CPU seconds used so far by every worker process of a cluster."""
    return sum(client.run(time.process_time).values())


CEILING_JOB = """
import sys, time
import numpy as np
from tepl.analysis.peaks import fit_peaks
rng = np.random.default_rng(1)
wl = np.linspace(550.0, 850.0, 1024)
centre, width = rng.uniform(660, 720, (3000, 1)), rng.uniform(10, 25, (3000, 1))
y = rng.poisson(500 + rng.uniform(0, 400, (3000, 1)) * np.exp(-0.5 * ((wl - centre) / width) ** 2)).astype(float)
fit_peaks(wl, y[:10], workers=1)
sys.stdin.read()  # start together
t0 = time.perf_counter()
for _ in range(3):
    fit_peaks(wl, y, workers=1)
print(time.perf_counter() - t0)
"""


def ceiling() -> None:
    """The control: the same fit, no Dask and no file, in 1 process and in 2 at once; the speed-up this machine
    gives two processes right now."""
    def together(n: int) -> float:
        procs = [subprocess.Popen([sys.executable, "-c", CEILING_JOB], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True) for _ in range(n)]
        time.sleep(5.0)  # imports done
        return max(float(p.communicate("")[0]) for p in procs)
    one, two = together(1), together(2)
    print(f"control, 2 plain processes fitting in memory (no Dask, no file): 1 process {one:.1f} s, 2 processes "
          f"{two:.1f} s for twice the work: the machine gives {2 * one / two:.2f}x now "
          f"(load average {os.getloadavg()[0]:.1f})", flush=True)


def scaling(path: Path, repeats: int, chunk_mb: float) -> None:
    """1 worker process x 1 thread against 2 worker processes x 1 thread each, then the local threaded
    scheduler with 1 and 2 threads; each fit task fits on one thread (``tepl.analyze_chunks.FIT_THREADS``).
    The configurations alternate run by run, so both see the same load from other users of the machine."""
    from distributed import Client, LocalCluster, get_task_stream

    from tepl.analyze import analyze_file

    runs: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    busy: dict[int, list[float]] = {1: [], 2: []}  # task compute seconds per wall second: tasks running at once
    load_before = os.getloadavg()[0]
    clusters = {n: LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                silence_logs=logging.ERROR)
                for n in (1, 2)}
    try:
        clients = {n: Client(cluster) for n, cluster in clusters.items()}
        for cluster in clusters.values():  # warm-up: every worker loads the compiled kernel
            analyze_file(path, scheduler=cluster.scheduler_address, chunk_mb=chunk_mb, progress=False)
        for _ in range(repeats):
            for n, cluster in clusters.items():
                cpu0, t0 = _cpu_s(clients[n]), time.perf_counter()
                with get_task_stream(clients[n]) as stream:
                    analyze_file(path, scheduler=cluster.scheduler_address, chunk_mb=chunk_mb, progress=False)
                wall = time.perf_counter() - t0
                runs[n].append((wall, _cpu_s(clients[n]) - cpu0))
                busy[n].append(sum(s["stop"] - s["start"] for task in stream.data for s in task["startstops"]
                                   if s["action"] == "compute") / wall)
    finally:
        for n, cluster in clusters.items():
            clients[n].close()
            cluster.close()
    _speed_up("LocalCluster (processes, 1 thread each)", runs, (load_before, os.getloadavg()[0]))
    ceiling()
    print("  tasks running at once (task compute s / wall s): " + "; ".join(
        f"{n} worker(s): " + ", ".join(f"{b:.2f}" for b in busy[n]) for n in (1, 2)), flush=True)
    runs = {1: [], 2: []}
    load_before = os.getloadavg()[0]
    for _ in range(repeats):
        for n in (1, 2):
            cpu0, t0 = time.process_time(), time.perf_counter()
            analyze_file(path, workers=n, chunk_mb=chunk_mb, progress=False)
            runs[n].append((time.perf_counter() - t0, time.process_time() - cpu0))
    _speed_up("local threaded scheduler (this process)", runs, (load_before, os.getloadavg()[0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=2.0)
    parser.add_argument("--limit-gb", type=float, default=1.0)
    parser.add_argument("--check-rows", type=int, default=4)
    parser.add_argument("--oc-workers", type=int, default=1, help="local threads of the out-of-core run")
    parser.add_argument("--scaling-mb", type=float, default=200.0)
    parser.add_argument("--chunk-mb", type=float, default=8.0, help="chunk size of the scaling runs (MB)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each scaling configuration")
    parser.add_argument("--skip-out-of-core", action="store_true")
    parser.add_argument("--dir", default=None, help="where to write the maps (default: a temporary folder)")
    args = parser.parse_args()
    logging.getLogger("distributed").setLevel(logging.ERROR)  # no scheduler chatter between the figures
    warnings.filterwarnings("ignore", message="Port 8787 is already in use")  # another cluster on this machine
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        if not args.skip_out_of_core:
            big = Path(tmp) / "big.h5"
            t0 = time.perf_counter()
            ny, nx = write_map(big, args.size_gb)
            print(f"wrote a {ny} x {nx} x {N_WL} map ({big.stat().st_size / 1e9:.2f} GB) in "
                  f"{time.perf_counter() - t0:.0f} s", flush=True)
            out_of_core(big, args.limit_gb, args.check_rows, args.oc_workers)
            big.unlink()
        small = Path(tmp) / "scaling.h5"
        write_map(small, args.scaling_mb / 1000.0)
        scaling(small, args.repeats, args.chunk_mb)


if __name__ == "__main__":
    main()
