"""``tepl analyze``: peak fits of hyperspectral maps, chunk by chunk from the HDF5 files, on Dask.

The spectra dataset (``/entry/data/spectra``, shape (..., wavelength)) is read as a ``dask.array`` whose chunks
are blocks of whole spectra, each read from the file when a worker needs it (the file is opened by path, so the
same graph runs on the local scheduler or on a ``dask.distributed`` cluster whose workers see the file). Each
chunk is fitted with :func:`tepl.analysis.peaks.fit_peaks`, the function an in-memory fit uses, so a spectrum's
result does not depend on how the map was cut. The maps (every ``PeakFit`` field, shaped like the map) go into
``/entry/analysis/peaks`` of the file, or into ``FILE.analysis.h5`` beside it when the file is read-only, with
the code version and the parameters used.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tepl import __version__
from tepl.analysis.peaks import PeakFit, fit_peaks
from tepl.units import FIT_WINDOW_NM

SPECTRA = "entry/data/spectra"
WAVELENGTH = "entry/data/wavelength_nm"
GROUP = "entry/analysis/peaks"
FIELDS = tuple(f.name for f in fields(PeakFit))


@dataclass(frozen=True)
class H5Source:
    """A dataset read by path on each access (picklable: a distributed worker opens the file itself)."""

    path: str
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, index: Any) -> np.ndarray:
        with h5py.File(self.path, "r") as f:
            return f[self.name][index]


def spectra_chunks(shape: tuple[int, ...], itemsize: int, chunk_mb: float) -> tuple[int, ...]:
    """Chunks of whole spectra of about ``chunk_mb`` MB: the leading axes cut, the wavelength axis whole."""
    budget = max(1, int(chunk_mb * 1e6 // (shape[-1] * itemsize)))  # spectra per chunk
    chunks = []
    for size in reversed(shape[:-1]):
        take = max(1, min(size, budget))
        chunks.insert(0, take)
        budget = max(1, budget // size) if take == size else 1
    return (*chunks, shape[-1])


def _fit_chunk(block: np.ndarray, wavelength_nm: np.ndarray, window_nm: tuple[float, float] | None) -> np.ndarray:
    """Every PeakFit field of one chunk, stacked on a new first axis (float64)."""
    fit = fit_peaks(wavelength_nm, np.asarray(block, float), window_nm=window_nm)
    return np.stack([np.asarray(getattr(fit, name), float) for name in FIELDS])


def peak_maps(path: str | Path, chunk_mb: float = 64.0, window_nm: tuple[float, float] | None = FIT_WINDOW_NM):
    """The lazy (len(FIELDS), ...) dask array of the peak fit of every spectrum of the run file at ``path``."""
    import dask.array as da

    path = str(Path(path).resolve())
    with h5py.File(path, "r") as f:
        if SPECTRA not in f or WAVELENGTH not in f:
            raise ValueError(f"{path}: no {SPECTRA} with {WAVELENGTH}: not a hyperspectral run")
        dset = f[SPECTRA]
        source = H5Source(path, SPECTRA, tuple(dset.shape), dset.dtype)
        wavelength_nm = f[WAVELENGTH][()]
    if len(source.shape) < 2 or source.shape[-1] != wavelength_nm.size:
        raise ValueError(f"{path}: {SPECTRA} is {source.shape}, not (..., {wavelength_nm.size} wavelengths)")
    spectra = da.from_array(source, chunks=spectra_chunks(source.shape, source.dtype.itemsize, chunk_mb),
                            asarray=True, fancy=False)
    return da.map_blocks(_fit_chunk, spectra, wavelength_nm, window_nm, dtype=float, drop_axis=spectra.ndim - 1,
                         new_axis=0, chunks=((len(FIELDS),), *spectra.chunks[:-1]))


def _compute(lazy, scheduler: str | None, workers: int | None, progress: bool) -> np.ndarray:
    if scheduler:
        from distributed import Client
        from distributed import progress as show_progress

        with Client(scheduler) as client:
            future = client.compute(lazy)
            if progress:
                show_progress(future)
            return future.result()
    from dask.diagnostics import ProgressBar

    if workers == 1:  # one chunk at a time in this thread: no pool, no per-thread memory arenas
        options: dict[str, Any] = {"scheduler": "synchronous"}
    else:
        options = {"scheduler": "threads", "num_workers": workers} if workers else {"scheduler": "threads"}
    if progress:
        with ProgressBar(dt=0.5):
            return lazy.compute(**options)
    return lazy.compute(**options)


def write_maps(path: str | Path, maps: np.ndarray, parameters: dict) -> str:
    """Write the maps into ``GROUP`` of the file, or of ``FILE.analysis.h5`` when the file is read-only; returns
    where they went (``FILE:/group``)."""
    path = Path(path)
    target = path if os.access(path, os.W_OK) else path.with_suffix(".analysis.h5")
    with h5py.File(target, "a") as f:
        if GROUP in f:
            del f[GROUP]
        group = f.require_group(GROUP)
        for name, values in zip(FIELDS, maps, strict=True):
            kind = bool if name == "ok" else (np.int32 if name == "n_iter" else float)
            group.create_dataset(name, data=values.astype(kind), compression="gzip", compression_opts=1)
        group.attrs.update({"software_version": f"tepl {__version__}", "function": "tepl.analysis.peaks.fit_peaks",
                            "source": f"{path.name}:/{SPECTRA}", "parameters": json.dumps(parameters),
                            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    return f"{target}:/{GROUP}"


def analyze_file(path: str | Path, scheduler: str | None = None, workers: int | None = None, chunk_mb: float = 64.0,
                 window_nm: tuple[float, float] | None = FIT_WINDOW_NM, progress: bool = True) -> str:
    """Fit, write, and say where the maps went and how long it took."""
    if chunk_mb <= 0:
        raise ValueError(f"--chunk-mb {chunk_mb!r} must be positive")
    if workers is not None and workers < 1:
        raise ValueError(f"--workers {workers!r} must be at least 1")
    start = time.perf_counter()
    lazy = peak_maps(path, chunk_mb, window_nm)
    maps = _compute(lazy, scheduler, workers, progress)
    parameters = {"window_nm": None if window_nm is None else list(window_nm), "chunks": [list(c) for c in
                  lazy.chunks[1:]], "scheduler": scheduler or "local threads", "workers": workers}
    where = write_maps(path, maps, parameters)
    n_ok = int(np.count_nonzero(maps[FIELDS.index("ok")] > 0))
    return f"{where}: {n_ok} of {maps[0].size} spectra fitted in {time.perf_counter() - start:.1f} s"


def analyze_files(files: Sequence[str | Path], scheduler: str | None = None, workers: int | None = None,
                  chunk_mb: float = 64.0, progress: bool = True) -> Iterator[str]:
    """``analyze_file`` for each file, in order."""
    for path in files:
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: no such file")
        yield analyze_file(path, scheduler, workers, chunk_mb, progress=progress)
