"""``tepl analyze``: peak fits of hyperspectral maps and lifetime fits of FLIM cubes, chunk by chunk from the HDF5
files, on Dask.

A run file's datasets are read as ``dask.array``s whose chunks are blocks of whole spectra or decays, each read
from the file when a worker needs it (the file is opened by path, so the same graph runs on the local scheduler
or on a ``dask.distributed`` cluster whose workers see the file). A hyperspectral map (``/entry/data/spectra``)
gets its peak maps (``tepl.analyze_peaks``), a FLIM cube (``/entry/data/flim``) its lifetime maps
(``tepl.analyze_flim``); a file holding both gets both. The maps go into ``/entry/analysis/...`` of the file, or
into ``FILE.analysis.h5`` beside it when the file is read-only, with the code version and the parameters used.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import h5py
import numpy as np

from tepl.analyze_chunks import compute
from tepl.analyze_flim import MIN_COUNTS, flim_maps, is_flim, write_flim_maps
from tepl.analyze_peaks import FIELDS, GROUP, SPECTRA, is_hyperspectral, peak_maps, write_peak_maps
from tepl.units import FIT_WINDOW_NM

__all__ = ["FIELDS", "GROUP", "analyze_file", "analyze_files"]


def _peaks(path: Path, scheduler: str | None, workers: int | None, chunk_mb: float,
           window_nm: tuple[float, float] | None, progress: bool) -> str:
    start = time.perf_counter()
    lazy = peak_maps(path, chunk_mb, window_nm)
    maps = compute(lazy, scheduler, workers, progress)
    parameters = {"window_nm": None if window_nm is None else list(window_nm), "chunks": [list(c) for c in
                  lazy.chunks[1:]], "scheduler": scheduler or "local threads", "workers": workers}
    where = write_peak_maps(path, maps, parameters)
    n_ok = int(np.count_nonzero(maps[FIELDS.index("ok")] > 0))
    return f"{where}: {n_ok} of {maps[0].size} spectra fitted in {time.perf_counter() - start:.1f} s"


def _flim(path: Path, scheduler: str | None, workers: int | None, chunk_mb: float, n_exp: int,
          min_counts: float, progress: bool) -> str:
    start = time.perf_counter()
    lazy, parameters = flim_maps(path, chunk_mb, n_exp, min_counts, scheduler, workers, progress)
    maps = compute(lazy, scheduler, workers, progress)
    parameters.update(scheduler=scheduler or "local threads", workers=workers)
    where = write_flim_maps(path, maps, n_exp, parameters)
    with h5py.File(where.rsplit(":/", 1)[0], "r") as f:
        group = f[where.rsplit(":/", 1)[1]]
        n_fitted, n_ok, n_pixels = int(group["fitted"][()].sum()), int(group["ok"][()].sum()), group["ok"].size
    return (f"{where}: {n_fitted} of {n_pixels} pixel decays fitted ({n_ok} sound) in "
            f"{time.perf_counter() - start:.1f} s")


def analyze_file(path: str | Path, scheduler: str | None = None, workers: int | None = None, chunk_mb: float = 64.0,
                 window_nm: tuple[float, float] | None = FIT_WINDOW_NM, progress: bool = True, *, n_exp: int = 2,
                 min_counts: float = MIN_COUNTS) -> list[str]:
    """Fit, write, and say where each group of maps went and how long it took.

    workers: local threads (1: chunk after chunk in this thread; None: one per core), ignored with a
    ``scheduler`` address. chunk_mb: size of one chunk of the source dataset (MB). window_nm: the peak fit's
    wavelength window. n_exp, min_counts: the FLIM fit's exponential components and the photons a pixel needs.
    """
    if chunk_mb <= 0:
        raise ValueError(f"--chunk-mb {chunk_mb!r} must be positive")
    if workers is not None and workers < 1:
        raise ValueError(f"--workers {workers!r} must be at least 1")
    path = Path(path)
    with h5py.File(path, "r") as f:
        peaks, flim = is_hyperspectral(f), is_flim(f)
    if not (peaks or flim):
        raise ValueError(f"{path}: neither a hyperspectral map ({SPECTRA}) nor a FLIM cube: nothing to analyse")
    reports = []
    if peaks:
        reports.append(_peaks(path, scheduler, workers, chunk_mb, window_nm, progress))
    if flim:
        reports.append(_flim(path, scheduler, workers, chunk_mb, n_exp, min_counts, progress))
    return reports


def analyze_files(files: Sequence[str | Path], scheduler: str | None = None, workers: int | None = None,
                  chunk_mb: float = 64.0, progress: bool = True, *, n_exp: int = 2,
                  min_counts: float = MIN_COUNTS) -> Iterator[str]:
    """``analyze_file`` for each file, in order: one line per group of maps written."""
    for path in files:
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: no such file")
        yield from analyze_file(path, scheduler, workers, chunk_mb, progress=progress, n_exp=n_exp,
                                min_counts=min_counts)
