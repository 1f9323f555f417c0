"""Spectra as the figures show them: cosmic rays removed (``tepl.plot_cosmics``, counted for the figure's
note), and the photon-energy range the signal occupies, so an axis is zoomed to the band rather than the
spectrometer's whole range."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.ndimage import median_filter

from tepl.plot_common import note
from tepl.plot_cosmics import cosmic_note, remove_spikes
from tepl.units import FIT_WINDOW_NM, HC_EV_NM

SIGNAL_FRACTION = 0.05  # of the band's height above the baseline: where the signal window begins and ends
WINDOW_PAD = 0.35  # the window is widened by this fraction of its width on either side


def cleaned(spectra: np.ndarray) -> tuple[np.ndarray, int | None]:
    """``spectra[..., λ]`` with cosmic-ray spikes removed, and how many were removed (None: too few spectra
    to tell)."""
    return remove_spikes(np.asarray(spectra, float))


def record_cosmics(fig, n: int | None) -> None:
    """Note on ``fig`` that ``n`` cosmic-ray spikes were removed before display (also when none were; None:
    that a lone spectrum was not filtered)."""
    note(fig, cosmic_note(n))


def mean_spectrum(spectra: np.ndarray) -> np.ndarray:
    """The mean over every spectrum of ``spectra[..., λ]``, NaN (unmeasured) spectra left out."""
    spectra = np.asarray(spectra, float)
    if spectra.ndim == 1:
        return spectra
    with warnings.catch_warnings():  # a wavelength never measured stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(spectra.reshape(-1, spectra.shape[-1]), axis=0)


def fit_window_eV() -> tuple[float, float]:
    """The peak-fit window ``tepl.units.FIT_WINDOW_NM`` in photon energy (eV), low to high."""
    low, high = sorted(HC_EV_NM / np.asarray(FIT_WINDOW_NM, float))
    return float(low), float(high)


def signal_window_eV(energy: np.ndarray, profile: np.ndarray) -> tuple[float, float]:
    """The photon-energy range (eV) of the band in ``profile`` (a mean or brightest spectrum on the axis
    ``energy``): where its 5-pixel running median rises above the baseline (the profile's median) by more
    than 5 % of the band's height (looked for within the fit window), widened by a third on both sides,
    within the axis. The fit window when no band stands out."""
    energy = np.asarray(energy, float)
    profile = np.asarray(profile, float)
    low_fit, high_fit = fit_window_eV()
    axis = (float(np.nanmin(energy)), float(np.nanmax(energy)))
    inside = (energy >= low_fit) & (energy <= high_fit) & np.isfinite(profile)
    fallback = (max(axis[0], low_fit), min(axis[1], high_fit))
    if inside.sum() < 5:
        return fallback if fallback[0] < fallback[1] else axis
    smooth = median_filter(np.where(np.isfinite(profile), profile, np.nanmedian(profile)), size=5, mode="nearest")
    baseline = float(np.median(smooth))
    height = float(smooth[inside].max()) - baseline
    if not np.isfinite(height) or height <= 0:
        return fallback
    band = inside & (smooth > baseline + SIGNAL_FRACTION * height)
    if not band.any():
        return fallback
    low, high = float(energy[band].min()), float(energy[band].max())
    pad = WINDOW_PAD * max(high - low, 0.01)
    return max(axis[0], low - pad), min(axis[1], high + pad)
