"""``tepl analyze``: peak maps fitted chunk by chunk on Dask equal the in-memory fit, also for a map larger than
the memory the process may still take (RLIMIT_AS), and land in the file's analysis group with their provenance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import h5py
import numpy as np

from tepl.analysis.peaks import fit_peaks
from tepl.analyze import FIELDS, GROUP
from tepl.analyze_chunks import spectra_chunks
from tepl.cli import main


def write_map(path, ny: int, nx: int, n_wl: int = 1024, seed: int = 1, span_nm: tuple = (550.0, 850.0)) -> None:
    """A synthetic hyperspectral map: a Gaussian peak of random centre, width and height on a flat background,
    Poisson counts (float32, like a raster's spectra), written row by row (never whole in memory)."""
    rng = np.random.default_rng(seed)
    wl = np.linspace(*span_nm, n_wl)
    with h5py.File(path, "w") as f:
        f["entry/data/wavelength_nm"] = wl
        dset = f.create_dataset("entry/data/spectra", (ny, nx, n_wl), np.float32, chunks=(1, nx, n_wl))
        for row in range(ny):
            centre, width = rng.uniform(660, 720, (nx, 1)), rng.uniform(10, 25, (nx, 1))
            height = rng.uniform(0, 400, (nx, 1))
            dset[row] = rng.poisson(500 + height * np.exp(-0.5 * ((wl - centre) / width) ** 2))


def in_memory(path):
    with h5py.File(path, "r") as f:
        return fit_peaks(f["entry/data/wavelength_nm"][()], f["entry/data/spectra"][()].astype(float))


def assert_maps_equal(path, reference, target=None) -> None:
    with h5py.File(target or path, "r") as f:
        group = f[GROUP]
        for name in FIELDS:
            np.testing.assert_array_equal(group[name][()], np.asarray(getattr(reference, name)).astype(
                group[name].dtype), err_msg=name)
        assert group.attrs["software_version"].startswith("tepl ")
        assert json.loads(group.attrs["parameters"])["window_nm"] is not None


def test_chunked_fit_equals_the_in_memory_fit_and_records_provenance(tmp_path):
    path = tmp_path / "map.h5"
    write_map(path, 12, 20)
    assert main(["analyze", str(path), "--chunk-mb", "0.1", "--workers", "2", "--quiet"]) == 0
    reference = in_memory(path)
    assert reference.ok.mean() > 0.5, "too few real peaks: a vacuous comparison"
    assert_maps_equal(path, reference)
    with h5py.File(path, "r") as f:
        assert json.loads(f[GROUP].attrs["parameters"])["chunks"][0] != [12], "the map was not cut"


def test_a_read_only_file_gets_a_sibling_analysis_file(tmp_path, monkeypatch):
    path = tmp_path / "map.h5"
    write_map(path, 3, 10)
    path.chmod(0o444)
    if os.access(path, os.W_OK):  # root writes any file: answer for the mode bits, as for any other user
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if (
            mode & os.W_OK and os.path.samefile(p, path)) else real_access(p, mode, *a, **k))
    before = path.stat().st_mtime_ns
    assert main(["analyze", str(path), "--quiet"]) == 0
    assert_maps_equal(path, in_memory(path), target=tmp_path / "map.analysis.h5")
    assert path.stat().st_mtime_ns == before  # the source was not written
    with h5py.File(path, "r") as f:
        assert GROUP not in f


def test_chunks_hold_whole_spectra_within_the_budget():
    assert spectra_chunks((1000, 1000, 1024), 4, 64.0) == (15, 1000, 1024)
    assert spectra_chunks((10, 1024), 4, 64.0) == (10, 1024)
    assert spectra_chunks((3, 100000, 2048), 8, 1.0) == (1, 61, 2048)


def test_a_map_larger_than_the_memory_limit_is_fitted_out_of_core(tmp_path):
    path = tmp_path / "big.h5"
    # 78.6 MB of spectra (float32) over 400-1200 nm; the fit uses the 410 pixels of its 640-800 nm window
    write_map(path, 24, 400, n_wl=2048, span_nm=(400.0, 1200.0))
    write_map(tmp_path / "small.h5", 2, 10)  # a warm-up: every module the fit needs is loaded before the limit
    map_bytes = 24 * 400 * 2048 * 4
    headroom = map_bytes * 8 // 10  # what the process may still take once the code is loaded: 80 % of the map
    script = textwrap.dedent(f"""
        import resource, sys
        import numpy as np, h5py, dask.array, dask.diagnostics
        from tepl.analyze import analyze_file
        analyze_file({str(tmp_path / "small.h5")!r}, workers=1, progress=False)
        def address_space():
            with open("/proc/self/status") as f:
                return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmSize"))
        limit = address_space() + {headroom}
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:  # the control: the whole map cannot be held under this limit
            with h5py.File({str(path)!r}, "r") as f:
                whole = f["entry/data/spectra"][()].astype(float)
            sys.exit("the whole map fitted in memory under the limit: the limit is not below the map")
        except (MemoryError, OSError) as exc:  # numpy's, or HDF5's "memory allocation failed"
            assert isinstance(exc, MemoryError) or "memory allocation failed" in str(exc), exc
        print(analyze_file({str(path)!r}, workers=1, chunk_mb=1.0, progress=False))
    """)
    env = {**os.environ, "MALLOC_ARENA_MAX": "2", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "of 9600 spectra fitted" in done.stdout
    assert_maps_equal(path, in_memory(path))
