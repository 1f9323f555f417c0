"""Paper 001's ensemble models: known parameters recovered from noisy synthetic series.

Parameter values are in the range paper 001 reports for CsPbBr3 quantum-dot films: PL near 2.45 eV with a
~77 meV room-temperature FWHM, LO phonons of 10-30 meV, a bilayer red shift of tens of meV that falls
exponentially over the 0.4-1.5 nm length of the dithiol linkers.
"""

import numpy as np
import pytest
from scipy import constants

from tepl.analysis.temperature import (
    K_B_EV_PER_K,
    ParameterFit,
    fit_linewidth,
    fit_peak_energy,
    fit_spacer_coupling,
    linewidth_meV,
    peak_energy_eV,
    spacer_shift_meV,
)

T_K = np.arange(10.0, 301.0, 10.0)
PEAK = {"E0_eV": 2.45, "A_TE_eV_per_K": 3.5e-4, "A_EP_eV": -0.040, "phonon_energy_meV": 20.0}
WIDTH = {"gamma0_meV": 35.0, "gamma_LO_meV": 60.0, "E_LO_meV": 25.0}
SPACER_NM = np.array([0.45, 0.55, 0.68, 0.80, 0.93, 1.46])   # C2DT ... C10DT sulfur-sulfur lengths
COUPLING = {"amplitude_meV": -70.0, "decay_length_nm": 0.8}


def test_models_follow_their_formulas():
    k_b = constants.k / constants.e
    assert K_B_EV_PER_K == pytest.approx(8.617333e-5, rel=1e-6)
    T = 150.0
    bose = 1.0 / (np.exp(0.020 / (k_b * T)) - 1.0)
    assert peak_energy_eV(T, 2.45, 3.5e-4, -0.04, 20.0) == pytest.approx(2.45 + 3.5e-4 * T - 0.04 * (2 * bose + 1))
    bose_lo = 1.0 / (np.exp(0.025 / (k_b * T)) - 1.0)
    assert linewidth_meV(T, 35.0, 60.0, 25.0) == pytest.approx(35.0 + 60.0 * bose_lo)
    # at T -> 0 no phonons are populated
    assert peak_energy_eV(1e-3, 2.45, 3.5e-4, -0.04, 20.0) == pytest.approx(2.45 - 0.04)
    assert linewidth_meV(0.0, 35.0, 60.0, 25.0) == pytest.approx(35.0)
    # room temperature linewidth of these parameters is that of paper 001's QDs (77 meV) within 10 %
    assert linewidth_meV(295.0, **WIDTH) == pytest.approx(77.0, rel=0.1)


def check(fit: ParameterFit, truth: dict, free: list[str], rel: float):
    for name in free:
        assert fit.errors[name] > 0, name
        assert abs(fit[name] - truth[name]) < 4 * fit.errors[name], name
        assert abs(fit[name] / truth[name] - 1.0) < rel, name


@pytest.mark.parametrize("seed", [0, 1])
def test_peak_energy_fit(seed):
    rng = np.random.default_rng(seed)
    noise_eV = 0.3e-3
    energy = peak_energy_eV(T_K, **PEAK) + rng.normal(0.0, noise_eV, T_K.size)
    fit = fit_peak_energy(T_K, energy, noise_eV)
    check(fit, PEAK, list(PEAK), rel=0.25)
    assert abs(fit["E0_eV"] - PEAK["E0_eV"]) < 5e-3
    assert fit.rms_residual < 2 * noise_eV
    fixed = fit_peak_energy(T_K, energy, phonon_energy_meV=20.0)   # errors from the scatter
    assert fixed["phonon_energy_meV"] == 20.0 and fixed.errors["phonon_energy_meV"] == 0.0
    check(fixed, PEAK, ["E0_eV", "A_TE_eV_per_K", "A_EP_eV"], rel=0.1)


@pytest.mark.parametrize("seed", [0, 1])
def test_linewidth_fit(seed):
    rng = np.random.default_rng(10 + seed)
    noise_meV = 0.5
    fwhm = linewidth_meV(T_K, **WIDTH) + rng.normal(0.0, noise_meV, T_K.size)
    fit = fit_linewidth(T_K, fwhm, noise_meV)
    check(fit, WIDTH, list(WIDTH), rel=0.2)
    fixed = fit_linewidth(T_K, fwhm, noise_meV, E_LO_meV=25.0)
    check(fixed, WIDTH, ["gamma0_meV", "gamma_LO_meV"], rel=0.05)
    assert np.allclose(fixed.fitted, linewidth_meV(T_K, **fixed.values))


def test_spacer_coupling_fit_and_barrier():
    rng = np.random.default_rng(20)
    noise_meV = 0.5
    shift = spacer_shift_meV(SPACER_NM, **COUPLING) + rng.normal(0.0, noise_meV, SPACER_NM.size)
    fit = fit_spacer_coupling(SPACER_NM, shift, noise_meV, effective_mass_me=0.15)
    check(fit, COUPLING, list(COUPLING), rel=0.1)
    # 1 / L = 2 sqrt(2 m* V) / hbar, solved independently for V
    length_m = fit["decay_length_nm"] * 1e-9
    barrier_J = constants.hbar**2 / (8.0 * 0.15 * constants.m_e * length_m**2)
    assert fit["barrier_eV"] == pytest.approx(barrier_J / constants.e, rel=1e-9)
    positive = fit_spacer_coupling(SPACER_NM, -shift, noise_meV)   # the sign of the shift is kept
    assert positive["amplitude_meV"] == pytest.approx(-fit["amplitude_meV"], rel=1e-6)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="one length"):
        fit_peak_energy(T_K, np.ones(5))
    with pytest.raises(ValueError, match="positive temperatures"):
        fit_linewidth(np.array([-5.0, 10, 20, 30]), np.ones(4))
    with pytest.raises(ValueError, match="too few"):
        fit_linewidth(np.array([10.0, 20.0]), np.ones(2))
    with pytest.raises(ValueError, match="zero everywhere"):
        fit_spacer_coupling(SPACER_NM, np.zeros(SPACER_NM.size))
    with pytest.raises(ValueError, match="effective_mass_me"):
        fit_spacer_coupling(SPACER_NM, np.ones(SPACER_NM.size), effective_mass_me=-1.0)
