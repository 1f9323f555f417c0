"""Photon-stream building blocks (sims.photons) and the SPAD detection path (sims.detection).

Expectations come from the generators' own parameters and from textbook results computed another way:
exponential and Poisson statistics, the non-paralysable dead-time formula R/(1 + R·tau), scipy's normal CDF
and numerical integration of a Lorentzian, the state of ``TelegraphProcess.is_on``.
"""

import numpy as np
import pytest
from scipy import integrate, stats

from tepl.sims.detection import (
    AFTERPULSE_MEAN_DELAY_NS,
    DIFFUSION_TAIL_FRACTION,
    DetectionPath,
    DetectorChannel,
    dead_time_filter,
)
from tepl.sims.emission_spectra import GaussianBands, lorentzian_lines_pixel_rate, lorentzian_pixel_fractions
from tepl.sims.photons import Decay, Laser, ensemble_times_ps, poisson_times_ps, telegraph_states
from tepl.sims.single_emitter import SingleEmitter, two_level_rates
from tepl.sims.tepl_blinking import TelegraphProcess
from tepl.sims.tepl_optics import HC_EV_NM


def unwrapped_delay_ns(time_ps: np.ndarray, period_ps: float, lead_ns: float = 5.0) -> np.ndarray:
    """Delay after the nominal pulse, in (-lead, period - lead] ns (clicks jittered before their pulse stay
    negative instead of wrapping to the end of the period)."""
    return ((time_ps + lead_ns * 1e3) % period_ps) / 1e3 - lead_ns


# ---------------------------------------------------------------------------------------------- laser, decay
def test_laser_period_and_description():
    pulsed = Laser(445.0, 2.0e6)
    assert pulsed.period_ps == pytest.approx(5.0e5)
    assert pulsed.pulse_range(1e-6, 3e-6) == (2, 6)
    assert pulsed.describe()["mode"] == "pulsed"
    cw = Laser(561.0, 0.0)
    assert cw.period_ps == float("inf") and not cw.pulsed and cw.describe()["mode"] == "cw"
    for bad in ({"wavelength_nm": -1.0, "repetition_rate_hz": 0.0},
                {"wavelength_nm": 445.0, "repetition_rate_hz": -5.0},
                {"wavelength_nm": 445.0, "repetition_rate_hz": 1e6, "pulse_fwhm_ps": -1.0}):
        with pytest.raises(ValueError, match="laser"):
            Laser(**bad)


def test_decay_samples_follow_the_stated_components():
    decay = Decay((1.9, 6.6), (0.49, 0.51))
    share = np.array([0.49 * 1.9, 0.51 * 6.6]) / (0.49 * 1.9 + 0.51 * 6.6)
    assert decay.photon_share == pytest.approx(share)
    delays_ns = decay.sample_delay_ps(np.random.default_rng(1), 400_000) / 1e3
    assert delays_ns.mean() == pytest.approx(decay.mean_ns, rel=0.01)
    # survival function of the mixture at 10 ns
    expected = share[0] * np.exp(-10 / 1.9) + share[1] * np.exp(-10 / 6.6)
    assert np.mean(delays_ns > 10.0) == pytest.approx(expected, rel=0.03)
    with pytest.raises(ValueError, match="tau_ns"):
        Decay((0.0, 2.0), (1.0, 1.0))


def test_pulsed_ensemble_photons_carry_the_decay_and_the_mean_rate():
    laser = Laser(445.0, 2.0e6, pulse_fwhm_ps=60.0)
    decay = Decay((4.1, 23.8), (0.68, 0.32))
    rng = np.random.default_rng(2)
    t = ensemble_times_ps(1.0e5, decay, 0.25, 4.0, laser, rng)
    assert t.size == pytest.approx(4.0e5, rel=0.01)
    assert t.min() >= 0.25e12 and t.max() < 4.25e12
    delay = unwrapped_delay_ns(t, laser.period_ps)
    assert delay.mean() == pytest.approx(decay.mean_ns, rel=0.015)
    cw = ensemble_times_ps(1.0e5, decay, 0.0, 2.0, Laser(561.0, 0.0), rng)
    counts = np.histogram(cw, bins=20, range=(0, 2e12))[0]
    assert stats.chisquare(counts).pvalue > 1e-3  # uniform in time


def test_poisson_times_count_and_window():
    t = poisson_times_ps(1000.0, 3.0, 20.0, np.random.default_rng(3))
    assert abs(t.size - 20_000) < 5 * np.sqrt(20_000)
    assert t.min() >= 3e12 and t.max() < 23e12


