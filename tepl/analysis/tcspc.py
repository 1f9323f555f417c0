"""Histograms of photon tags (numpy, vectorised; plain arrays in, arrays out).

* ``decay_histogram``: TCSPC decay per detector channel from T3 ``dtime`` bins.
* ``flim_cube``: decay per channel and pixel (FLIM) from each photon's pixel index; the pixels from sync
  indices or scanner markers, and raw T3 records straight to a cube, are in ``tepl.analysis.flim_decode``.
* ``bin_trace``: photon counts per channel in time bins (intensity trace, blinking).

Correlations and g2 are in ``tepl.analysis.correlation``; normalisation and dead-time correction in
``tepl.analysis.normalisation``. Times in ps (``*_ps``, int64 from tags), TCSPC delays in bins.
"""

from __future__ import annotations

import math

import numpy as np

from tepl.analysis.photon_arrays import in_range, one_d_same_length, positive_int


def bin_shift(bin_factor: int) -> int:
    """log2(bin_factor) for a power of two, else -1 (then bins are found by division)."""
    return bin_factor.bit_length() - 1 if bin_factor & (bin_factor - 1) == 0 else -1


def _bins(dtime: np.ndarray, bin_factor: int) -> np.ndarray:
    """Coarse TCSPC bins ``dtime // bin_factor`` (a shift for powers of two), as an integer array. The divisor
    goes in as int64: a Python int beyond int16 would not combine with an int16 dtime (numpy 2 raises)."""
    if bin_factor == 1:
        return dtime
    shift = bin_shift(bin_factor)
    if shift >= 0:
        return dtime >> shift  # a shift past the type's width gives 0 (or -1 below 0)
    return dtime // np.int64(bin_factor)


def _histogram(indices: list[tuple[np.ndarray, int]], minlength: int) -> np.ndarray:
    """bincount of the row-major flat index of (index array, size) pairs, leaving out-of-range entries out."""
    ok = None
    for arr, size in indices:
        if not in_range(arr, size):
            bad = (arr < 0) | (arr >= size)
            ok = ~bad if ok is None else ok & ~bad
    flat = None
    for arr, size in indices:
        if ok is not None:
            arr = arr[ok]
        if flat is None:
            flat = arr.astype(np.int64)
        else:
            flat *= size
            flat += arr
    return np.bincount(flat, minlength=minlength)


def decay_histogram(dtime: np.ndarray, channel: np.ndarray, n_bins: int, n_channels: int,
                    bin_factor: int = 1) -> np.ndarray:
    """Counts per (channel, TCSPC bin), int64 of shape (n_channels, n_bins).

    ``dtime``: TCSPC bins after the sync pulse; with ``bin_factor`` k, bin ``dtime // k`` (``n_bins`` counts the
    coarse bins). Photons outside [0, n_bins) or on channels outside [0, n_channels) are left out.
    """
    dtime, channel = one_d_same_length(dtime=dtime, channel=channel)
    n_bins, n_channels = positive_int(n_bins, "n_bins"), positive_int(n_channels, "n_channels")
    bin_factor = positive_int(bin_factor, "bin_factor")
    counts = _histogram([(channel, n_channels), (_bins(dtime, bin_factor), n_bins)], n_channels * n_bins)
    return counts.reshape(n_channels, n_bins)


def cube_size(n_channels, n_pixels, n_bins, bin_factor) -> tuple[int, int, int, int]:
    """(n_channels, n_pixels, n_bins, bin_factor) of a FLIM cube as positive integers, refused when the cube
    would hold more than 2**31 bins."""
    n_pixels, n_bins = positive_int(n_pixels, "n_pixels"), positive_int(n_bins, "n_bins")
    n_channels, bin_factor = positive_int(n_channels, "n_channels"), positive_int(bin_factor, "bin_factor")
    if n_channels * n_pixels * n_bins > 2**31:
        raise ValueError(f"FLIM cube of {n_channels} x {n_pixels} x {n_bins} bins is too large; use bin_factor")
    return n_channels, n_pixels, n_bins, bin_factor


def flim_cube(pixel_index: np.ndarray, dtime: np.ndarray, channel: np.ndarray, n_pixels: int, n_bins: int,
              n_channels: int, bin_factor: int = 1) -> np.ndarray:
    """Counts per (channel, pixel, TCSPC bin), int64. Photons with a pixel index outside [0, n_pixels)
    (e.g. -1 for line returns) and bins or channels out of range are left out."""
    pixel_index, dtime, channel = one_d_same_length(pixel_index=pixel_index, dtime=dtime, channel=channel)
    n_channels, n_pixels, n_bins, bin_factor = cube_size(n_channels, n_pixels, n_bins, bin_factor)
    size = n_channels * n_pixels * n_bins
    counts = _histogram([(channel, n_channels), (pixel_index, n_pixels), (_bins(dtime, bin_factor), n_bins)], size)
    return counts.reshape(n_channels, n_pixels, n_bins)


def bin_trace(time_ps: np.ndarray, channel: np.ndarray, bin_s: float, duration_s: float,
              n_channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts per channel in consecutive ``bin_s`` bins over [0, duration_s): (time_s bin centres,
    counts[channel, bin] int64). A last partial bin is kept; photons outside are left out."""
    time_ps, channel = one_d_same_length(time_ps=time_ps, channel=channel)
    if not (np.isfinite(bin_s) and bin_s > 0):
        raise ValueError(f"bin_s must be a positive number of s, got {bin_s!r}")
    if not (np.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration_s must be a positive number of s, got {duration_s!r}")
    n_channels = positive_int(n_channels, "n_channels")
    n = max(1, math.ceil(duration_s / bin_s - 1e-9))
    if n * n_channels > 2**31:
        raise ValueError(f"{n} bins of {bin_s:g} s over {duration_s:g} s are too many; use a longer bin_s")
    bin_ps = bin_s * 1e12
    if time_ps.dtype.kind in "iu" and abs(bin_ps - round(bin_ps)) < 1e-6 * bin_ps:
        idx = time_ps.astype(np.int64, copy=False) // int(round(bin_ps))
    else:
        idx = np.floor(time_ps / bin_ps).astype(np.int64)
    flat = channel.astype(np.int64) * n + idx
    ok = (idx >= 0) & (idx < n) & (channel >= 0) & (channel < n_channels)
    if not ok.all():
        flat = flat[ok]
    counts = np.bincount(flat, minlength=n_channels * n).reshape(n_channels, n)
    return (np.arange(n) + 0.5) * bin_s, counts
