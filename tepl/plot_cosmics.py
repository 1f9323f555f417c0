"""Cosmic-ray spikes removed from spectra before they are displayed (never from the file).

A cosmic ray on a CCD spectrometer in full vertical binning deposits its charge in one column: one
wavelength pixel of one spectrum stands far above both its neighbours (``sims/andor.py`` models exactly
this). A pixel is taken for a spike when its excess over the higher of its two neighbours is both larger
than ``min_sigma`` times the spectrum's pixel-to-pixel noise and larger than that neighbour's own height
above the spectrum's median (so a real line, whose neighbours carry a good part of its height, is kept). The
spectra must form a stack (a series, a ramp, a map row) and the pixel must also stand above that pixel's
median over the stack by more than ``min_sigma`` times the noise and ``COLUMN_RATIO`` times the median's
height above the baseline, and above the same pixel of the spectra before and after it by the same two
measures as above its spectral neighbours, so a line narrower than a pixel, which most spectra of the stack
show even as it flickers and jitters, is kept; a lone spectrum of such lines (a calibration lamp) is not
filtered at all. A spike is replaced by the mean of its neighbours. The figures say how many were removed
(``COSMIC_NOTE``).
"""

from __future__ import annotations

import warnings

import numpy as np

MIN_SIGMA = 10.0  # a spike's excess over its higher neighbour, in units of the spectrum's pixel noise
MIN_STACK = 3  # spectra a stack needs for its spikes to be told from lines
COLUMN_RATIO = 3.0  # a spike stands above its pixel's median over the stack by this times that median's height
COSMIC_NOTE = "{n} cosmic-ray spike{s} removed before display (single pixels > {sigma:g}σ)"


def remove_spikes(spectra: np.ndarray, min_sigma: float = MIN_SIGMA) -> tuple[np.ndarray, int | None]:
    """``spectra[..., λ]`` (counts) with single-pixel cosmic-ray spikes replaced by the mean of their
    neighbours, and the number replaced; fewer than ``MIN_STACK`` spectra are returned unchanged with None
    (nothing to tell a spike from a line narrower than a pixel). NaN (unmeasured) spectra pass through."""
    y = np.array(spectra, dtype=float, copy=True)
    if y.shape[-1] < 3 or y.size // y.shape[-1] < MIN_STACK:
        return y, None
    left, mid, right = y[..., :-2], y[..., 1:-1], y[..., 2:]
    neighbour = np.fmax(left, right)
    second = mid - 0.5 * (left + right)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # unmeasured (all-NaN) spectra
        median_second = np.nanmedian(second, axis=-1, keepdims=True) if np.isfinite(second).any() else second
        noise = 1.4826 * np.nanmedian(np.abs(second - median_second), axis=-1, keepdims=True) / np.sqrt(1.5)
        baseline = np.nanmedian(y, axis=-1, keepdims=True)
        excess = mid - neighbour
        threshold = min_sigma * np.maximum(noise, 1e-9)
        spike = (excess > threshold) & (excess > neighbour - baseline)
        flat = mid.reshape(-1, mid.shape[-1])
        column = np.nanmedian(flat, axis=0)  # each wavelength pixel's median over the stack
        excess_t = mid - column
        spike &= (excess_t > threshold) & (excess_t > COLUMN_RATIO * (column - baseline))
        before = np.vstack([flat[1:2], flat[:-1]])  # and above the spectra before and after it
        after = np.vstack([flat[1:], flat[-2:-1]])
        neighbour_t = np.fmax(before, after).reshape(mid.shape)
        spike &= mid - neighbour_t > np.maximum(threshold, neighbour_t - baseline)
    spike &= np.isfinite(excess)
    n = int(spike.sum())
    if n:
        inner = y[..., 1:-1]
        inner[spike] = 0.5 * (left + right)[spike]
    return y, n


def cosmic_note(n: int | None, min_sigma: float = MIN_SIGMA) -> str:
    """What a figure says about the spikes removed from its spectra (None: a lone spectrum, not filtered)."""
    if n is None:
        return "cosmic rays not removed (a lone spectrum cannot tell them from sub-pixel lines)"
    return COSMIC_NOTE.format(n=n, s="" if n == 1 else "s", sigma=min_sigma)
