"""Emission spectra of the virtual microscope on the CCD: Gaussian bands in wavelength and Lorentzian lines in
photon energy, what share of their photons lands on each pixel, and photon wavelengths drawn from them.

Spectra are integrated over CCD pixels by CDF differences (pixel edges from ``np.gradient`` of the axis), so a
line narrower than a pixel keeps its photons. Wavelengths nm (float32 on photons), energies eV.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from tepl.sims.photons import FWHM_PER_SIGMA


def pixel_edges_nm(wavelength_nm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper wavelength edges (nm) of pixels centred at ``wavelength_nm`` (pitch from np.gradient)."""
    wl = np.asarray(wavelength_nm, float)
    if wl.ndim != 1 or wl.size < 2:
        raise ValueError(f"wavelength_nm must be a 1-D axis of at least 2 pixels, got shape {wl.shape}")
    if not np.all(np.isfinite(wl)) or np.any(wl <= 0):
        raise ValueError("wavelength_nm must be finite and positive")
    half = 0.5 * np.abs(np.gradient(wl))
    return wl - half, wl + half


def _pixel_cdf_difference(cdf, wavelength_nm: np.ndarray) -> np.ndarray:
    """cdf(upper edge) - cdf(lower edge) per pixel; ``cdf`` maps wavelengths (..., n) to (..., n). Evaluates
    the CDF once per shared edge when neighbouring pixels touch (a monotonic, smooth axis)."""
    low, high = pixel_edges_nm(wavelength_nm)
    if np.allclose(high[:-1], low[1:], rtol=0, atol=1e-9 * float(np.abs(high).max())):
        edges = np.append(low, high[-1])
        c = cdf(edges)
        return c[..., 1:] - c[..., :-1]
    if np.allclose(low[:-1], high[1:], rtol=0, atol=1e-9 * float(np.abs(high).max())):  # descending axis
        edges = np.append(high[0], low)
        c = cdf(edges)
        return c[..., :-1] - c[..., 1:]
    return cdf(high) - cdf(low)


