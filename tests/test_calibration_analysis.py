"""Pixel-to-wavelength calibration from synthetic Ar-Hg lamp spectra on a known ("true") axis."""

from __future__ import annotations

import numpy as np
import pytest

from tepl.analysis.calibration import Calibration, calibrate_wavelength, find_lines
from tests.standins import BumpSample

N_PIXELS = 1024
FWHM_NM = 0.62
BASELINE_COUNTS = 500.0

# Lines in air (nm, NIST) and peak heights (counts) of the synthetic lamp. The last two are not Ar or Hg
# lines (stand-ins for an impurity or a ghost) and must never be identified.
LAMP_LINES = [
    (435.8328, 6000), (546.0735, 8000), (576.9598, 2000), (579.0663, 2200), (696.5431, 4000),
    (706.7218, 3000), (714.7042, 600), (727.2936, 900), (737.2118, 300), (738.3980, 2000),
    (743.5368, 300), (750.3869, 5000), (751.4652, 3000), (763.5106, 8000), (772.3761, 3000),
    (772.4207, 2000), (794.8176, 3000), (800.6157, 3000), (801.4786, 4000), (810.3693, 3000),
    (811.5311, 6000), (826.4522, 2000), (840.8210, 3000), (842.4648, 4000), (852.1442, 2000),
    (866.7944, 800), (912.2967, 5000), (922.4499, 2000), (965.7786, 3000),
]
FOREIGN_LINES = [(620.0, 5000), (883.3, 4000)]


def true_axis_nm() -> np.ndarray:
    """Grating equation: 150 l/mm, f = 328 mm, 26 um pixels, 30 deg deviation, centred at 700 nm,
    plus an extra quadratic term (focal-plane curvature)."""
    groove_nm = 1e6 / 150.0
    deviation = np.deg2rad(30.0)
    half_sum = np.arcsin(700.0 / (2.0 * groove_nm * np.cos(deviation / 2)))
    alpha, beta0 = half_sum + deviation / 2, half_sum - deviation / 2
    offset_px = np.arange(N_PIXELS) - (N_PIXELS - 1) / 2
    beta = beta0 + np.arctan(offset_px * 26e3 / 328e6)
    return groove_nm * (np.sin(alpha) + np.sin(beta)) + 4e-6 * offset_px ** 2


def lamp_counts(axis_nm: np.ndarray, lines, seed: int) -> np.ndarray:
    sigma = FWHM_NM / (2 * np.sqrt(2 * np.log(2)))
    wl, height = np.array(lines, float).T
    expected = BASELINE_COUNTS + (height * np.exp(-0.5 * ((axis_nm[:, None] - wl) / sigma) ** 2)).sum(axis=1)
    return np.random.default_rng(seed).poisson(expected).astype(float)


def nominal_axis(true_nm: np.ndarray, offset_nm: float, dispersion_error: float) -> np.ndarray:
    return true_nm + offset_nm + dispersion_error * (true_nm - 700.0)


def test_true_axis_is_the_kymera_150_grating():
    axis = true_axis_nm()
    assert 0.50 < np.median(np.diff(axis)) < 0.54
    assert axis[0] < 440 and axis[-1] > 960


@pytest.mark.parametrize("offset_nm, dispersion_error, seed", [
    (0.8, 0.003, 1), (-0.8, -0.003, 2), (1.4, -0.003, 3), (-1.5, 0.002, 4), (0.2, 0.0, 5)])
def test_recovers_true_axis(offset_nm, dispersion_error, seed):
    true_nm = true_axis_nm()
    counts = lamp_counts(true_nm, LAMP_LINES + FOREIGN_LINES, seed)
    nominal = nominal_axis(true_nm, offset_nm, dispersion_error)
    assert np.sqrt(np.mean((nominal - true_nm) ** 2)) > 0.15  # the nominal axis alone would fail

    cal = calibrate_wavelength(counts, nominal, order=3, max_match_nm=2.0)

    assert isinstance(cal, Calibration)
    error_nm = cal.wavelength_nm - true_nm
    assert np.sqrt(np.mean(error_nm ** 2)) < 0.1
    assert np.max(np.abs(error_nm)) < 0.2
    assert cal.n_lines >= 15 and cal.n_lines == cal.line_pixels.size == cal.line_wavelengths_nm.size
    assert cal.rms_nm < 0.05
    assert not np.any(np.isin(np.round(cal.line_wavelengths_nm, 1), [620.0, 883.3]))
    # Every identified line sits where the true axis puts its table wavelength.
    true_pixels = np.interp(cal.line_wavelengths_nm, true_nm, np.arange(N_PIXELS))
    assert np.max(np.abs(cal.line_pixels - true_pixels)) < 0.3
    np.testing.assert_allclose(cal.wavelength_at(np.arange(N_PIXELS)), cal.wavelength_nm, atol=1e-9)
    assert cal.coefficients.shape == (4,)


