"""What a pressure ramp shows (paper 000, Fig. 3): shift at the deepest press, quench gap, reversibility.

The reference is the unstrained plateau: pressing steps whose gap is at least ``unstrained_gap_nm`` (above
the dot) and whose emission is at least a quarter of the plateau's brightest (a dot blinking off during a
step would otherwise spoil the reference).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tepl.analysis.peaks import fit_peaks
from tepl.units import FIT_WINDOW_NM


@dataclass(frozen=True)
class RampSummary:
    """Figures of one ramp. Energies in meV relative to the unstrained plateau; gaps in nm."""

    reference_eV: float
    deepest_gap_nm: float
    shift_at_deepest_meV: float
    shift_at_deepest_err_meV: float
    gap_at_max_intensity_nm: float
    release_offset_meV: float  # plateau after release minus plateau before pressing
    release_offset_err_meV: float
    plateau_fwhm_meV: float  # linewidth of the mean unstrained spectrum


def summarize_ramp(wavelength_nm: np.ndarray, spectra: np.ndarray, gap_nm: np.ndarray, direction: np.ndarray,
                   unstrained_gap_nm: float = 11.0, window_nm: tuple[float, float] = FIT_WINDOW_NM) -> RampSummary:
    """Fit every step of a ramp file's ``spectra[step, wavelength]`` and summarise it."""
    spectra = np.asarray(spectra, float)
    gap_nm, direction = np.asarray(gap_nm, float), np.asarray(direction)
    done = np.all(np.isfinite(spectra), axis=1)
    if not done.any():
        raise ValueError("the ramp has no complete step")
    fit = fit_peaks(wavelength_nm, spectra[done], window_nm=window_nm)
    gap, sign = gap_nm[done], direction[done]
    ok = fit.ok
    plateau = ok & (gap >= unstrained_gap_nm)
    if not plateau.any():
        raise ValueError(f"no step at a gap ≥ {unstrained_gap_nm} nm to serve as the unstrained reference")
    bright = fit.amplitude >= 0.25 * np.max(fit.amplitude[plateau])
    before, after = plateau & bright & (sign > 0), plateau & bright & (sign < 0)
    if not before.any():
        raise ValueError("no bright unstrained step before pressing")

    def mean_and_err(mask: np.ndarray) -> tuple[float, float]:
        return float(fit.center_eV[mask].mean()), float(np.sqrt(np.sum(fit.center_eV_err[mask] ** 2)) / mask.sum())

    reference, reference_err = mean_and_err(before)
    deepest = int(np.argmin(np.where(ok, gap, np.inf)))
    pressing = ok & (sign > 0)
    gap_at_max = float(gap[pressing][np.argmax(fit.amplitude[pressing])]) if pressing.any() else np.nan
    release, release_err = mean_and_err(after) if after.any() else (np.nan, np.nan)
    mean = fit_peaks(wavelength_nm, spectra[done][before].mean(axis=0), window_nm=window_nm)
    return RampSummary(
        reference_eV=reference,
        deepest_gap_nm=float(gap[deepest]),
        shift_at_deepest_meV=1000.0 * (float(fit.center_eV[deepest]) - reference),
        shift_at_deepest_err_meV=1000.0 * float(np.hypot(fit.center_eV_err[deepest], reference_err)),
        gap_at_max_intensity_nm=gap_at_max,
        release_offset_meV=1000.0 * (release - reference),
        release_offset_err_meV=1000.0 * float(np.hypot(release_err, reference_err)),
        plateau_fwhm_meV=1000.0 * float(mean.fwhm_eV),
    )
