"""Antibunching fit against coincidence histograms drawn from a known g2 (paper 003, Fig. 6c)."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from tepl.analysis.g2 import G2Fit, fit_g2, g2_model

TAU_NS, CONTRAST = 17.7, 0.77
BIN_NS = 0.5
LAG_NS = np.arange(-200.0, 200.0, BIN_NS) + BIN_NS / 2     # bin centres, +-200 ns
PLATEAU_COUNTS = 3000.0                                     # coincidences per bin far from zero


def expected_g2(lag_ns, tau_ns, contrast, t0_ns, sigma_ns, sub=50):
    """Bin-averaged g2 by brute force: 1 - C exp(-|t - t0|/tau) on a fine grid, Gaussian-filtered."""
    fine = BIN_NS / sub
    pad = 20.0
    t = np.arange(lag_ns[0] - BIN_NS / 2 - pad, lag_ns[-1] + BIN_NS / 2 + pad, fine) + fine / 2
    g = 1.0 - contrast * np.exp(-np.abs(t - t0_ns) / tau_ns)
    if sigma_ns > 0:
        g = gaussian_filter1d(g, sigma_ns / fine, mode="nearest", truncate=10)
    n_pad = int(round(pad / fine))
    return g[n_pad:n_pad + lag_ns.size * sub].reshape(lag_ns.size, sub).mean(axis=1)


def histogram(rng, sigma_ns, t0_ns=1.3, contrast=CONTRAST, scale=1.02):
    """(g2 normalised slightly off by ``scale``, raw counts)."""
    counts = rng.poisson(PLATEAU_COUNTS * expected_g2(LAG_NS, TAU_NS, contrast, t0_ns, sigma_ns))
    return counts / PLATEAU_COUNTS * scale, counts


def test_model_matches_brute_force_convolution():
    model = g2_model(LAG_NS, TAU_NS, CONTRAST, 1.3, 1.0, bin_width_ns=BIN_NS)
    assert np.max(np.abs(model - expected_g2(LAG_NS, TAU_NS, CONTRAST, 1.3, 1.0))) < 2e-4
    point = g2_model(np.array([1.3]), TAU_NS, CONTRAST, 1.3, 0.0)
    assert point[0] == pytest.approx(1.0 - CONTRAST)


@pytest.mark.parametrize("sigma_ns", [0.3, 1.0])
@pytest.mark.parametrize("sigma_given", [True, False])
def test_recovers_rise_time_and_contrast(sigma_ns, sigma_given):
    rng = np.random.default_rng(int(sigma_ns * 10) + 2 * sigma_given)
    g2, counts = histogram(rng, sigma_ns)
    fit = fit_g2(LAG_NS, g2, counts=counts, irf_sigma_ns=sigma_ns if sigma_given else None)
    assert isinstance(fit, G2Fit) and fit.ok
    assert abs(fit.tau_ns / TAU_NS - 1.0) < 0.10
    assert abs(fit.contrast - CONTRAST) < 0.05
    assert abs(fit.tau_ns - TAU_NS) < 4 * fit.tau_ns_err
    assert abs(fit.contrast - CONTRAST) < 4 * fit.contrast_err
    assert abs(fit.t0_ns - 1.3) < 4 * fit.t0_ns_err
    assert fit.normalization == pytest.approx(1.02, abs=4 * fit.normalization_err)
    assert 0.85 < fit.chi2_red < 1.15
    # g2 at zero delay as seen through the IRF, against the brute-force blur at t0
    blurred = expected_g2(np.array([1.3]), TAU_NS, CONTRAST, 1.3, sigma_ns, sub=500)[0]
    assert fit.g2_zero == pytest.approx(blurred, abs=0.02)
    if not sigma_given:  # 0.3 ns is barely resolved by 0.5 ns bins: the fitted width may reach 0
        err = fit.irf_sigma_ns_err if np.isfinite(fit.irf_sigma_ns_err) else 0.0
        assert abs(fit.irf_sigma_ns - sigma_ns) < max(4 * err, 0.35)


def test_unweighted_fit_without_counts():
    rng = np.random.default_rng(21)
    g2, _ = histogram(rng, 0.3)
    fit = fit_g2(LAG_NS, g2, irf_sigma_ns=0.3)
    assert abs(fit.tau_ns / TAU_NS - 1.0) < 0.10 and abs(fit.contrast - CONTRAST) < 0.05


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_flat_g2_gives_no_contrast(seed):
    """Uncorrelated light (or a cluster of many emitters): the best fit is a dip of noise size only."""
    rng = np.random.default_rng(100 + seed)
    g2, counts = histogram(rng, 0.3, contrast=0.0)
    fit = fit_g2(LAG_NS, g2, counts=counts, irf_sigma_ns=0.3)
    assert abs(fit.contrast) < 0.1
    assert fit.g2_zero > 0.9


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="g2 shape"):
        fit_g2(LAG_NS, np.ones(10))
    with pytest.raises(ValueError, match="counts shape"):
        fit_g2(LAG_NS, np.ones(LAG_NS.size), counts=np.ones(3))
    with pytest.raises(ValueError, match="strictly increasing"):
        fit_g2(LAG_NS[::-1], np.ones(LAG_NS.size))
    with pytest.raises(ValueError, match="irf_sigma_ns"):
        fit_g2(LAG_NS, np.ones(LAG_NS.size), irf_sigma_ns=-1.0)
