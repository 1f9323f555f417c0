"""Maps from hyperspectral rasters, one value per spectrum: integrated intensity and fitted peak energy.

Spectra are ``spectra[..., λ]`` on a ``wavelength_nm`` axis (nm); the maps have the shape ``spectra.shape[:-1]``
(``[y, x]`` for a raster). Bright spots in such a map are found by ``tepl.analysis.spots.find_spots``; the width
of a spot along a line scan is ``tepl.analysis.spot_fit.line_profile_fwhm_nm``.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from tepl.units import FIT_WINDOW_NM


class PeakEnergyMaps(NamedTuple):
    """Per-pixel fitted peak energy (eV) and amplitude (counts); NaN where the fit was not accepted."""

    center_eV: np.ndarray
    amplitude: np.ndarray


# ------------------------------------------------------------------------------------------- intensity
def intensity_map(wavelength_nm: np.ndarray, spectra: np.ndarray,
                  window_nm: tuple[float, float] = FIT_WINDOW_NM, min_background_px: int = 10) -> np.ndarray:
    """Background-subtracted integrated counts in ``window_nm`` for every spectrum of ``spectra[..., λ]``.

    The background (CCD baseline plus any flat or sloped offset) comes from the same spectrum outside the
    window, so a band reaching the window's edge is not cut: with at least ``min_background_px`` pixels on
    both sides, a straight line through the (median wavelength, median counts) of each side; with one
    side only, that side's median. When neither side has enough pixels, a line through the means of the
    first and the last ``min_background_px`` pixels inside the window. The result is the sum of counts
    above the background over the window (counts, shape spectra.shape[:-1]); a spectrum with NaN inside
    the window (not yet measured) gives NaN.
    """
    wl = np.asarray(wavelength_nm, float)
    cube = np.asarray(spectra, float)
    if wl.ndim != 1 or cube.ndim < 1 or cube.shape[-1] != wl.size:
        raise ValueError(f"spectra last axis ({cube.shape}) must match wavelength_nm ({wl.shape})")
    if int(min_background_px) != min_background_px or min_background_px < 1:
        raise ValueError(f"min_background_px must be a positive integer, got {min_background_px}")
    n_bg = int(min_background_px)
    lo, hi = sorted(float(v) for v in window_nm)
    inside = np.where((wl >= lo) & (wl <= hi))[0]
    if inside.size < 2 * n_bg + 1:
        raise ValueError(f"window_nm {window_nm} holds {inside.size} pixels of the wavelength axis "
                         f"({wl.min():.1f}-{wl.max():.1f} nm); need at least {2 * n_bg + 1}")
    inside = inside[np.argsort(wl[inside])]
    wl_in = wl[inside]
    band = cube[..., inside]
    below, above = np.where(wl < lo)[0], np.where(wl > hi)[0]
    with warnings.catch_warnings():  # spectra not yet measured are all NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        sides = [(float(np.median(wl[idx])), np.nanmedian(cube[..., idx], axis=-1)[..., None])
                 for idx in (below, above) if idx.size >= n_bg]
    if not sides:
        sides = [(float(wl_in[:n_bg].mean()), band[..., :n_bg].mean(axis=-1, keepdims=True)),
                 (float(wl_in[-n_bg:].mean()), band[..., -n_bg:].mean(axis=-1, keepdims=True))]
    if len(sides) == 1:
        background = sides[0][1]
    else:
        (wl_a, level_a), (wl_b, level_b) = sides
        background = level_a + (level_b - level_a) * (wl_in - wl_a) / (wl_b - wl_a)
    return (band - background).sum(axis=-1)


# ------------------------------------------------------------------------------------------ peak energy
def peak_energy_map(wavelength_nm: np.ndarray, spectra: np.ndarray,
                    window_nm: tuple[float, float] = FIT_WINDOW_NM) -> PeakEnergyMaps:
    """Peak-fit maps of ``spectra[..., λ]``: centre energy (eV) and amplitude, shaped ``spectra.shape[:-1]``.
    Only spectra without NaN are fitted; NaN where a spectrum is unfilled (a stopped run) or the fit failed."""
    from tepl.analysis.peaks import fit_peaks

    cube = np.asarray(spectra, float)
    flat = cube.reshape(-1, cube.shape[-1])
    filled = np.all(np.isfinite(flat), axis=-1)
    maps = np.full((2, flat.shape[0]), np.nan)
    if filled.any():
        fit = fit_peaks(wavelength_nm, flat[filled], window_nm=window_nm)
        maps[:, filled] = np.where(fit.ok, [fit.center_eV, fit.amplitude], np.nan)
    return PeakEnergyMaps(*maps.reshape(2, *cube.shape[:-1]))
