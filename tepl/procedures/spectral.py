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


def live_fit(wavelength_nm: np.ndarray, spectra: np.ndarray):
    """Peak fits used live (one line or one step at a time)."""
    from tepl.analysis.peaks import fit_peaks

    return fit_peaks(wavelength_nm, np.atleast_2d(spectra), window_nm=FIT_WINDOW_NM)