class GaussianBands:
    """An emission spectrum: weighted Gaussian bands in wavelength. ``weight`` is normalised to sum 1."""

    def __init__(self, centre_nm: float | np.ndarray, fwhm_nm: float | np.ndarray,
                 weight: np.ndarray | tuple | None = None):
        self.centre_nm = np.atleast_1d(np.asarray(centre_nm, float))
        self.fwhm_nm = np.broadcast_to(np.asarray(fwhm_nm, float), self.centre_nm.shape).copy()
        w = np.ones_like(self.centre_nm) if weight is None else np.broadcast_to(
            np.asarray(weight, float), self.centre_nm.shape)
        if np.any(self.fwhm_nm <= 0) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"bands need positive FWHM and non-negative weights, got fwhm {fwhm_nm} nm, "
                             f"weights {weight}")
        self.weight = w / w.sum()
        self.sigma_nm = self.fwhm_nm / FWHM_PER_SIGMA

    def cdf(self, wavelength_nm: np.ndarray) -> np.ndarray:
        """Fraction of photons below ``wavelength_nm``."""
        z = (np.asarray(wavelength_nm, float)[..., None] - self.centre_nm) / self.sigma_nm
        return ndtr(z) @ self.weight

    def fraction_between(self, low_nm: float, high_nm: float) -> float:
        """Fraction of photons with wavelength in [low_nm, high_nm)."""
        return float(self.cdf(np.array([high_nm]))[0] - self.cdf(np.array([low_nm]))[0])

    def pixel_fractions(self, wavelength_nm: np.ndarray) -> np.ndarray:
        """Fraction of photons landing in each pixel (centres ``wavelength_nm``)."""
        return _pixel_cdf_difference(self.cdf, wavelength_nm)

    def sample_nm(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` photon wavelengths (nm, float32)."""
        if self.centre_nm.size == 1:
            band = np.zeros(n, np.intp)
        else:
            band = np.searchsorted(np.cumsum(self.weight)[:-1], rng.random(n, dtype=np.float32), side="right")
        centre = self.centre_nm.astype(np.float32)
        sigma = self.sigma_nm.astype(np.float32)
        return centre[band] + sigma[band] * rng.standard_normal(n, dtype=np.float32)

    def describe(self) -> dict:
        return {"centre_nm": self.centre_nm.copy(), "fwhm_nm": self.fwhm_nm.copy(), "weight": self.weight.copy()}


LORENTZ_CUT_FWHM = 50.0  # Lorentzian lines are truncated at +-50 FWHM so their total is finite and exact


def lorentzian_cdf(offset: np.ndarray, fwhm: np.ndarray) -> np.ndarray:
    """CDF of a Lorentzian of ``fwhm`` truncated at +-LORENTZ_CUT_FWHM·fwhm, at ``offset`` from its centre."""
    cut = LORENTZ_CUT_FWHM * fwhm
    x = np.clip(offset, -cut, cut)
    lo = np.arctan(-2.0 * LORENTZ_CUT_FWHM)
    return (np.arctan(2.0 * x / fwhm) - lo) / (-2.0 * lo)


def lorentzian_pixel_fractions(centre_eV: np.ndarray, fwhm_eV: np.ndarray,
                               wavelength_nm: np.ndarray, hc_eV_nm: float) -> np.ndarray:
    """Fraction of each line's photons in each pixel: shape (n_lines, n_pixels). Lines are Lorentzians in
    photon energy (truncated at +-LORENTZ_CUT_FWHM·FWHM); pixel edges are converted to energies."""
    c = np.asarray(centre_eV, float)[:, None]
    g = np.asarray(fwhm_eV, float)[:, None]

    def below_wavelength(wl_nm: np.ndarray) -> np.ndarray:  # share of photons with wavelength < wl
        return 1.0 - lorentzian_cdf(hc_eV_nm / wl_nm[None, :] - c, g)

    return _pixel_cdf_difference(below_wavelength, wavelength_nm)


def lorentzian_lines_pixel_rate(centre_eV: np.ndarray, fwhm_eV: np.ndarray, rate: np.ndarray,
                                wavelength_nm: np.ndarray, hc_eV_nm: float) -> np.ndarray:
    """Sum over lines of ``rate`` x the line's share in each pixel: (n_pixels,). Same result as
    ``rate @ lorentzian_pixel_fractions(...)``, but each (truncated) line is evaluated only on the pixels it
    reaches when neighbouring pixels touch."""
    wl = np.asarray(wavelength_nm, float)
    c = np.asarray(centre_eV, float).ravel()
    g = np.asarray(fwhm_eV, float).ravel()
    r = np.asarray(rate, float).ravel()
    low, high = pixel_edges_nm(wl)
    scale = 1e-9 * float(np.abs(high).max())
    ascending = np.allclose(high[:-1], low[1:], rtol=0, atol=scale)
    if c.size == 0:
        return np.zeros(wl.shape)
    if not ascending:
        return r @ lorentzian_pixel_fractions(c, g, wl, hc_eV_nm)
    edges_nm = np.append(low, high[-1])
    reach_nm = hc_eV_nm / np.clip(c - LORENTZ_CUT_FWHM * g, 1e-9, None), hc_eV_nm / (c + LORENTZ_CUT_FWHM * g)
    first = np.clip(np.searchsorted(edges_nm, reach_nm[1]) - 1, 0, edges_nm.size - 1)
    last = np.clip(np.searchsorted(edges_nm, reach_nm[0]) + 1, 0, edges_nm.size - 1)
    width = int((last - first).max()) + 1
    index = np.minimum(first[:, None] + np.arange(width), edges_nm.size - 1)  # (n_lines, width) edge indices
    below = 1.0 - lorentzian_cdf(hc_eV_nm / edges_nm[index] - c[:, None], g[:, None])
    share = np.diff(below, axis=1) * r[:, None]  # pixel index[:, :-1]; repeated last edges give 0
    out = np.bincount(index[:, :-1].ravel(), weights=share.ravel(), minlength=edges_nm.size)
    # photons beyond the axis ends are not in any pixel; lines cut by the window edges keep only their part
    return out[: wl.size]


def sample_lorentzian(rng: np.random.Generator, centre: np.ndarray, fwhm: np.ndarray) -> np.ndarray:
    """Values from truncated Lorentzians (same truncation as ``lorentzian_cdf``), one per element."""
    lo = np.arctan(-2.0 * LORENTZ_CUT_FWHM)
    u = rng.uniform(lo, -lo, np.shape(centre))
    return np.asarray(centre, float) + 0.5 * np.asarray(fwhm, float) * np.tan(u)

