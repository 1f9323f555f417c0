"""What the Andor simulators keep from one call or exposure to the next must follow every change that matters.

The SDK2 / ShamrockCIF simulators remember what a scan does not change (the true wavelength axis, the dark
current at a stable temperature, the camera's ground truth) and copy data out without clipping when no value
can overflow. Each test changes the thing a memory depends on and checks the result against the model's own
formula or the ground truth; and malformed calls still get the library's codes.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from tepl.drivers.andor_sdk2 import IDus
from tepl.drivers.andor_shamrock import Kymera
from tepl.sims.andor import SATURATION_COUNTS, FvbSensor
from tepl.sims.andor_sdk2 import SimSDK2
from tepl.sims.andor_shamrock import SimShamrock
from tepl.sims.andor_shamrock_grating import grating_wavelengths_nm
from tepl.sims.world import Clock, World
from tests.standins import BandSample

OK = 20002


@pytest.fixture
def rig():
    world = World(sample=BandSample(), seed=11)
    shamrock = SimShamrock(world)
    cam = SimSDK2(world, shamrock)
    ccd = IDus(cam, sleep=world.clock.advance)
    return world, shamrock, cam, ccd, Kymera(shamrock)


def test_true_axis_follows_wavelength_and_grating(rig):
    _, shamrock, _, _, kymera = rig
    for grating, center_nm in ((1, 700.0), (1, 650.0), (2, 650.0), (2, 650.0), (1, 700.0)):
        kymera.set_grating(grating)
        kymera.set_center_wavelength_nm(center_nm)
        expected = grating_wavelengths_nm(center_nm, shamrock.gratings[grating - 1].lines_per_mm,
                                          shamrock.true_focal_length_m * 1000.0, shamrock.deviation_deg,
                                          shamrock.tilt_deg, 26.0, 1024, shamrock.true_detector_shift_um)
        axis = shamrock.true_wavelengths_nm(1024, 26.0)
        np.testing.assert_array_equal(axis, expected)
        assert not axis.flags.writeable
        assert shamrock.true_wavelengths_nm(512, 26.0).size == 512  # another chip: its own axis


def test_dark_current_follows_the_temperature():
    """Mean dark counts of a shuttered chip at two temperatures, in turn: each as the dark-current law says."""
    sensor = FvbSensor(np.random.default_rng(5), 1024, 255, 1.5, 500.0)
    zeros, wl = np.zeros(1024), np.linspace(600.0, 800.0, 1024)
    for temperature_c in (-80.0, 0.0, -80.0, 0.0):
        sensor.cosmic_ray_hits = []
        counts = np.mean([sensor.read(zeros, wl, 0.5, temperature_c, 4.0) for _ in range(4)])
        cosmic_counts = sum(deposit_e for _, _, deposit_e in sensor.cosmic_ray_hits) / 1.5 / 4096
        dark_e = FvbSensor.dark_e_per_pixel_s(temperature_c) * 255 * 0.5
        assert counts - cosmic_counts == pytest.approx(500.0 + dark_e / 1.5, abs=0.2 + 0.01 * dark_e / 1.5)


def test_readouts_do_not_share_their_results():
    sensor = FvbSensor(np.random.default_rng(6), 64, 10, 1.0, 100.0)
    photons, wl = np.full(64, 50.0), np.linspace(600.0, 700.0, 64)
    first = sensor.read(photons, wl, 0.1, -70.0, 2.0)
    kept = first.copy()
    second = sensor.read(photons, wl, 0.1, -70.0, 2.0)
    assert first is not second and np.array_equal(first, kept) and not np.array_equal(first, second)


def test_ccd_truth_follows_cosmic_rays_and_readout_speed(rig):
    world, _, cam, ccd, _ = rig
    cam.sensor.cosmic_ray_hits = []
    truths = []
    for exposure_s in (0.01, 200.0, 0.01):  # a long exposure catches cosmic rays; the next starts without
        ccd.acquire_single(exposure_s)
        truths.append(world.ground_truth()["ccd"]["cosmic_ray_hits"])
        assert truths[-1] == cam.sensor.cosmic_ray_hits
    assert truths[0] == [] and len(truths[1]) >= 1 and truths[2] == []
    for speed_mhz in ccd.hs_speeds_mhz:
        ccd.set_hs_speed_mhz(speed_mhz)
        assert world.ground_truth()["ccd"]["hs_speed_mhz"] == pytest.approx(speed_mhz, rel=1e-6)


def test_data_copied_out_as_acquired_or_clipped_to_the_array_type(rig):
    _, _, cam, ccd, _ = rig
    cam.cooler.temperature_c = 20.0  # warm chip, long exposures: accumulated counts above 65535
    cam.SetAcquisitionMode(2)
    cam.SetNumberAccumulations(3)
    cam.SetExposureTime(ctypes.c_float(30.0))
    assert cam.StartAcquisition() == OK
    while cam.WaitForAcquisition() == OK:
        pass
    truth = cam._acq.data[0]
    assert truth.max() > SATURATION_COUNTS
    wide, narrow = (ctypes.c_int32 * 1024)(), (ctypes.c_uint16 * 1024)()
    assert cam.GetAcquiredData(wide, 1024) == OK and cam.GetAcquiredData16(narrow, 1024) == OK
    np.testing.assert_array_equal(np.frombuffer(wide, np.int32), truth)
    np.testing.assert_array_equal(np.frombuffer(narrow, np.uint16), np.minimum(truth, 65535))
    single = ccd.acquire_single(0.1)
    assert single.dtype == np.int32 and 400 < single.min() and single.max() <= SATURATION_COUNTS


def test_malformed_calls_still_get_the_library_codes(rig):
    _, _, cam, ccd, _ = rig
    ccd.acquire_single(0.01)
    status, wide, number = ctypes.c_int(), ctypes.c_int64(), ctypes.c_int()
    assert cam.GetStatus(ctypes.byref(status)) == OK and status.value == 20073
    assert cam.GetStatus(5) == 20066  # a number where an output belongs
    assert cam.GetStatus(ctypes.pointer(status)) == OK  # a pointer does as well as byref
    assert cam.GetAcquisitionProgress(ctypes.byref(number), ctypes.byref(wide)) == 20067
    assert cam.GetAcquiredData((ctypes.c_int32 * 1024)(), 1023) == 20067
    assert cam.GetAcquiredData((ctypes.c_uint16 * 1024)(), 1024) == 20066
    assert cam.GetAcquiredData16((ctypes.c_int32 * 1024)(), 1024) == 20066


def test_clock_advance_and_now():
    clock = Clock()
    assert clock.advance_and_now(0.25) == 0.25 and clock.now() == 0.25
    assert clock.advance_and_now(-1.0) == 0.25 and clock.advance_and_now(0.0) == 0.25
    wall = Clock(real_time=True)
    assert wall.advance_and_now(0.01) >= 0.01
