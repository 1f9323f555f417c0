"""The film twin of paper 001: its models against the analysis library's formulas, the two films side by side,
its light following the cryostat's stage temperature (spectra on the CCD, photon delays after each pulse), and
the Lake Shore simulator's stage reaching room temperature."""

from __future__ import annotations

import numpy as np
import pytest

from tepl.analysis.temperature import linewidth_meV, peak_energy_eV
from tepl.config import CONFIG_DIR
from tepl.sims.film_sample import FilmSample
from tepl.sims.lakeshore_336 import ThermalModel
from tepl.sims.photons import Laser
from tepl.sims.world import ROOM_TEMPERATURE_K, World
from tepl.station import build_station
from tepl.units import HC_EV_NM

MONOLAYER_UM, MULTILAYER_UM = 25.0, 75.0
PARAMETERS = ("E0_eV", "A_TE_eV_per_K", "A_EP_eV", "phonon_energy_meV", "gamma0_meV", "gamma_LO_meV", "E_LO_meV",
              "tau_ns", "amplitude_fraction", "lifetime_gain", "lifetime_scale_k", "rate_per_s")


@pytest.fixture(scope="module")
def station():
    st = build_station(CONFIG_DIR / "film-cryo-sim.yaml")
    st.open_excitation()  # the roles are used directly here, not through a run
    yield st
    st.close()


def _settle(station, kelvin: float) -> float:
    station.cryostat.set_setpoint_k(None, kelvin)
    station.cryostat.set_heater_range(None, "high")
    return station.cryostat.wait_stable(0.1, 20.0, 3000.0)


def test_ground_truth_holds_every_parameter_of_each_film():
    truth = FilmSample.generate(seed=3).ground_truth()
    assert truth["kind"] == "film" and truth["boundary_x_nm"] == 50000.0
    assert set(truth["films"]) == {"monolayer", "multilayer"}
    for film in truth["films"].values():
        for name in PARAMETERS:
            assert name in film, name
        assert np.isclose(np.sum(film["amplitude_fraction"]), 1.0)
    mono, multi = truth["films"]["monolayer"], truth["films"]["multilayer"]
    # paper 001: the coupled multilayer is redder, couples more strongly to phonons, lives longer when cold
    assert multi["E0_eV"] < mono["E0_eV"] and multi["gamma_LO_meV"] > mono["gamma_LO_meV"]
    assert multi["gamma0_meV"] < mono["gamma0_meV"] and multi["E_LO_meV"] > mono["E_LO_meV"]
    assert mono["lifetime_gain"] == 0.0 < multi["lifetime_gain"]


def test_models_are_paper_001s_formulas():
    sample = FilmSample.generate()
    for film in sample.films:
        for t_k in (4.0, 77.0, 150.0, 295.0):
            assert film.peak_energy_eV(t_k) == pytest.approx(
                float(peak_energy_eV(t_k, film.E0_eV, film.A_TE_eV_per_K, film.A_EP_eV, film.phonon_energy_meV)),
                abs=1e-12)
            assert film.fwhm_meV(t_k) == pytest.approx(
                float(linewidth_meV(t_k, film.gamma0_meV, film.gamma_LO_meV, film.E_LO_meV)), abs=1e-9)
            decay = film.decay(t_k)
            weighted = np.dot(decay.amplitude_fraction, decay.tau_ns)  # sum(A_i tau_i) / sum(A_i)
            assert film.average_lifetime_ns(t_k) == pytest.approx(weighted)
    mono, multi = sample.films
    # room-temperature band of the monolayer: near paper 001's 2.446 eV and 77 meV
    assert mono.peak_energy_eV(295.0) == pytest.approx(2.446, abs=0.01)
    assert mono.fwhm_meV(295.0) == pytest.approx(77.0, rel=0.1)
    assert multi.fwhm_meV(295.0) > mono.fwhm_meV(295.0) and multi.fwhm_meV(10.0) < mono.fwhm_meV(10.0)
    assert mono.average_lifetime_ns(10.0) == pytest.approx(mono.average_lifetime_ns(295.0))
    assert multi.average_lifetime_ns(10.0) > 2.0 * multi.average_lifetime_ns(295.0)


def test_without_a_cryostat_the_films_are_at_room_temperature():
    sample = FilmSample.generate()
    world = World(sample=sample)
    sample.attach(world)
    assert world.sample_temperature_k == ROOM_TEMPERATURE_K == sample.temperature_k
    wl = np.linspace(450.0, 600.0, 1500)
    rate = sample.photon_rate(MONOLAYER_UM * 1e3, 50e3, 2000.0, wl, 0.0, 1.0)
    peak_nm = wl[np.argmax(rate)]
    assert HC_EV_NM / peak_nm == pytest.approx(sample.films[0].peak_energy_eV(ROOM_TEMPERATURE_K), abs=2e-3)


