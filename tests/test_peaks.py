"""Batched pseudo-Voigt fitter against spectra made from a known truth."""

import numpy as np
import pytest
from scipy.special import voigt_profile

from tepl.analysis.peaks import HC_EV_NM, PeakFit, fit_peak, fit_peaks, pseudo_voigt

WAVELENGTH_NM = 700.0 + 0.52 * (np.arange(1024) - 511.5)
ENERGY_EV = HC_EV_NM / WAVELENGTH_NM
WIDTH_EV = HC_EV_NM / WAVELENGTH_NM**2 * np.abs(np.gradient(WAVELENGTH_NM))
LONGPASS = 0.5 * (1.0 + np.tanh(WAVELENGTH_NM - 636.0))  # the rig's 636 nm edge, 1 nm wide


def synthetic(rng, n, center=(1.84, 1.92), fwhm=(0.15, 0.24), eta=(0.2, 0.8), amplitude=(5e4, 3e5),
              background=500.0, cut_blue=True):
    truth = {
        "center_eV": rng.uniform(*center, n),
        "fwhm_eV": rng.uniform(*fwhm, n),
        "eta": rng.uniform(*eta, n),
        "amplitude": rng.uniform(*amplitude, n),
    }
    density = pseudo_voigt(ENERGY_EV, truth["center_eV"][:, None], truth["fwhm_eV"][:, None],
                           truth["eta"][:, None])
    filt = LONGPASS if cut_blue else 1.0
    expected = background + truth["amplitude"][:, None] * density * WIDTH_EV * filt
    return rng.poisson(expected).astype(float), truth


def test_recovers_known_peaks_and_errors_are_sane():
    rng = np.random.default_rng(11)
    spectra, truth = synthetic(rng, 600)
    fit = fit_peaks(WAVELENGTH_NM, spectra)
    assert fit.ok.mean() > 0.99
    ok = fit.ok
    assert np.median(np.abs(fit.center_eV - truth["center_eV"])[ok]) < 2e-3
    assert np.median(np.abs(fit.fwhm_eV - truth["fwhm_eV"])[ok]) < 6e-3
    assert np.median(np.abs(fit.amplitude / truth["amplitude"] - 1)[ok]) < 0.05
    assert np.median(np.abs(fit.background - 500.0)[ok]) < 5.0
    pixel_eV = np.interp(truth["center_eV"], ENERGY_EV[::-1], WIDTH_EV[::-1])
    height = truth["amplitude"] * pixel_eV * pseudo_voigt(truth["center_eV"], truth["center_eV"],
                                                          truth["fwhm_eV"], truth["eta"])
    height_pull = ((fit.height - height) / fit.height_err)[ok]
    assert 1 / 1.5 < np.std(height_pull) < 1.5
    assert np.all(fit.n_iter[ok] <= 30)
    assert 0.8 < np.median(fit.chi2_red) < 1.2
    for name in ("center_eV", "fwhm_eV", "amplitude"):
        pull = ((getattr(fit, name) - truth[name]) / getattr(fit, f"{name}_err"))[ok]
        assert 1 / 1.5 < np.std(pull) < 1.5, name
        assert abs(np.mean(pull)) < 0.3, name


def test_blue_side_cut_by_the_longpass_edge():
    """Peaks centred 8-20 nm above the filter edge: half their blue side is missing."""
    rng = np.random.default_rng(5)
    spectra, truth = synthetic(rng, 100, center=(1.90, 1.93), fwhm=(0.2, 0.24), eta=(0.5, 0.9),
                               amplitude=(2e5, 4e5))
    blue_half_max_nm = HC_EV_NM / (truth["center_eV"] + truth["fwhm_eV"] / 2)
    assert np.all(blue_half_max_nm < 636.0)  # the blue half-maximum point is not even on the detector
    fit = fit_peaks(WAVELENGTH_NM, spectra)
    assert fit.ok.all()
    for name in ("center_eV", "fwhm_eV"):
        pull = np.abs(getattr(fit, name) - truth[name]) / getattr(fit, f"{name}_err")
        assert np.mean(pull < 3) > 0.95 and np.all(pull < 6), name
    assert np.median(np.abs(fit.center_eV - truth["center_eV"])) < 0.003
    assert np.median(np.abs(fit.fwhm_eV / truth["fwhm_eV"] - 1)) < 0.03


