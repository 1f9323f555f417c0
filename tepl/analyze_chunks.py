"""What ``tepl analyze`` shares between its fits: datasets read by path chunk by chunk, the chunk sizes, running a
graph on the local scheduler or on a ``dask.distributed`` cluster, and writing maps with their provenance.

Every fit task runs its fit on one thread (``FIT_THREADS``): the parallelism is Dask's, one task per worker
thread or process, so N workers keep N cores busy instead of N workers each starting a pool over every core.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tepl import __version__

FIT_THREADS = 1  # threads of the fit inside one task


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


def open_source(path: str, name: str, axis_name: str, what: str, min_ndim: int,
                layout: str) -> tuple[H5Source, np.ndarray, dict[str, Any]]:
    """The dataset ``name`` of the run file at ``path`` (to be read by path), its last axis ``axis_name`` and
    its attributes. ValueError naming the file when either is missing (not a ``what`` run), or when the dataset
    has fewer than ``min_ndim`` axes or a last axis other than ``axis_name``'s (``layout`` says what it should
    be, e.g. ``"(..., {n} wavelengths)"``)."""
    with h5py.File(path, "r") as f:
        if name not in f or axis_name not in f:
            raise ValueError(f"{path}: no {name} with {axis_name}: not a {what} run")
        dset = f[name]
        source = H5Source(path, name, tuple(dset.shape), dset.dtype)
        axis = f[axis_name][()]
        attrs = dict(dset.attrs)
    if len(source.shape) < min_ndim or source.shape[-1] != axis.size:
        raise ValueError(f"{path}: {name} is {source.shape}, not {layout.format(n=axis.size)}")
    return source, axis, attrs


def spectra_chunks(shape: tuple[int, ...], itemsize: int, chunk_mb: float) -> tuple[int, ...]:
    """Chunks of whole spectra (or decays) of about ``chunk_mb`` MB: the leading axes cut, the last axis whole."""
    budget = max(1, int(chunk_mb * 1e6 // (shape[-1] * itemsize)))  # spectra per chunk
    chunks = []
    for size in reversed(shape[:-1]):
        take = max(1, min(size, budget))
        chunks.insert(0, take)
        budget = max(1, budget // size) if take == size else 1
    return (*chunks, shape[-1])


def lazy_dataset(source: H5Source, chunks: tuple[int, ...]):
    """The dataset as a ``dask.array`` of ``chunks``, each read from the file when a worker needs it."""
    import dask.array as da

    return da.from_array(source, chunks=chunks, asarray=True, fancy=False)


def compute(lazy, scheduler: str | None, workers: int | None, progress: bool) -> np.ndarray:
    """Compute a dask array: on the cluster at ``scheduler``, else on ``workers`` local threads (1: in this
    thread, chunk after chunk; None: one per core)."""
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


def analysis_target(path: Path) -> Path:
    """The file the maps go into: the run file itself, or ``FILE.analysis.h5`` beside it when it is read-only."""
    return path if os.access(path, os.W_OK) else path.with_suffix(".analysis.h5")


def write_group(path: str | Path, group_name: str, maps: dict[str, np.ndarray], *, function: str, source: str,
                parameters: dict, attrs: dict[str, Any] | None = None) -> str:
    """Replace ``group_name`` of the analysis target of ``path`` by ``maps`` (gzip), with the code version, the
    function, the source dataset, the parameters (JSON) and the date; returns where (``FILE:/group``)."""
    path = Path(path)
    target = analysis_target(path)
    with h5py.File(target, "a") as f:
        if group_name in f:
            del f[group_name]
        group = f.require_group(group_name)
        for name, values in maps.items():
            group.create_dataset(name, data=values, compression="gzip", compression_opts=1)
        group.attrs.update({"software_version": f"tepl {__version__}", "function": function,
                            "source": f"{path.name}:/{source}", "parameters": json.dumps(parameters),
                            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **(attrs or {})})
    return f"{target}:/{group_name}"
