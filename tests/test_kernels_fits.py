"""The compiled fit kernels (``tepl.kernels.flim``, ``tepl.kernels.peaks``) against their numpy twins and truth.

The numpy paths are checked against simulated truth in test_lifetime / test_peaks; here the compiled kernels must
give the numpy results to rounding (switched with ``tepl.kernels.ENABLED``), hit the truth the data were made
from, and give identical results whether freshly compiled or loaded from numba's cache (two processes).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy.special import erfcx, ndtr

from tepl import kernels
from tepl.analysis.decay_model import decay_model
from tepl.analysis.flim import fit_flim
from tepl.analysis.lifetime import fit_decay
from tests.kernel_paths import both

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba not installed")


def test_special_functions_match_scipy():
    from tepl.kernels import decay_shapes

    for z in np.concatenate([[0.0], np.geomspace(1e-6, 1e6, 400)]):
        assert decay_shapes.erfcx(z) == pytest.approx(erfcx(z), rel=5e-13, abs=0.0), z
    for x in np.linspace(-37.0, 37.0, 801):
        # far tails: an ulp of the argument moves erfc by ~2 z^2 ulp
        assert decay_shapes.ndtr(x) == pytest.approx(ndtr(x), rel=1e-13 * max(1.0, x * x), abs=1e-300), x


def _cube(size: int, n_bins: int, period_ns: float, photons: float, seed: int):
    """A bi-exponential FLIM cube with a Gaussian IRF (t0 2 ns, sigma 0.12 ns) and its true lifetimes (ns)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_bins) * (period_ns / n_bins)
    tau = np.stack([rng.uniform(0.6, 1.2, (size, size)), rng.uniform(3.0, 6.0, (size, size))], axis=-1)
    amp = np.stack([np.full((size, size), 0.6), np.full((size, size), 0.4)], axis=-1)
    shape = decay_model(t, tau, amp, 0.0, t0_ns=2.0, sigma_ns=0.12, period_ns=period_ns)
    mu = shape * (photons / shape.sum(-1, keepdims=True)) + 0.2
    return t, rng.poisson(mu).astype(float), tau


@pytest.mark.parametrize("irf_per_pixel", [False, True])
def test_flim_compiled_equals_numpy_and_hits_truth(irf_per_pixel):
    t, cube, tau = _cube(5, 256, 25.0, 2e4, 3)
    fast, slow = both(lambda: fit_flim(cube, t, n_exp=2, period_ns=25.0, irf_per_pixel=irf_per_pixel,
                                       workers=2))
    assert np.array_equal(fast.ok, slow.ok) and fast.ok.all()
    assert np.array_equal(fast.n_iter, slow.n_iter)
    # to rounding: far below the statistical error of every lifetime
    assert np.max(np.abs(fast.tau_ns - slow.tau_ns) / slow.tau_ns_err) < 1e-6
    np.testing.assert_allclose(fast.reduced_deviance, slow.reduced_deviance, rtol=1e-9)
    np.testing.assert_allclose(fast.t0_ns, slow.t0_ns, rtol=1e-9)
    err = np.abs(np.moveaxis(fast.tau_ns, 0, -1) / tau - 1.0)
    assert np.median(err[..., 0]) < 0.1 and np.median(err[..., 1]) < 0.05
    pull = (np.moveaxis(fast.tau_ns, 0, -1) - tau) / np.moveaxis(fast.tau_ns_err, 0, -1)
    assert np.median(np.abs(pull)) < 1.5


@pytest.mark.parametrize(("n_exp", "period_ns", "n_bins", "sigma_ns"), [
    (1, None, 200, 0.1),        # single pulse, band of exact bins around it
    (2, 12.5, 256, 0.08),       # periodic: tails of earlier pulses wrap around
    (3, 50.0, 512, 0.15),
    (2, None, 40, 1.5),         # IRF wide against the bins: special functions on every bin edge
    (1, 10.0, 64, 0.5),         # period short against the IRF band: every bin edge, periodic sums
])
def test_single_decay_fit_compiled_equals_numpy(n_exp, period_ns, n_bins, sigma_ns):
    rng = np.random.default_rng(n_exp * 100 + n_bins)
    span = period_ns or 20.0
    t = np.arange(n_bins) * (span / n_bins)
    tau = np.array([0.7, 2.5, 6.0][:n_exp])
    amp = np.array([0.5, 0.3, 0.2][:n_exp])
    mu = decay_model(t, tau, amp, 0.0, t0_ns=0.2 * span, sigma_ns=sigma_ns, period_ns=period_ns)
    y = rng.poisson(mu * (5e4 / mu.sum()) + 1.0).astype(float)
    fast, slow = both(lambda: fit_decay(t, y, n_exp=n_exp, period_ns=period_ns))
    assert fast.ok == slow.ok and fast.n_iter == slow.n_iter
    for name in ("tau_ns", "amplitude", "t0_ns", "sigma_ns", "background", "deviance", "tau_ns_err"):
        np.testing.assert_allclose(getattr(fast, name), getattr(slow, name), rtol=1e-7, err_msg=name)
    np.testing.assert_allclose(fast.model, slow.model, rtol=1e-9)
    assert np.all(np.abs(fast.tau_ns - tau) < 5.0 * fast.tau_ns_err + 0.02 * tau)


_CHILD = """
import json, sys
import numpy as np
from tepl import kernels
from tepl.analysis.flim import fit_flim
from tepl.analysis.peaks import HC_EV_NM, fit_peaks, pseudo_voigt
assert kernels.ENABLED
rng = np.random.default_rng(1)
wl = 700.0 + 0.52 * (np.arange(400) - 199.5)
e = HC_EV_NM / wl
spectra = rng.poisson(500.0 + 1e5 * pseudo_voigt(e, rng.uniform(1.75, 1.8, (40, 1)), 0.08, 0.4)
                      * HC_EV_NM / wl**2 * 0.52).astype(float)
peaks = fit_peaks(wl, spectra, (640.0, 800.0), workers=2)
t = np.arange(128) * 0.1
decay = np.exp(-np.clip(t - 2.0, 0.0, None) / rng.uniform(1.0, 3.0, (3, 3, 1))) * (t >= 2.0)
cube = rng.poisson(3000.0 * decay / decay.sum(-1, keepdims=True) + 0.3).astype(float)
flim = fit_flim(cube, t, n_exp=1, workers=2)
out = [a.tobytes().hex() for a in (peaks.center_eV, peaks.fwhm_eV, peaks.center_eV_err, peaks.n_iter,
                                    flim.tau_ns, flim.tau_ns_err, flim.n_iter)]
json.dump(out, sys.stdout)
"""


def test_cached_kernels_equal_fresh_compile(tmp_path):
    """A fit in a process that compiles the kernels equals the same fit in one that loads them from the cache."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    env.pop(kernels.NO_NUMBA_ENV, None)
    runs = [subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, check=True,
                           timeout=900) for _ in range(2)]
    assert any((tmp_path / "numba-cache").rglob("*.nbi"))  # the second process had a cache to load
    fresh, cached = (json.loads(r.stdout) for r in runs)
    assert fresh == cached