def test_two_films_side_by_side():
    sample = FilmSample.generate()
    mono, multi = sample.films
    assert sample.weights(MONOLAYER_UM * 1e3) == pytest.approx((1.0, 0.0))
    assert sample.weights(MULTILAYER_UM * 1e3) == pytest.approx((0.0, 1.0))
    assert sample.weights(50e3) == pytest.approx((0.5, 0.5))
    heights = sample.topography_nm(np.array([MONOLAYER_UM, MULTILAYER_UM]) * 1e3, np.full(2, 50e3))
    np.testing.assert_allclose(heights, [mono.thickness_nm, multi.thickness_nm])
    assert sample.shear_amplitude(np.array([0.0]))[0] == 0.0 and sample.shear_amplitude(np.array([50.0]))[0] > 0.99


@pytest.mark.parametrize(("x_um", "film"), [(MONOLAYER_UM, 0), (MULTILAYER_UM, 1)])
def test_the_ccd_sees_each_film_follow_the_stage_temperature(station, x_um, film):
    """The band's centre (centroid of the density above half maximum) sits at the film's E(T) at the stage's
    true temperature, and its width at half maximum is Γ(T), at two temperatures of the cryostat."""
    world = station.world
    truth = world.sample.films[film]
    station.stage.move_and_wait_um(x=x_um, y=50.0)
    station.shutter.open()
    wl = station.spectrometer.wavelengths_nm()
    energy = HC_EV_NM / wl
    pixel_eV = np.abs(np.gradient(energy))
    for kelvin in (20.0, 250.0):
        reading = _settle(station, kelvin)
        assert world.sample_temperature_k == pytest.approx(reading, abs=0.1)  # the stage, not the setpoint
        spectrum = station.spectrometer.acquire(2.0).astype(float)
        spectrum -= np.median(np.concatenate([spectrum[:40], spectrum[-40:]]))
        density = spectrum / pixel_eV
        top = density > 0.5 * density.max()
        centre = np.sum(energy[top] * density[top]) / np.sum(density[top])
        assert centre == pytest.approx(truth.peak_energy_eV(world.sample_temperature_k), abs=1e-3)
        above = energy[top]
        assert 1e3 * (above.max() - above.min()) == pytest.approx(truth.fwhm_meV(world.sample_temperature_k),
                                                                  rel=0.08)
    station.shutter.shut()


def test_photon_delays_follow_the_decay_at_the_stage_temperature():
    """Delays after each laser pulse average to the decay's mean (share-weighted) lifetime at the World's
    temperature: unchanged for the monolayer, longer when cold for the multilayer."""
    sample = FilmSample.generate()
    world = World(sample=sample, seed=2)
    sample.attach(world)
    laser = Laser(405.0, 1.0e6, pulse_fwhm_ps=10.0)  # 1 µs period: the tails end within it
    rng = np.random.default_rng(7)
    for x_um, film in ((MONOLAYER_UM, sample.films[0]), (MULTILAYER_UM, sample.films[1])):
        for kelvin in (10.0, 295.0):
            world.sample_temperature_k = kelvin
            t_ps, wavelength = sample.collected_photons(x_um * 1e3, 50e3, 0.0, 0.5, laser, rng)
            period_ps = round(laser.period_ps)
            delay_ns = ((t_ps + period_ps // 2) % period_ps - period_ps // 2) / 1e3  # pulse jitter: a few < 0
            expected = film.decay(kelvin).mean_ns
            assert delay_ns.mean() == pytest.approx(expected, rel=0.03), (film.name, kelvin)
            assert t_ps.size / 0.5 == pytest.approx(film.rate_at(kelvin), rel=0.02)
            centre = HC_EV_NM / np.median(wavelength)
            assert centre == pytest.approx(film.peak_energy_eV(kelvin), abs=1e-3)


def test_the_stage_reaches_room_temperature_and_the_world_follows_it(station):
    model = ThermalModel()
    assert model.hottest_k(2) == pytest.approx(model.base_k + 5.0 / model.conductance_W_per_K)  # below the knee
    assert model.hottest_k(3) > 320.0
    assert model.cooling_W(model.hottest_k(3)) == pytest.approx(model.range_max_W[3])
    controller = station.cryostat.controller.adapter.controller
    assert _settle(station, 300.0) == pytest.approx(300.0, abs=0.1)
    assert station.world.sample_temperature_k == pytest.approx(controller.stage_k)
    assert station.world.sample.temperature_k == station.world.sample_temperature_k
