"""Photon-pair correlations from time tags (numpy, vectorised, or the compiled kernels when they are on).

* ``cross_correlate``: histogram of t2 - t1 over all photon pairs within a lag window.
* ``g2_from_tags``: the same for two channels of one sorted T2 stream, normalised (Hanbury Brown-Twiss g2
  when the two channels see one emitter through a 50:50 splitter).

Times in ps (``*_ps``, int64 from tags); lag bins centred on whole multiples of the bin width.
"""

from __future__ import annotations

import math

import numpy as np

from tepl import kernels
from tepl.analysis.normalisation import g2_normalisation
from tepl.analysis.photon_arrays import one_d_same_length, sorted_times


def lag_bins(bin_ps: float, window_ps: float) -> int:
    """K such that the lag bins, centred on k * bin_ps for k = -K..K, cover at least +-window_ps."""
    if not (np.isfinite(bin_ps) and bin_ps > 0):
        raise ValueError(f"bin_ps must be a positive number of ps, got {bin_ps!r}")
    if not (np.isfinite(window_ps) and window_ps >= 0):
        raise ValueError(f"window_ps must be a non-negative number of ps, got {window_ps!r}")
    return max(0, math.ceil(window_ps / bin_ps - 0.5 - 1e-12))


def _searchsorted_sorted(haystack: np.ndarray, keys: np.ndarray, block: int = 1 << 14) -> np.ndarray:
    """``np.searchsorted(haystack, keys, "left")`` for sorted keys, block by block: each block of keys searches
    only its slice of the haystack, which stays in cache (a loop over blocks, not over photons)."""
    if keys.size <= 4 * block:
        return np.searchsorted(haystack, keys, "left")
    out = np.empty(keys.size, np.int64)
    edges = np.append(np.searchsorted(haystack, keys[::block], "left"), haystack.size)
    for i in range(edges.size - 1):
        lo, hi = int(edges[i]), int(edges[i + 1])
        out[i * block:(i + 1) * block] = np.searchsorted(haystack[lo:hi], keys[i * block:(i + 1) * block], "left")
        out[i * block:(i + 1) * block] += lo
    return out


def _count_lags(counts: np.ndarray, lag_ps: np.ndarray, half: float, bin_ps: float) -> None:
    """Add ``lag_ps`` to the lag histogram ``counts`` (bins of ``bin_ps`` from -``half``; the numpy paths)."""
    b = np.floor((lag_ps + half) / bin_ps).astype(np.int64)
    np.clip(b, 0, counts.size - 1, out=b)
    counts += np.bincount(b, minlength=counts.size)


def _correlate_merged(time: np.ndarray, code: np.ndarray, bin_ps: float, k_max: int) -> np.ndarray:
    """Lag histogram (as ``cross_correlate``) from one sorted stream with ``code`` 0 = start channel,
    1 = stop channel, 2 = neither: loops over the neighbour rank r, pairing tag i with tag i + r."""
    half = (k_max + 0.5) * bin_ps
    n_bins = 2 * k_max + 1
    if time.dtype.kind == "i":
        hi_pos, hi_neg = math.ceil(half), math.floor(half)  # start->stop: dt < hi_pos; stop->start: dt <= hi_neg
        reach = max(hi_pos - 1, hi_neg)
    else:
        hi_pos = hi_neg = reach = half
    if kernels.ENABLED:
        from tepl.kernels import tttr as kt

        return kt.correlate_merged(time, code, hi_pos, hi_neg, reach, float(half), float(bin_ps), n_bins)
    counts = np.zeros(n_bins, np.int64)
    dt = time[1:] - time[:-1]
    idx = np.flatnonzero(dt <= reach)
    dt = dt[idx]
    r = 1
    while idx.size:
        j = idx + r
        if r > 1:
            ok = j < time.size
            idx, j = idx[ok], j[ok]
            dt = time[j] - time[idx]
            near = dt <= reach
            idx, j, dt = idx[near], j[near], dt[near]
        c_i, c_j = code[idx], code[j]
        forward = (c_i == 0) & (c_j == 1) & ((dt < hi_pos) if time.dtype.kind == "i" else (dt < half))
        backward = (c_i == 1) & (c_j == 0) & (dt <= hi_neg)
        _count_lags(counts, np.concatenate([dt[forward], -dt[backward]]).astype(np.float64), half, bin_ps)
        r += 1
    return counts


