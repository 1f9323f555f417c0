"""The simulated CCD's Poisson counts (``tepl.sims.andor_noise``): exact Poisson draws against scipy's
distribution, the compiled and the numpy inversion identical for the same uniforms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tepl import kernels
from tepl.sims import andor_noise
from tepl.sims.andor_noise import INVERSION_MAX_MEAN, poisson_counts


@pytest.mark.parametrize("mean", [0.0, 0.02, 0.7, INVERSION_MAX_MEAN, 40.0])
def test_counts_follow_the_poisson_distribution(mean):
    rng = np.random.default_rng(11)
    counts = poisson_counts(rng, np.full(200_000, mean))
    assert counts.dtype == np.int64 and counts.min() >= 0
    k = np.arange(int(mean + 8 * np.sqrt(mean) + 8))
    observed = np.bincount(counts, minlength=k.size)[:k.size]
    expected = stats.poisson.pmf(k, mean) * counts.size
    kept = expected > 20  # chi-square over the well-populated bins
    chi2 = float(((observed[kept] - expected[kept]) ** 2 / expected[kept]).sum())
    assert chi2 < stats.chi2.ppf(0.999, max(int(kept.sum()) - 1, 1)), (mean, chi2)


def test_mixed_means_keep_their_places_and_replay_from_the_seed():
    mean = np.concatenate([np.full(500, 0.05), np.full(24, 500.0), np.full(500, 2.0)])
    first = poisson_counts(np.random.default_rng(3), mean)
    assert np.array_equal(first, poisson_counts(np.random.default_rng(3), mean))
    assert abs(first[500:524].mean() - 500.0) < 4 * np.sqrt(500.0 / 24)
    assert first[:500].mean() < 0.2 and 1.5 < first[524:].mean() < 2.5


@pytest.mark.skipif(not kernels.AVAILABLE, reason="numba not installed")
def test_compiled_and_numpy_inversions_agree():
    rng = np.random.default_rng(5)
    mean = rng.uniform(0.0, INVERSION_MAX_MEAN, 5000)
    u = rng.random(mean.size)
    u[:3] = [0.0, 1.0 - 1e-16, 0.5]
    p0 = np.exp(-mean)
    assert np.array_equal(andor_noise._invert_compiled(u, mean, p0), andor_noise._invert_numpy(u, mean, p0))
