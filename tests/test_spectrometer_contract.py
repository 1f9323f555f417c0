"""Spectrometer and Shutter contracts on the Andor roles over the simulated SDK2 and ShamrockCIF libraries."""

from __future__ import annotations

import numpy as np
import pytest

from tepl.drivers.andor import AndorSpectrometer, IDus, Kymera, KymeraShutter
from tepl.roles import DeviceError, LimitError, Range
from tepl.sims.andor import make_sim_libraries
from tepl.sims.world import World
from tests.contracts.roles import ShutterContract, SpectrometerContract
from tests.standins import BandSample


@pytest.fixture
def world():
    return World(sample=BandSample(), seed=11)


@pytest.fixture
def libraries(world):
    return make_sim_libraries(world)


@pytest.fixture
def kymera(libraries):
    return Kymera(libraries[1])


@pytest.fixture
def spectrometer(world, libraries, kymera):
    ccd = IDus(libraries[0], sleep=world.clock.advance)
    spectrometer = AndorSpectrometer(ccd, kymera, Range(0.001, 120.0, "s"), sleep=world.clock.advance)
    spectrometer.cool(-70)
    yield spectrometer
    ccd.shutdown()


@pytest.fixture
def shutter(kymera):
    return KymeraShutter(kymera)


class TestAndorSpectrometerContract(SpectrometerContract):
    pass


class TestKymeraShutterContract(ShutterContract):
    pass


def test_shutter_drives_the_excitation(world, shutter):
    shutter.open()
    assert world.shutter_open
    shutter.shut()
    assert not world.shutter_open


def test_cooling_takes_simulated_minutes(world, libraries, kymera):
    spectrometer = AndorSpectrometer(IDus(libraries[0], sleep=world.clock.advance), kymera,
                                     Range(0.001, 120.0, "s"), sleep=world.clock.advance)
    assert spectrometer.temperature_c() == (pytest.approx(20.0), "off")
    sim0 = world.clock.now()
    assert spectrometer.cool(-60, wait=False) == pytest.approx(20.0, abs=0.1)
    assert spectrometer.temperature_c()[1] == "not_reached"
    assert spectrometer.cool(-60) == pytest.approx(-60.0)
    assert spectrometer.temperature_c()[1] == "stabilized"
    assert 8 * 60 < world.clock.now() - sim0 < 12 * 60
    with pytest.raises(DeviceError, match="did not stabilise"):
        spectrometer.cool(-95, timeout_s=1200)  # below what the TE cooler reaches on air
    with pytest.raises(LimitError, match="cooling target"):
        spectrometer.cool(-150)
    spectrometer.warm_up()
    assert spectrometer.temperature_c()[1] == "off"


def test_role_limits_grating_and_calibration(world, spectrometer):
    with pytest.raises(LimitError, match="grating 4"):
        spectrometer.set_grating(4)
    with pytest.raises(LimitError, match="centre wavelength"):
        spectrometer.set_center_wavelength_nm(50000.0)
    spectrometer.set_grating(3)
    spectrometer.set_center_wavelength_nm(550.0)
    assert spectrometer.grating() == 3 and spectrometer.center_wavelength_nm() == pytest.approx(550.0)
    truth = world.ground_truth()["spectrograph"]
    assert truth["lines_per_mm"] == 1200.0 and truth["center_wavelength_nm"] == pytest.approx(550.0)
    wl = spectrometer.wavelengths_nm()
    assert np.max(np.abs(wl - np.array(truth["true_wavelength_nm"]))) < 1.5
    spectrometer.set_calibration_nm(np.array(truth["true_wavelength_nm"]))
    np.testing.assert_allclose(spectrometer.wavelengths_nm(), truth["true_wavelength_nm"])
    settings = spectrometer.settings()
    assert settings["ccd"]["temperature_status"] == "stabilized" and settings["calibration"] == "station"
    assert settings["spectrograph"]["grating"]["lines_per_mm"] == 1200.0


def test_sample_light_follows_the_shutter(world, spectrometer):
    spectrometer.set_center_wavelength_nm(700.0)
    world.shutter_open = False
    dark = spectrometer.acquire(1.0)
    world.shutter_open = True
    light = spectrometer.acquire(1.0)
    band = np.abs(spectrometer.wavelengths_nm() - 700.0) < 10.0
    assert (light - dark)[band].mean() > 300 and abs((light - dark)[~band].mean()) < 50