def test_telegraph_states_match_is_on():
    process = TelegraphProcess(np.random.default_rng(4), 0.2, 0.05)
    t = np.sort(np.random.default_rng(5).uniform(0, 30, 2000))
    vector = telegraph_states(process, t)
    assert np.array_equal(vector, [process.is_on(v) for v in t])
    assert 0.05 < vector.mean() < 0.95


# ---------------------------------------------------------------------------------------------- spectra
def test_gaussian_band_pixels_integrate_the_band():
    band = GaussianBands((533.0, 544.0), 32.3, (0.4, 0.6))
    wl = np.linspace(450.0, 650.0, 801)
    pixels = band.pixel_fractions(wl)
    sigma = 32.3 / (2 * np.sqrt(2 * np.log(2)))
    pitch = wl[1] - wl[0]
    expected = sum(w * (stats.norm.cdf(wl + pitch / 2, c, sigma) - stats.norm.cdf(wl - pitch / 2, c, sigma))
                   for c, w in ((533.0, 0.4), (544.0, 0.6)))
    assert pixels == pytest.approx(expected, abs=1e-12)
    in_band = [np.diff(stats.norm.cdf([525, 535], c, sigma))[0] for c in (533.0, 544.0)]
    assert band.fraction_between(525.0, 535.0) == pytest.approx(0.4 * in_band[0] + 0.6 * in_band[1])
    samples = band.sample_nm(np.random.default_rng(6), 200_000)
    assert samples.dtype == np.float32
    assert np.mean((samples >= 525) & (samples < 535)) == pytest.approx(band.fraction_between(525, 535), abs=0.003)


def test_sharp_lorentzian_keeps_its_photons_in_pixels():
    wl = 652.0 + 0.06 * (np.arange(1024) - 511.5)
    centre_eV, fwhm_eV = HC_EV_NM / 652.013, 0.2e-3  # narrower than a pixel (0.17 meV)
    share = lorentzian_pixel_fractions(np.array([centre_eV]), np.array([fwhm_eV]), wl, HC_EV_NM)[0]
    # a pixel's share by numerical integration of the Lorentzian in energy
    i = int(np.argmax(share))
    e_hi, e_lo = HC_EV_NM / (wl[i] - 0.03), HC_EV_NM / (wl[i] + 0.03)
    cut = 50 * fwhm_eV
    norm = integrate.quad(lambda e: stats.cauchy.pdf(e, centre_eV, fwhm_eV / 2), centre_eV - cut, centre_eV + cut,
                          points=[centre_eV])[0]
    direct = integrate.quad(lambda e: stats.cauchy.pdf(e, centre_eV, fwhm_eV / 2), e_lo, e_hi, points=[centre_eV])[0]
    assert share[i] == pytest.approx(direct / norm, rel=1e-6)
    assert share.sum() == pytest.approx(1.0, abs=1e-9)
    summed = lorentzian_lines_pixel_rate(np.array([centre_eV]), np.array([fwhm_eV]), np.array([7.0]), wl, HC_EV_NM)
    assert summed == pytest.approx(7.0 * share, abs=1e-12)


# ---------------------------------------------------------------------------------------------- single emitter
def test_cw_single_emitter_renewal_rate_and_antibunching():
    k_exc, k_rad = two_level_rates(4.0e5, 20.0, 0.1)
    assert 1e9 / (k_exc + k_rad) == pytest.approx(20.0)
    assert 0.1 * k_exc * k_rad / (k_exc + k_rad) == pytest.approx(4.0e5)
    emitter = SingleEmitter()
    rng = np.random.default_rng(7)
    laser = Laser(561.0, 0.0)
    pieces = [emitter.photon_times_ps(k_exc, k_rad, 0.1, 0.05 * i, 0.05, laser, rng) for i in range(40)]
    t = np.concatenate(pieces)
    assert np.all(np.diff(t) > 0)  # one stream, consecutive intervals continue it
    assert t.size / 2.0 == pytest.approx(4.0e5, rel=0.01)
    gaps_ns = np.diff(t) / 1e3
    # between collected photons the emitter cycles >= once: the interval density vanishes at 0
    assert np.mean(gaps_ns < 2.0) < 0.2 * (1 - np.exp(-2.0 * 4.0e5 * 1e-9))