def test_find_lines_subpixel_positions():
    true_nm = true_axis_nm()
    counts = lamp_counts(true_nm, LAMP_LINES, seed=7)
    found = find_lines(counts, min_snr=10)
    pixel = np.arange(N_PIXELS)
    isolated = [546.0735, 696.5431, 706.7218, 738.3980, 763.5106, 794.8176, 912.2967, 965.7786]
    for wl in isolated:
        expected = np.interp(wl, true_nm, pixel)
        nearest = found[np.argmin(np.abs(found - expected))]
        assert abs(nearest - expected) < 0.1, (wl, nearest, expected)
    assert np.all(np.diff(found) > 0)
    # Weak lines (300 counts on 500, noise ~22) pass a low threshold but not a high one.
    weak = np.interp(737.2118, true_nm, pixel)
    assert np.min(np.abs(find_lines(counts, min_snr=5) - weak)) < 0.3
    assert np.min(np.abs(find_lines(counts, min_snr=50) - weak)) > 1.0


def test_find_lines_in_pure_noise_finds_nothing():
    counts = np.random.default_rng(3).poisson(np.full(N_PIXELS, BASELINE_COUNTS)).astype(float)
    assert find_lines(counts, min_snr=10).size == 0


def test_lamp_off_raises_clear_error():
    true_nm = true_axis_nm()
    counts = np.random.default_rng(4).poisson(np.full(N_PIXELS, BASELINE_COUNTS)).astype(float)
    with pytest.raises(ValueError, match=r"only 0 Ar-Hg lines found; is the lamp on and the slit open"):
        calibrate_wavelength(counts, nominal_axis(true_nm, 0.8, 0.003))


def test_too_few_lines_raises():
    """order + 2 identified lines are needed: five real lines fit a cubic, four do not."""
    true_nm = true_axis_nm()
    nominal = nominal_axis(true_nm, 0.8, 0.003)
    five = [(546.0735, 8000), (696.5431, 4000), (763.5106, 8000), (842.4648, 4000), (912.2967, 5000)]
    cal = calibrate_wavelength(lamp_counts(true_nm, five + FOREIGN_LINES, seed=5), nominal, order=3)
    assert cal.n_lines == 5
    assert np.sqrt(np.mean((cal.wavelength_nm - true_nm) ** 2)) < 0.1
    four = five[:2] + five[3:]
    with pytest.raises(ValueError, match=r"only 4 Ar-Hg lines found; is the lamp on"):
        calibrate_wavelength(lamp_counts(true_nm, four + FOREIGN_LINES, seed=5), nominal, order=3)


def test_bad_input_is_named():
    true_nm = true_axis_nm()
    counts = lamp_counts(true_nm, LAMP_LINES, seed=6)
    with pytest.raises(ValueError, match="nominal_wavelength_nm has shape"):
        calibrate_wavelength(counts, true_nm[:-1])
    with pytest.raises(ValueError, match="order"):
        calibrate_wavelength(counts, true_nm, order=0)
    with pytest.raises(ValueError, match="monotonic"):
        calibrate_wavelength(counts, np.full(N_PIXELS, 700.0))
    with pytest.raises(ValueError, match="NaN"):
        find_lines(np.full(N_PIXELS, np.nan))


def test_calibrates_the_simulated_spectrograph_and_lamp():
    """The simulators' own optics and lamp: the World's Ar-Hg line model seen through the Kymera model's
    true axis (focal length 0.4 % off, chip shifted by ~1.7 px), calibrated from its nominal axis."""
    from tepl.sims.andor_shamrock_grating import grating_wavelengths_nm
    from tepl.sims.world import World

    optics = dict(center_wavelength_nm=700.0, lines_per_mm=150.0, deviation_deg=14.0, tilt_deg=0.0,
                  pixel_width_um=26.0, n_pixels=N_PIXELS)
    nominal_nm = grating_wavelengths_nm(focal_length_mm=328.0, **optics)
    true_nm = grating_wavelengths_nm(focal_length_mm=328.0 * 1.004, detector_shift_um=-45.0, **optics)
    world = World(sample=BumpSample(), seed=11)  # a sample that emits nothing: lamp light only
    world.lamp_on = world.shutter_open = True
    photons = world.spectrum_photons(true_nm, exposure_s=0.2)
    counts = world.rng("ccd").poisson(photons) + BASELINE_COUNTS
    assert np.max(np.abs(nominal_nm - true_nm)) > 0.8

    cal = calibrate_wavelength(counts, nominal_nm)

    assert np.sqrt(np.mean((cal.wavelength_nm - true_nm) ** 2)) < 0.1
    assert cal.n_lines >= 10