def cross_correlate(t1_ps: np.ndarray, t2_ps: np.ndarray, bin_ps: float,
                    window_ps: float) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of t2 - t1 over all pairs with the lag inside the window: (lag_ps bin centres, counts int64).

    Bins are ``bin_ps`` wide and centred on k * bin_ps, k = -K..K with K = ``lag_bins(bin_ps, window_ps)``, so
    zero lag is a bin centre and pairs with -(K+1/2)·bin <= t2 - t1 < (K+1/2)·bin are counted. Both inputs
    must be sorted. Vectorised: a loop over the neighbour rank inside the window, not over photons.
    """
    t1, t2 = sorted_times(t1_ps, "t1_ps"), sorted_times(t2_ps, "t2_ps")
    k_max = lag_bins(bin_ps, window_ps)
    half = (k_max + 0.5) * bin_ps
    n_bins = 2 * k_max + 1
    lag_ps = np.arange(-k_max, k_max + 1) * float(bin_ps)
    counts = np.zeros(n_bins, np.int64)
    if t1.size == 0 or t2.size == 0:
        return lag_ps, counts
    if t1.dtype.kind == "i" and t2.dtype.kind == "i":
        lo, hi = -math.floor(half), math.ceil(half)  # integer lags in [-half, half)
    else:
        t1, t2 = t1.astype(np.float64, copy=False), t2.astype(np.float64, copy=False)
        lo, hi = -half, half
    if kernels.ENABLED:
        from tepl.kernels import tttr as kt

        return lag_ps, kt.cross_correlate(t1, t2, lo, hi, float(half), float(bin_ps), n_bins)
    start = _searchsorted_sorted(t2, t1 + lo)
    stop = _searchsorted_sorted(t2, t1 + hi)
    idx = np.flatnonzero(stop > start)
    j, stop, t1 = start[idx], stop[idx], t1[idx]
    while j.size:
        _count_lags(counts, (t2[j] - t1).astype(np.float64), half, bin_ps)
        j += 1
        more = j < stop
        if not more.all():
            j, stop, t1 = j[more], stop[more], t1[more]
    return lag_ps, counts


def g2_from_tags(time_ps: np.ndarray, channel: np.ndarray, bin_ps: float, window_ps: float, duration_s: float,
                 ch_a: int = 0, ch_b: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Second-order correlation of channels ``ch_a`` (start) and ``ch_b`` (stop) from T2 tags.

    Returns (lag_ns bin centres, g2 = counts / (N_a N_b bin / T), raw coincidence counts). The lag is
    t_b - t_a; ``time_ps`` must be sorted; ``duration_s`` is the measurement time T.
    """
    time_ps, channel = one_d_same_length(time_ps=time_ps, channel=channel)
    if not (duration_s > 0):
        raise ValueError(f"duration_s must be positive, got {duration_s!r} s")
    n_a, n_b = int(np.count_nonzero(channel == ch_a)), int(np.count_nonzero(channel == ch_b))
    if ch_a == ch_b or not (0 <= ch_a < 256 and 0 <= ch_b < 256):
        lag_ps, counts = cross_correlate(time_ps[channel == ch_a], time_ps[channel == ch_b], bin_ps, window_ps)
    else:
        times = sorted_times(time_ps, "time_ps")
        k_max = lag_bins(bin_ps, window_ps)
        lookup = np.full(256, 2, np.int8)
        lookup[ch_a], lookup[ch_b] = 0, 1
        code = lookup[channel.astype(np.uint8)]
        lag_ps = np.arange(-k_max, k_max + 1) * float(bin_ps)
        counts = _correlate_merged(times, code, float(bin_ps), k_max)
    norm = g2_normalisation(n_a, n_b, bin_ps, duration_s)
    g2 = counts / norm if norm > 0 else np.full(counts.size, np.nan)
    return lag_ps / 1000.0, g2, counts