def test_pulsed_single_emitter_gives_at_most_one_photon_per_pulse():
    laser = Laser(445.0, 2.0e6)
    emitter = SingleEmitter()
    rng = np.random.default_rng(8)
    k_exc, k_rad = 5.0e6, 1e9 / 20.0
    t = np.concatenate([emitter.photon_times_ps(k_exc, k_rad, 0.1, 0.1 * i, 0.1, laser, rng) for i in range(30)])
    pulse = np.floor((t + 5000) / laser.period_ps).astype(np.int64)
    assert np.unique(pulse).size == pulse.size
    p_exc = 1 - np.exp(-k_exc / 2.0e6)
    assert t.size / (3.0 * 2.0e6) == pytest.approx(0.1 * p_exc, rel=0.03)
    assert unwrapped_delay_ns(t, laser.period_ps).mean() == pytest.approx(20.0, rel=0.02)


def test_single_emitter_rejects_bad_rates():
    with pytest.raises(ValueError, match="collection"):
        SingleEmitter().photon_times_ps(1e6, 1e8, 1.5, 0.0, 1.0, Laser(561.0, 0.0), np.random.default_rng(0))
    with pytest.raises(ValueError, match="saturation"):
        two_level_rates(1e8, 20.0, 0.1)


# ---------------------------------------------------------------------------------------------- detection
def qd_and_perovskite_path(**kw) -> DetectionPath:
    return DetectionPath([DetectorChannel("qd", (635.0, 665.0), **kw), DetectorChannel("perovskite", (525.0, 535.0),
                                                                                         **kw)])


def test_dichroic_routes_by_wavelength_and_thins_by_efficiency():
    path = qd_and_perovskite_path(efficiency=0.5, dark_counts_per_s=0.0, dead_time_ns=0.0)
    rng = np.random.default_rng(9)
    n = 100_000
    time_ps = np.sort(rng.integers(0, 10**12, 3 * n))
    wavelength = np.repeat(np.array([650.0, 530.0, 600.0], np.float32), n)[rng.permutation(3 * n)]
    times, channel = path.detect(time_ps, wavelength, 0.0, 1.0, rng)
    assert np.all(np.diff(times) >= 0) and channel.dtype == np.int8 and times.dtype == np.int64
    counts = np.bincount(channel, minlength=2)
    assert abs(counts[0] - 0.5 * n) < 5 * np.sqrt(0.25 * n)
    assert abs(counts[1] - 0.5 * n) < 5 * np.sqrt(0.25 * n)
    route = path.route(np.array([650.0, 530.0, 600.0, 540.0]), rng)
    assert route.tolist() == [0, 1, -1, -1]


def test_fifty_fifty_splitter_then_band_pass():
    path = DetectionPath([DetectorChannel("a", (635.0, 665.0), dark_counts_per_s=0.0, dead_time_ns=0.0),
                          DetectorChannel("b", (635.0, 665.0), dark_counts_per_s=0.0, dead_time_ns=0.0)], "50-50")
    rng = np.random.default_rng(10)
    n = 200_000
    time_ps = np.sort(rng.integers(0, 10**12, n))
    wavelength = np.where(rng.random(n) < 0.75, 650.0, 700.0).astype(np.float32)
    _, channel = path.detect(time_ps, wavelength, 0.0, 1.0, rng)
    counts = np.bincount(channel, minlength=2)
    assert counts.sum() == pytest.approx(0.75 * n, rel=0.01)
    assert counts[0] / counts.sum() == pytest.approx(0.5, abs=0.005)


def test_dark_counts_are_uniform_at_the_stated_rate():
    path = DetectionPath([DetectorChannel("spad", (500.0, 700.0), dark_counts_per_s=250.0)])
    rng = np.random.default_rng(11)
    times, channel = path.detect(np.zeros(0, np.int64), np.zeros(0, np.float32), 2.0, 42.0, rng)
    assert abs(times.size - 10_000) < 5 * 100
    assert times.min() >= 2e12 and times.max() < 42e12
    assert stats.kstest((times - 2e12) / 40e12, "uniform").pvalue > 1e-3


def test_dead_time_is_non_paralysable_and_carried_across_calls():
    dead_ns = 22.0
    path = DetectionPath([DetectorChannel("spad", (500.0, 700.0), dark_counts_per_s=0.0, dead_time_ns=dead_ns,
                                          jitter_fwhm_ps=0.0)])
    rng = np.random.default_rng(12)
    rate = 2.0e7  # photons/s: R·tau = 0.44
    clicks = []
    for i in range(100):  # 1 ms blocks, one continuous history
        t = poisson_times_ps(rate, i * 1e-3, 1e-3, rng)
        clicks.append(path.detect(np.sort(t), np.full(t.size, 600.0, np.float32), i * 1e-3, (i + 1) * 1e-3, rng)[0])
    times = np.concatenate(clicks)
    assert np.all(np.diff(times) >= dead_ns * 1e3)
    registered = times.size / 0.1
    assert registered == pytest.approx(rate / (1 + rate * dead_ns * 1e-9), rel=0.01)