def test_true_voigt_line_gives_its_fwhm():
    """A Voigt (not the model's pseudo-Voigt) of known total FWHM, the line shape of real spectra."""
    sigma_eV, gamma_eV = 0.0574, 0.03  # total FWHM 0.170 eV (Olivero-Longbothum)
    fwhm_true = 0.5346 * 2 * gamma_eV + np.sqrt(0.2166 * (2 * gamma_eV) ** 2 + (2.3548 * sigma_eV) ** 2)
    expected = 500 + 4e5 * voigt_profile(ENERGY_EV - 1.87, sigma_eV, gamma_eV) * WIDTH_EV * LONGPASS
    spectra = np.random.default_rng(2).poisson(np.tile(expected, (20, 1))).astype(float)
    fit = fit_peaks(WAVELENGTH_NM, spectra)
    assert np.all(np.abs(fit.fwhm_eV - fwhm_true) < 0.01)
    assert np.all(np.abs(fit.center_eV - 1.87) < 0.002)


def test_batch_shapes_and_single_spectrum():
    rng = np.random.default_rng(3)
    spectra, truth = synthetic(rng, 6)
    cube = spectra.reshape(2, 3, -1)
    fit = fit_peaks(WAVELENGTH_NM, cube)
    assert isinstance(fit, PeakFit)
    for value in fit.as_dict().values():
        assert value.shape == (2, 3)
    assert np.all(np.abs(fit.center_eV.ravel() - truth["center_eV"]) < 5 * fit.center_eV_err.ravel())
    one = fit_peak(WAVELENGTH_NM, spectra[4])
    assert one.center_eV.shape == ()
    assert float(one.center_eV) == pytest.approx(float(fit.center_eV[1, 1]), abs=1e-6)
    # order of the wavelength axis does not matter
    flipped = fit_peaks(WAVELENGTH_NM[::-1], cube[..., ::-1])
    np.testing.assert_allclose(flipped.center_eV, fit.center_eV, atol=1e-6)
    np.testing.assert_allclose(fit.center_nm, HC_EV_NM / fit.center_eV)


def test_dark_spectrum_or_lone_spike_is_not_ok():
    """No peak (a blinking dot, a closed shutter) or a cosmic-ray spike must not yield a usable centre."""
    dark = np.random.default_rng(4).poisson(np.full((40, 1024), 500.0)).astype(float)
    dark[0, 600] += 3000.0  # a cosmic ray
    fit = fit_peaks(WAVELENGTH_NM, dark)
    assert fit.ok.shape == (40,)
    assert not fit.ok.any()
    weak, _ = synthetic(np.random.default_rng(8), 5, amplitude=(2e4, 3e4))
    assert fit_peaks(WAVELENGTH_NM, weak).ok.all()  # a weak but real peak still is


@pytest.mark.parametrize("spectra, match", [
    (np.ones((4, 1000)), "does not end in the 1024 pixels"),
    (np.where(np.arange(1024) == 300, np.nan, 1.0), "non-finite"),
])
def test_bad_spectra_raise(spectra, match):
    with pytest.raises(ValueError, match=match):
        fit_peaks(WAVELENGTH_NM, spectra)


def test_bad_axis_window_and_options_raise():
    spectrum = np.ones(1024)
    with pytest.raises(ValueError, match="monotonic"):
        fit_peaks(np.r_[WAVELENGTH_NM[:500], WAVELENGTH_NM[500:][::-1]], spectrum)
    with pytest.raises(ValueError, match="pixels"):
        fit_peaks(WAVELENGTH_NM, spectrum, window_nm=(1000.0, 1100.0))
    with pytest.raises(ValueError, match="low < high"):
        fit_peaks(WAVELENGTH_NM, spectrum, window_nm=(800.0, 640.0))
    with pytest.raises(ValueError, match="weighting"):
        fit_peaks(WAVELENGTH_NM, spectrum, weighting="magic")
    with pytest.raises(ValueError, match="sigma"):
        fit_peaks(WAVELENGTH_NM, spectrum, sigma=np.zeros(1024))
    with pytest.raises(ValueError, match="one spectrum"):
        fit_peak(WAVELENGTH_NM, np.ones((2, 1024)))
