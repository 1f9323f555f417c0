"""Strain, pressure and force from a peak shift: paper 000 figures and the twin's ground truth."""

import dataclasses

import numpy as np
import pytest

from tepl.analysis.peaks import fit_peaks
from tepl.analysis.strain import (
    StrainModel,
    force_nN_from_pressure,
    lateral_strain_percent,
    pressure_GPa_from_strain,
    shift_eV_from_strain,
    strain_percent_from_pressure,
    strain_percent_from_shift,
)
from tepl.sims.world import World

WAVELENGTH_NM = 700.0 + 0.52 * (np.arange(1024) - 511.5)


def test_paper_figures():
    # Fig. 5b: 1.34 % compressive strain <-> ~60 meV reduction <-> 0.78 GPa
    assert strain_percent_from_shift(-0.060) == pytest.approx(1.34, abs=0.02)
    assert pressure_GPa_from_strain(1.34) == pytest.approx(0.78)
    assert shift_eV_from_strain(1.34) == pytest.approx(-0.0603, abs=1e-4)
    # Fig. 3c: the largest shift, 62 meV, is ~1.38 % and ~0.8 GPa; on ~10 nm^2 that is ~8 nN
    strain = strain_percent_from_shift(-0.062)
    assert strain == pytest.approx(1.378, abs=0.005)
    pressure = pressure_GPa_from_strain(strain)
    assert pressure == pytest.approx(0.80, abs=0.01)
    assert force_nN_from_pressure(pressure) == pytest.approx(10.0 * pressure)
    assert force_nN_from_pressure(0.78, contact_area_nm2=20.0) == pytest.approx(15.6)
    assert strain_percent_from_pressure(0.78) == pytest.approx(1.34)
    assert lateral_strain_percent(1.34) == pytest.approx(1.34 * 0.143)
    # a blueshift means tensile (negative) strain
    assert strain_percent_from_shift(0.045) == pytest.approx(-1.0)


def test_arrays_in_arrays_out():
    shifts = np.array([[0.0, -0.045], [-0.0225, -0.09]])
    strain = strain_percent_from_shift(shifts)
    assert isinstance(strain, np.ndarray) and strain.shape == (2, 2)
    np.testing.assert_allclose(strain, [[0.0, 1.0], [0.5, 2.0]])
    assert isinstance(strain_percent_from_shift(-0.045), float)


def test_model_from_config_and_bad_input():
    model = StrainModel.from_config({"shift_eV_per_percent": -0.05, "contact_area_nm2": 5})
    assert strain_percent_from_shift(-0.05, model) == pytest.approx(1.0)
    assert force_nN_from_pressure(1.0, model=model) == pytest.approx(5.0)
    assert StrainModel.from_config(None) == StrainModel()
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.contact_area_nm2 = 1.0
    with pytest.raises(ValueError, match="unknown strain model keys"):
        StrainModel.from_config({"youngs_modulus": 1.0})
    with pytest.raises(ValueError, match="contact_area_nm2"):
        StrainModel(contact_area_nm2=0.0)
    with pytest.raises(ValueError, match="contact_area_nm2"):
        force_nN_from_pressure(0.5, contact_area_nm2=-1.0)
    with pytest.raises(ValueError, match="shift_eV"):
        strain_percent_from_shift(np.nan)


def test_measured_shift_gives_the_twins_strain_and_pressure():
    """Press a dot of the twin to d = 2 nm, fit the shift, convert: matches the sample's ground truth."""
    world = World(seed=7, drift_nm_per_s=(0.0, 0.0))
    world.shutter_open = True
    truth = world.ground_truth()["sample"]
    on = world.sample.on_fraction(0.0, 20.0) == 1.0
    i = int(np.argmax(np.where(on, truth["orientation"], -1.0)))
    x, y = truth["x_nm"][i], truth["y_nm"][i]
    world.stage_um[:2] = (x / 1000.0, y / 1000.0)
    noise = np.random.default_rng(7)
    spectra = []
    for gap_nm in (14.0, 2.0):
        world.set_tip_z_nm(gap_nm)
        spectra.append(noise.poisson(world.spectrum_photons(WAVELENGTH_NM, 2.0)) + 500.0)
        world.clock.advance(2.0)
    fit = fit_peaks(WAVELENGTH_NM, np.array(spectra))
    assert fit.ok.all()
    strain = strain_percent_from_shift(fit.center_eV[1] - fit.center_eV[0])
    assert strain == pytest.approx(world.sample.strain_percent(x, y, 2.0), abs=0.1)
    pressure = pressure_GPa_from_strain(strain)
    assert pressure == pytest.approx(world.sample.pressure_GPa(x, y, 2.0), abs=0.06)
    assert 5.0 < force_nN_from_pressure(pressure) < 15.0  # forces of order 10 nN