def test_dead_time_filter_decides_runs_in_order():
    t = np.array([0, 10, 25, 31, 45, 100, 104, 108, 130], np.int64)
    keep = dead_time_filter(t, 20, last_ps=-1000)
    assert t[keep].tolist() == [0, 25, 45, 100, 130]
    assert dead_time_filter(t, 20, last_ps=-5).tolist()[0] is False


def test_timing_jitter_has_the_stated_width():
    path = DetectionPath([DetectorChannel("spad", (500.0, 700.0), dark_counts_per_s=0.0, dead_time_ns=0.0,
                                          jitter_fwhm_ps=350.0)])
    rng = np.random.default_rng(13)
    true_ps = np.arange(1, 200_001, dtype=np.int64) * 1_000_000
    times, _ = path.detect(true_ps, np.full(true_ps.size, 600.0, np.float32), 0.0, 0.21, rng)
    error = times - true_ps  # one click per photon, order kept (1 µs apart)
    q25, q75 = np.percentile(error, [25, 75])
    sigma = 350.0 / (2 * np.sqrt(2 * np.log(2)))
    assert (q75 - q25) / 1.349 == pytest.approx(sigma, rel=0.05)
    assert np.mean(error > 5 * sigma) == pytest.approx(DIFFUSION_TAIL_FRACTION * np.exp(-5 * sigma / 250.0), rel=0.2)


def test_afterpulses_add_the_stated_share_after_the_dead_time():
    p = 0.05
    path = DetectionPath([DetectorChannel("spad", (500.0, 700.0), dark_counts_per_s=0.0, dead_time_ns=22.0,
                                          jitter_fwhm_ps=0.0, afterpulse_probability=p)])
    rng = np.random.default_rng(14)
    n = 100_000
    true_ps = np.arange(n, dtype=np.int64) * 10_000_000  # 10 µs apart: afterpulses never blocked
    times, _ = path.detect(true_ps, np.full(n, 600.0, np.float32), 0.0, 1.0, rng)
    assert times.size - n == pytest.approx(p * n, rel=0.1)
    since_photon_ns = (times - true_ps[np.searchsorted(true_ps, times, side="right") - 1]) / 1e3
    primary = since_photon_ns < 10.0  # the photon's own click (the diffusion tail is a few 100 ps)
    assert primary.sum() == n
    delay_ns = since_photon_ns[~primary]
    assert delay_ns.min() >= 22.0
    assert (delay_ns - 22.0).mean() == pytest.approx(AFTERPULSE_MEAN_DELAY_NS, rel=0.1)


def test_clicks_pushed_past_the_interval_arrive_in_the_next_call():
    path = DetectionPath([DetectorChannel("spad", (500.0, 700.0), dark_counts_per_s=0.0, dead_time_ns=0.0,
                                          jitter_fwhm_ps=2000.0)])
    rng = np.random.default_rng(15)
    t = np.full(1000, 10**12 - 1, np.int64)  # photons 1 ps before the end of the first interval
    first, _ = path.detect(t, np.full(t.size, 600.0, np.float32), 0.0, 1.0, rng)
    second, _ = path.detect(np.zeros(0, np.int64), np.zeros(0, np.float32), 1.0, 2.0, rng)
    assert first.max() < 10**12 <= second.min()
    assert first.size + second.size == t.size
    assert 300 < second.size < 700


def test_detection_path_rejects_bad_configuration():
    with pytest.raises(ValueError, match="band_nm"):
        DetectorChannel("x", (700.0, 600.0))
    with pytest.raises(ValueError, match="efficiency"):
        DetectorChannel("x", (600.0, 700.0), efficiency=1.5)
    with pytest.raises(ValueError, match="splitter"):
        DetectionPath([DetectorChannel("x", (600.0, 700.0))], splitter="prism")
    with pytest.raises(ValueError, match="at least one"):
        DetectionPath([])
    with pytest.raises(ValueError, match="shapes"):
        qd_and_perovskite_path().detect(np.zeros(3, np.int64), np.zeros(2), 0.0, 1.0, np.random.default_rng(0))
    described = qd_and_perovskite_path().describe()
    assert described["splitter"] == "dichroic" and described["channels"]["1"]["name"] == "perovskite"
