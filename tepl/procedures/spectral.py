"""What procedures with a spectrometer share: the spectral axes of the file and the live peak fit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tepl.plan import PlanBuilder
from tepl.roles import LimitError
from tepl.units import FIT_WINDOW_NM, HC_EV_NM


def spectral_axes(add_axis: Callable[..., Any], wavelength_nm: np.ndarray) -> np.ndarray:
    """``wavelength_nm`` axis and its auxiliary ``energy_eV`` axis on the same dimension, through ``add_axis``
    (a plan's ``axis`` or a recorder's ``add_axis``); returns the wavelengths (nm)."""
    wl = np.asarray(wavelength_nm, float)
    add_axis("wavelength_nm", wl, "nm")
    add_axis("energy_eV", HC_EV_NM / wl, "eV", dim="wavelength_nm")
    return wl


def check_fit_window(plan: PlanBuilder, station: Any) -> None:
    """Procedures that fit peaks live need the spectrometer to cover most of the fit window."""
    wl = station.spectrometer.wavelengths_nm()
    low, high = max(FIT_WINDOW_NM[0], float(wl.min())), min(FIT_WINDOW_NM[1], float(wl.max()))
    if high - low < 0.5 * (FIT_WINDOW_NM[1] - FIT_WINDOW_NM[0]):
        raise LimitError(
            f"the spectrometer covers {wl.min():.0f}-{wl.max():.0f} nm, but live peak fits need most of "
            f"{FIT_WINDOW_NM[0]:.0f}-{FIT_WINDOW_NM[1]:.0f} nm: set center_wavelength_nm near 700 nm")
    plan.check(f"spectrometer covers the {FIT_WINDOW_NM[0]:.0f}-{FIT_WINDOW_NM[1]:.0f} nm fit window")


def live_fit(wavelength_nm: np.ndarray, spectra: np.ndarray, workers: int | None = None):
    """Peak fits used live (one line or one step at a time); ``workers``: threads of the compiled fit (None:
    every core)."""
    from tepl.analysis.peaks import fit_peaks

    return fit_peaks(wavelength_nm, np.atleast_2d(spectra), window_nm=FIT_WINDOW_NM, workers=workers)


PEAK_MAPS = ("peak_energy_eV", "peak_intensity", "peak_fwhm_eV")
"""The datasets a scan's live fits fill: centre energy, amplitude and FWHM of each pixel's peak (NaN where
the fit failed)."""


def write_line_fit(ctx: Any, index: Any, fit: Any) -> None:
    """Write a line's fit (``live_fit``) to the ``PEAK_MAPS`` at ``index`` (a scan line's row)."""
    for name, values in zip(PEAK_MAPS, (fit.center_eV, fit.amplitude, fit.fwhm_eV), strict=True):
        ctx.write(name, index, np.where(fit.ok, values, np.nan))


class LineFits:
    """The live fits of a scan's lines, each fitted on a worker thread while the next line is measured and
    written (``write_line_fit``, from the thread that runs the scan) once the next line is done or when the
    scan ends, in line order. Use as a context manager around the scan: it writes the last line's fit at the
    end, also when the scan ends by an exception (after at most one line's fit; a fit that fails then is not
    allowed to hide the exception). A writer killed before a fit is written leaves that line's peak maps
    unfilled: ``refit_missing`` fills them on resume."""

    def __init__(self, ctx: Any, wavelength_nm: np.ndarray):
        from concurrent.futures import ThreadPoolExecutor

        self.ctx, self.wavelength_nm = ctx, wavelength_nm
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="tepl-live-fit")
        self._pending: tuple[Any, Any] | None = None  # (row index, future of its fit)

    def submit(self, index: Any, spectra: np.ndarray) -> None:
        """Fit ``spectra`` (the line's spectra, no longer changed by the caller) in the background, after
        writing the fit of the line before."""
        self.finish()
        self._pending = (index, self._pool.submit(live_fit, self.wavelength_nm, spectra, 1))

    def finish(self) -> None:
        """Wait for the line in the background, if any, and write its fit."""
        pending, self._pending = self._pending, None
        if pending is not None:
            write_line_fit(self.ctx, pending[0], pending[1].result())

    def __enter__(self) -> LineFits:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.finish()
            else:
                try:
                    self.finish()
                except Exception:  # noqa: BLE001 - the scan's own exception is the one to report
                    pass
        finally:
            self._pool.shutdown(wait=False)


def refit_missing(ctx: Any, wavelength_nm: np.ndarray, rows: list[Any]) -> int:
    """On resume: fit again the ``rows`` (scan lines an interrupted run completed) whose peak maps hold no
    value at all while their spectra are complete (a writer killed between a line and its fit); returns how
    many."""
    spectra, energy = ctx.recorder.dataset("spectra"), ctx.recorder.dataset(PEAK_MAPS[0])
    refitted = 0
    for index in rows:
        line = np.asarray(spectra[index], float)
        if np.isnan(energy[index]).all() and np.isfinite(line).all():
            write_line_fit(ctx, index, live_fit(wavelength_nm, line))
            refitted += 1
    return refitted
