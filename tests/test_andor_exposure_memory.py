"""The iDus driver sends an exposure and an acquisition mode it set itself only once; GetAcquisitionTimings,
asked before every acquisition, shows when the exposure was set otherwise behind its back (another program, a
console), and an abort or a failure makes it send both again. Truth: the simulated SDK2's own exposure, mode
and clock."""

from __future__ import annotations

import ctypes

import pytest

from tepl.drivers.andor_sdk2 import IDus
from tepl.roles import DeviceError
from tepl.sims.andor_sdk2 import SimSDK2
from tepl.sims.andor_shamrock import SimShamrock
from tepl.sims.world import World
from tests.standins import BandSample


class Recording:
    """The simulated library, with the names of the functions called."""

    def __init__(self, lib):
        self.lib, self.names = lib, []

    def __getattr__(self, name):
        self.names.append(name)
        return getattr(self.lib, name)


@pytest.fixture
def camera():
    world = World(sample=BandSample(), seed=3)
    sim = SimSDK2(world, SimShamrock(world))
    lib = Recording(sim)
    return world, sim, lib, IDus(lib, sleep=world.clock.advance)


def _exposure_took_s(world, ccd, exposure_s):
    start = world.clock.now()
    ccd.acquire_single(exposure_s)
    return world.clock.now() - start


def test_the_same_exposure_is_sent_once_and_checked_every_time(camera):
    world, sim, lib, ccd = camera
    ccd.acquire_single(0.02)
    lib.names.clear()
    ccd.acquire_single(0.02)
    assert "SetExposureTime" not in lib.names and "GetAcquisitionTimings" in lib.names
    assert sim._exposure_s == pytest.approx(0.02)
    lib.names.clear()
    ccd.acquire_single(0.05)  # another exposure: sent
    assert lib.names.count("SetExposureTime") == 1 and sim._exposure_s == pytest.approx(0.05)


def test_an_exposure_changed_behind_the_drivers_back_is_set_again(camera):
    world, sim, lib, ccd = camera
    ccd.acquire_single(0.02)
    sim.SetExposureTime(ctypes.c_float(5.0))  # as the lifecycle test does, without an abort after it
    took_s = _exposure_took_s(world, ccd, 0.02)
    assert sim._exposure_s == pytest.approx(0.02) and took_s < 1.0
    assert ccd.settings()["exposure_s"] == pytest.approx(0.02)


def test_an_abort_or_a_failure_forgets_the_exposure(camera):
    world, sim, lib, ccd = camera
    ccd.acquire_single(0.02)
    ccd.abort()
    lib.names.clear()
    ccd.acquire_single(0.02)
    assert lib.names.count("SetExposureTime") == 1
    sim.faults.set(error_code=20013, only={"GetAcquiredData"})
    with pytest.raises(DeviceError, match="GetAcquiredData"):
        ccd.acquire_single(0.02)
    sim.faults.clear()
    lib.names.clear()
    ccd.acquire_single(0.02)
    assert lib.names.count("SetExposureTime") == 1


def test_the_acquisition_mode_is_sent_when_it_changes_and_after_an_abort(camera):
    world, sim, lib, ccd = camera
    ccd.acquire_single(0.02)
    lib.names.clear()
    ccd.acquire_single(0.02)
    assert "SetAcquisitionMode" not in lib.names and sim._acq_mode == 1
    ccd.acquire_accumulate(0.02, 3)
    assert sim._acq_mode == 2
    lib.names.clear()
    ccd.acquire_single(0.02)  # another mode: sent
    assert lib.names.count("SetAcquisitionMode") == 1 and sim._acq_mode == 1
    sim.SetAcquisitionMode(3)  # behind the driver's back, then an abort (what the safe state does)
    ccd.abort()
    lib.names.clear()
    ccd.acquire_single(0.02)
    assert lib.names.count("SetAcquisitionMode") == 1 and sim._acq_mode == 1
