"""Lifetime maps of a confocal FLIM run, chunk by chunk: every pixel's decay of ``/entry/data/flim`` (shape
(channel, y, x, tcspc bin), counts) fitted by :func:`tepl.analysis.flim.fit_flim`, channel by channel, into
``/entry/analysis/flim``.

``fit_flim`` starts every pixel from the fit of the decay summed over the fitted pixels of the whole cube (those
with at least ``min_counts`` photons), so a chunk cannot be fitted on its own. A first pass over the file (a Dask
reduction) sums those decays per channel. Each chunk is then fitted together with one more pixel, the *rest*:
the summed decay less the chunk's own fitted pixels. The rest holds at least ``min_counts`` photons whenever any
pixel outside the chunk was fitted, so the sum ``fit_flim`` fits is the whole cube's sum, and every pixel gets the
start and IRF of the in-memory fit of the whole cube. Counts are whole numbers, so these sums are exact in
float64 in any order and every map equals the in-memory fit's. The rest's own fit is dropped.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import h5py
import numpy as np

from tepl.analysis.flim import fit_flim
from tepl.analysis.lifetime_results import FlimMaps
from tepl.analyze_chunks import FIT_THREADS, H5Source, compute, lazy_dataset, open_source, spectra_chunks, write_group

FLIM = "entry/data/flim"
TIME = "entry/data/tcspc_time_ns"
GROUP = "entry/analysis/flim"
MIN_COUNTS = 500.0  # photons a pixel's decay needs to be fitted (as the run's lifetime figure)
COMPONENT_FIELDS = ("tau_ns", "tau_ns_err", "amplitude_fraction", "intensity_fraction")  # (n_exp, ...) maps
FIELDS = tuple(f.name for f in fields(FlimMaps) if f.name != "global_fit")


def is_flim(f: h5py.File) -> bool:
    return FLIM in f and TIME in f


def _rows(n_exp: int) -> list[tuple[str, int]]:
    """(field, rows) of the stacked maps: n_exp rows for a per-component field, one otherwise."""
    return [(name, n_exp if name in COMPONENT_FIELDS else 1) for name in FIELDS]


def _fitted_sum(block: np.ndarray, min_counts: float) -> np.ndarray:
    """The decays of a chunk (1, ..., K) whose pixels hold at least ``min_counts`` photons, summed: (1, 1.., K)."""
    y = np.asarray(block, float).reshape(-1, block.shape[-1])
    return y[y.sum(axis=1) >= max(min_counts, 1e-300)].sum(axis=0).reshape((1,) * (block.ndim - 1) + (-1,))


def _fit_chunk(block: np.ndarray, summed: np.ndarray, time_ns: np.ndarray, n_exp: int, period_ns: float | None,
               min_counts: float, block_info=None) -> np.ndarray:
    """Every FlimMaps field of one chunk (1, ..., K) of one channel, stacked on a new first axis (float64)."""
    channel = block_info[0]["array-location"][0][0]
    pixel_shape = block.shape[:-1]
    y = np.asarray(block, float).reshape(-1, block.shape[-1])
    mine = y[y.sum(axis=1) >= max(min_counts, 1e-300)].sum(axis=0)
    rest = np.maximum(summed[channel] - mine, 0.0)
    maps = fit_flim(np.vstack([y, rest[None]]), time_ns, n_exp, period_ns=period_ns, min_counts=min_counts,
                    workers=FIT_THREADS)
    out = []
    for name, n_rows in _rows(n_exp):
        values = np.asarray(getattr(maps, name), float).reshape(n_rows, -1)[:, :-1]  # the rest dropped
        out.append(values.reshape((n_rows, *pixel_shape)))
    return np.concatenate(out)


def _open(path: str) -> tuple[H5Source, np.ndarray, float | None]:
    """The FLIM cube (read by path), its TCSPC time axis (ns) and the laser period (ns; None without a sync)."""
    source, time_ns, attrs = open_source(path, FLIM, TIME, "FLIM", 3, "(channel, ..., {n} TCSPC bins)")
    sync_hz = float(attrs.get("sync_rate_hz", 0.0))
    return source, time_ns, (1e9 / sync_hz if sync_hz > 0 else None)


def flim_maps(path: str | Path, chunk_mb: float = 64.0, n_exp: int = 2, min_counts: float = MIN_COUNTS,
              scheduler: str | None = None, workers: int | None = None, progress: bool = False):
    """The lazy (rows, channel, ...) dask array of the FLIM fit of every pixel of the run file at ``path``, and
    the fit's parameters. The decays summed per channel (the fit's start) are computed here, a first pass over
    the file on ``scheduler`` / ``workers``."""
    import dask.array as da

    path = str(Path(path).resolve())
    source, time_ns, period_ns = _open(path)
    if n_exp not in (1, 2, 3):
        raise ValueError(f"--flim-exp {n_exp!r}: 1, 2 or 3 exponential components")
    if not np.isfinite(min_counts) or min_counts < 0:
        raise ValueError(f"--min-counts {min_counts!r} must be a non-negative photon count")
    chunks = (1, *spectra_chunks(source.shape[1:], source.dtype.itemsize, chunk_mb))
    cube = lazy_dataset(source, chunks)
    n_ch, n_bins = source.shape[0], source.shape[-1]
    partial = da.map_blocks(_fitted_sum, cube, min_counts, dtype=float,  # one decay per chunk
                            chunks=((1,) * n_ch, *(((1,) * len(c)) for c in cube.chunks[1:-1]), (n_bins,)))
    summed = compute(partial.sum(axis=tuple(range(1, cube.ndim - 1))), scheduler, workers, progress)
    n_rows = sum(n for _, n in _rows(n_exp))
    lazy = da.map_blocks(_fit_chunk, cube, summed, time_ns, n_exp, period_ns, min_counts, dtype=float,
                         drop_axis=cube.ndim - 1, new_axis=0, chunks=((n_rows,), *cube.chunks[:-1]))
    parameters = {"n_exp": n_exp, "min_counts": min_counts, "period_ns": period_ns, "irf": "gaussian (fitted)",
                  "chunks": [list(c) for c in cube.chunks[:-1]]}
    return lazy, parameters


def write_flim_maps(path: str | Path, maps: np.ndarray, n_exp: int, parameters: dict) -> str:
    """Write the stacked (rows, channel, ...) maps into ``GROUP``: per-component fields as (channel, component,
    ...), the others as (channel, ...); returns where they went (``FILE:/group``)."""
    typed, row = {}, 0
    for name, n_rows in _rows(n_exp):
        values = maps[row:row + n_rows]
        row += n_rows
        values = np.moveaxis(values, 0, 1) if name in COMPONENT_FIELDS else values[0]
        typed[name] = values.astype(bool if name in ("ok", "fitted") else (np.int32 if name == "n_iter" else float))
    return write_group(path, GROUP, typed, function="tepl.analysis.flim.fit_flim", source=FLIM,
                       parameters=parameters)
