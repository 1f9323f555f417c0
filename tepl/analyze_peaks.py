"""Peak maps of a hyperspectral run, chunk by chunk: every spectrum of ``/entry/data/spectra`` (shape
(..., wavelength)) fitted by :func:`tepl.analysis.peaks.fit_peaks`, the function an in-memory fit uses, so a
spectrum's result does not depend on how the map was cut. The maps (every ``PeakFit`` field, shaped like the
map) go into ``/entry/analysis/peaks``.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import h5py
import numpy as np

from tepl.analysis.peaks import PeakFit, fit_peaks
from tepl.analyze_chunks import FIT_THREADS, lazy_dataset, open_source, spectra_chunks, write_group
from tepl.units import FIT_WINDOW_NM

SPECTRA = "entry/data/spectra"
WAVELENGTH = "entry/data/wavelength_nm"
GROUP = "entry/analysis/peaks"
FIELDS = tuple(f.name for f in fields(PeakFit))


def is_hyperspectral(f: h5py.File) -> bool:
    return SPECTRA in f and WAVELENGTH in f


def _fit_chunk(block: np.ndarray, wavelength_nm: np.ndarray, window_nm: tuple[float, float] | None) -> np.ndarray:
    """Every PeakFit field of one chunk, stacked on a new first axis (float64)."""
    fit = fit_peaks(wavelength_nm, np.asarray(block, float), window_nm=window_nm, workers=FIT_THREADS)
    return np.stack([np.asarray(getattr(fit, name), float) for name in FIELDS])


def peak_maps(path: str | Path, chunk_mb: float = 64.0, window_nm: tuple[float, float] | None = FIT_WINDOW_NM):
    """The lazy (len(FIELDS), ...) dask array of the peak fit of every spectrum of the run file at ``path``."""
    import dask.array as da

    path = str(Path(path).resolve())
    source, wavelength_nm, _ = open_source(path, SPECTRA, WAVELENGTH, "hyperspectral", 2, "(..., {n} wavelengths)")
    spectra = lazy_dataset(source, spectra_chunks(source.shape, source.dtype.itemsize, chunk_mb))
    return da.map_blocks(_fit_chunk, spectra, wavelength_nm, window_nm, dtype=float, drop_axis=spectra.ndim - 1,
                         new_axis=0, chunks=((len(FIELDS),), *spectra.chunks[:-1]))


def write_peak_maps(path: str | Path, maps: np.ndarray, parameters: dict) -> str:
    """Write the (len(FIELDS), ...) maps into ``GROUP``; returns where they went (``FILE:/group``)."""
    typed = {name: values.astype(bool if name == "ok" else (np.int32 if name == "n_iter" else float))
             for name, values in zip(FIELDS, maps, strict=True)}
    return write_group(path, GROUP, typed, function="tepl.analysis.peaks.fit_peaks", source=SPECTRA,
                       parameters=parameters)
