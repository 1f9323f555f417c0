"""Poisson photo-electron counts for the simulated CCD, fast for the small means of a short exposure.

A 10 ms spectrum of a dim sample has means far below one electron in most of its 1024 pixels; numpy's
``Generator.poisson`` spends ~30 ns a pixel whatever the mean. Here each mean up to ``INVERSION_MAX_MEAN`` is
drawn by inversion of one uniform from the same generator (the smallest k whose cumulative probability
reaches the uniform, the terms summed as p_k = p_{k-1} mean / k); larger means go to ``Generator.poisson``.
Both are exact Poisson draws. The inversion runs compiled (``tepl.kernels``) or, where numba is absent or
switched off, in numpy; the two give identical counts for the same uniforms.
"""

from __future__ import annotations

import numpy as np

from tepl import kernels
from tepl.kernels import jit

INVERSION_MAX_MEAN = 10.0  # electrons; above, Generator.poisson (whose cost does not grow with the mean)
_MAX_TERMS = 200  # the cumulative sum of a mean <= 10 reaches 1 - 1e-16 long before this many terms


@jit
def _invert_compiled(u: np.ndarray, mean: np.ndarray, p0: np.ndarray) -> np.ndarray:
    counts = np.zeros(u.size, np.int64)
    for i in range(u.size):
        if not mean[i] <= INVERSION_MAX_MEAN:
            continue
        p = p0[i]
        cdf = p
        k = 0
        while u[i] > cdf and k < _MAX_TERMS:
            k += 1
            p = p * mean[i] / k
            cdf = cdf + p
        counts[i] = k
    return counts


def _invert_numpy(u: np.ndarray, mean: np.ndarray, p0: np.ndarray) -> np.ndarray:
    """The same inversion over the pixels still above their cumulative probability, term after term."""
    counts = np.zeros(u.size, np.int64)
    active = np.flatnonzero((u > p0) & (mean <= INVERSION_MAX_MEAN))
    p, cdf, lam, left = p0[active], p0[active].copy(), mean[active], u[active]
    k = 0
    while active.size and k < _MAX_TERMS:
        k += 1
        p = p * lam / k
        cdf = cdf + p
        counts[active] = k
        going = left > cdf
        active, p, cdf, lam, left = active[going], p[going], cdf[going], lam[going], left[going]
    return counts


def poisson_counts(rng: np.random.Generator, mean: np.ndarray) -> np.ndarray:
    """One Poisson draw (int64) for each of ``mean`` (>= 0, finite), from ``rng``: first one uniform for every
    mean (those above ``INVERSION_MAX_MEAN`` leave theirs unused), then ``rng.poisson`` for the large ones."""
    mean = np.asarray(mean, float)
    flat = mean.ravel()
    invert = _invert_compiled if kernels.ENABLED else _invert_numpy
    counts = invert(rng.random(flat.size), flat, np.exp(-flat))
    large = np.flatnonzero(flat > INVERSION_MAX_MEAN)
    if large.size:
        counts[large] = rng.poisson(flat[large])
    return counts.reshape(mean.shape)
