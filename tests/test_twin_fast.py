"""The twin's compiled per-pixel physics (``tepl.kernels.twin``) against the numpy model it replaces.

Emission and topography: the same numbers to the last bits of ``exp`` / ``cos`` for tips over dots, beside
them, pressing them (strain shifts the lines), away from the focus centre, and across blinking switches. The
remembered blinking periods: exactly the fractions each process gives. The CCD: a pixel's electrons are
Poisson of the same mean on both paths (the compiled one draws them from other numbers of the same stream), so
the counts agree in distribution, checked against the Poisson law itself.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from tepl import kernels
from tepl.kernels import twin as twin_kernels
from tepl.sims.andor import SATURATION_COUNTS, FvbSensor
from tepl.sims.tepl_blinking import OnFractions, TelegraphProcess
from tepl.sims.tepl_sample import TeplSample
from tests.kernel_paths import both

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba not installed")

WAVELENGTH_NM = np.linspace(600.0, 900.0, 1024)


def _tip_places(sample: TeplSample, rng: np.random.Generator, n: int) -> list[tuple]:
    e = sample.emitters
    places = []
    for i in range(n):
        dot = i % len(e)
        x, y = e.x_nm[dot] + rng.normal(0.0, 6.0), e.y_nm[dot] + rng.normal(0.0, 6.0)
        z = rng.uniform(0.5, 12.0)  # below the dots' tops too: pressed dots shift their lines
        offset = (0.0, 0.0) if i % 3 else (float(rng.normal(0.0, 80.0)), float(rng.normal(0.0, 80.0)))
        places.append((x, y, z, float(rng.uniform(0.0, 200.0)), offset))
    return places


def test_emission_and_topography_agree_with_the_numpy_model():
    sample = TeplSample.generate(seed=11, mean_on_s=0.5, mean_off_s=0.2)  # blinking often: switches inside exposures
    places = _tip_places(sample, np.random.default_rng(5), 120)
    strained = 0
    for x, y, z, t0, offset in places:
        fast, slow = both(lambda x=x, y=y, z=z, t0=t0, offset=offset: sample.photon_rate(
            x, y, z, WAVELENGTH_NM, t0, 0.05, apex_offset_nm=offset))
        np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12 * slow.max())
        strained += sample.strain_percent(x, y, z) > 0
    assert strained >= 10  # the pressed-dot branch was met
    xs = np.array([p[0] for p in places])
    ys = np.array([p[1] for p in places])
    fast, slow = both(lambda: sample.topography_nm(xs, ys))
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)
    grid = np.meshgrid(np.linspace(49900, 50100, 7), np.linspace(49900, 50100, 5))  # 2-D points, shape kept
    fast, slow = both(lambda: sample.topography_nm(*grid))
    assert fast.shape == slow.shape == (5, 7)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)
    for x, y in zip(xs[:10], ys[:10], strict=True):  # the single point the Z loop asks for (a new sample each time:
        # the last point's height is remembered)
        fast, slow = both(lambda x=x, y=y: TeplSample.generate(seed=11).height_at_nm(x, y))
        assert fast == pytest.approx(slow, abs=1e-12) and isinstance(fast, float)
        assert sample.topography_nm(np.array([x]), np.array([y]))[0] == pytest.approx(slow, abs=1e-12)


@pytest.mark.parametrize("compiled", [True, False])
def test_remembered_blinking_periods_give_each_process_fraction_exactly(compiled, monkeypatch):
    monkeypatch.setattr(kernels, "ENABLED", compiled)
    processes = [TelegraphProcess(np.random.default_rng([3, i]), 0.3, 0.1) for i in range(5)]
    references = [TelegraphProcess(np.random.default_rng([3, i]), 0.3, 0.1) for i in range(5)]
    fractions = OnFractions(processes)
    t0 = 0.0
    rng = np.random.default_rng(8)
    partial = 0
    for _ in range(3000):  # a raster's exposures one after the other, now and then a step back in time
        dt = float(rng.choice([0.0, 0.002, 0.01, 0.04]))
        got = fractions(t0, dt)
        want = np.array([r.on_fraction(t0, dt) for r in references])
        np.testing.assert_array_equal(got, want)
        partial += np.any((want > 0) & (want < 1))
        t0 = t0 + dt + 0.001 if rng.random() > 0.02 else max(t0 - 0.5, -0.1)
    assert partial > 50  # exposures across a switch were met


def _mean_variance(compiled: bool, photons: np.ndarray, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    saved = kernels.ENABLED
    kernels.ENABLED = compiled
    try:
        sensor = FvbSensor(np.random.default_rng(21), photons.size, 1, 1.0, 100.0)  # 1 e- per count: counts = e-
        counts = np.array([sensor.read(photons, WAVELENGTH_NM[: photons.size], 0.01, -80.0, 0.5) for _ in range(n)])
    finally:
        kernels.ENABLED = saved
    return counts.mean(axis=0), counts.var(axis=0)


def test_ccd_counts_have_the_same_distribution_on_both_paths():
    # photons per pixel from none to past the compiled search's limit (those go to Generator.poisson)
    qe = 0.58 * np.exp(-0.5 * ((WAVELENGTH_NM[:8] - 680.0) / 250.0) ** 2)
    photons = np.array([0.0, 0.05, 1.0, 4.0, 20.0, 60.0, 110.0, 400.0]) / qe
    expected_mean = 100.0 + qe * photons  # baseline + Poisson mean (dark current negligible at -80 C, 10 ms)
    expected_var = qe * photons + 0.5**2 + 1.0 / 12.0  # Poisson + read noise + rounding to counts
    for compiled in (True, False):
        mean, var = _mean_variance(compiled, photons)
        n = 3000
        np.testing.assert_allclose(mean, expected_mean, atol=float(5 * np.sqrt(expected_var.max() / n)))
        np.testing.assert_allclose(var, expected_var, rtol=5 * np.sqrt(2.0 / n), atol=0.02)


@pytest.mark.parametrize("mean_e", [0.003, 0.7, 5.0, 30.0, 63.5])
def test_electrons_by_search_follow_the_poisson_law(mean_e):
    n = 200_000
    rng = np.random.default_rng(4)
    photons, qe = np.full(n, mean_e), np.ones(n)
    electrons, means = np.empty(n), np.empty(n)
    left = twin_kernels.electrons_by_search(photons, qe, 0.0, rng.random(n), means, electrons)
    assert left == 0 and np.all(means == mean_e)
    k = np.arange(int(mean_e + 10 * np.sqrt(mean_e) + 10))
    observed = np.bincount(electrons.astype(int), minlength=k.size)[: k.size]
    expected = n * stats.poisson.pmf(k, mean_e)
    enough = expected > 20  # chi-square on the well-filled classes
    chi2 = float((((observed - expected) ** 2)[enough] / expected[enough]).sum())
    assert chi2 < stats.chi2.ppf(0.999, max(int(enough.sum()) - 1, 1))
    assert observed.sum() >= n - (expected[~enough].sum() + 10 * np.sqrt(expected[~enough].sum() + 1))


def test_bright_and_bad_pixels_on_the_compiled_path():
    sensor = FvbSensor(np.random.default_rng(2), 4, 1, 1.0, 100.0)
    saved = kernels.ENABLED
    kernels.ENABLED = True
    try:
        counts = sensor.read(np.array([0.0, 1e3, 1e6, 1e9]), WAVELENGTH_NM[:4], 1.0, -80.0, 1.0)
        assert counts[3] == SATURATION_COUNTS and 400 < counts[1] < 800 and counts.dtype == np.int64
        with pytest.raises(ValueError):
            sensor.read(np.array([0.0, np.nan, 1.0, 1.0]), WAVELENGTH_NM[:4], 1.0, -80.0, 1.0)
        with pytest.raises(ValueError, match="one value per pixel"):
            sensor.read(np.ones(3), WAVELENGTH_NM[:3], 1.0, -80.0, 1.0)
    finally:
        kernels.ENABLED = saved


def test_replaced_tip_parameters_reach_the_compiled_path():
    sample = TeplSample.generate(seed=2)
    x, y = float(sample.emitters.x_nm[0]), float(sample.emitters.y_nm[0])
    before = both(lambda: sample.photon_rate(x, y, 3.0, WAVELENGTH_NM, 1.0, 0.01))[0]
    sample.params = dataclasses.replace(sample.params, peak_enhancement=0.0, plasmon_rate_at_2nm=0.0,
                                        apex_radius_nm=20.0)
    fast, slow = both(lambda: sample.photon_rate(x, y, 3.0, WAVELENGTH_NM, 1.0, 0.01))
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-12 * slow.max())
    assert fast.sum() < 0.01 * before.sum()  # no near field, no plasmon: only the dots' far field is left
    fast, slow = both(lambda: sample.topography_nm(np.array([x + 12.0, x]), np.array([y, y + 9.0])))
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-12)
