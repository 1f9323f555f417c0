"""Andor SDK2 and Kymera against the vendors' behaviour (issue 11): the configuration directory Initialize
needs, the shutter capability bits and minimum times, ``at_32`` as a 32-bit int, an acquisition wait whose
budget counts every wait, and the Kymera's input slit, exit port and filter wheel.

The truth is the SDK headers (atmcdLXd.h, ShamrockCIF.h as pyLabLib reproduces them) and the simulators'
own state and ground truth."""

from __future__ import annotations

import ctypes
import os
import time

import numpy as np
import pytest

from tepl.config import ConfigError, parse_config
from tepl.drivers.andor_sdk2 import IDus
from tepl.drivers.andor_sdk2_header import SDK2_SIGNATURES
from tepl.drivers.andor_shamrock import Kymera
from tepl.roles import DeviceError
from tepl.sims.andor_sdk2 import SimSDK2
from tepl.sims.andor_shamrock import SimShamrock
from tepl.sims.world import World
from tests.standins import BandSample
from tests.test_andor import idus_lib

posix_only = pytest.mark.skipif(os.name == "nt", reason="the Linux SDK's configuration directory")


def rig(seed: int = 7, **ccd):
    world = World(sample=BandSample(), seed=seed)
    shamrock = SimShamrock(world)
    return world, shamrock, SimSDK2(world, shamrock, **ccd)


# ---------------------------------------------------------------------------------------- Initialize
@posix_only
def test_initialize_gets_the_configuration_directory():
    world, _, cam = rig()
    ccd = IDus(cam, sleep=world.clock.advance)  # default: /usr/local/etc/andor on Linux
    assert cam.initialize_dir == "/usr/local/etc/andor" and ccd.settings()["config_dir"] == "/usr/local/etc/andor"
    world, _, cam = rig(config_dir="/opt/andor/etc")
    with pytest.raises(DeviceError, match=r"Initialize returned 20070 \(DRV_INIERROR\).*'/usr/local/etc/andor'"
                                          r".*config_dir"):
        IDus(cam, sleep=world.clock.advance)
    assert IDus(cam, sleep=world.clock.advance, config_dir="/opt/andor/etc/").config_dir == "/opt/andor/etc/"


def test_windows_dll_finds_its_files_with_an_empty_directory():
    world, _, cam = rig(platform="windows", config_dir="C:/Program Files/Andor SDK")
    assert IDus(cam, sleep=world.clock.advance, config_dir="").settings()["config_dir"] == ""


# ---------------------------------------------------------------------------------------- shutter
def test_a_camera_without_a_shutter_is_never_sent_setshutter():
    world, shamrock, cam = rig(shutter=False)
    sent = []
    original = cam.SetShutter
    cam.SetShutter = lambda *args: sent.append(args) or original(*args)
    ccd = IDus(cam, sleep=world.clock.advance)  # the old driver sent SetShutter here: DRV_NOT_SUPPORTED
    assert not ccd.has_shutter and ccd.settings()["shutter_mode"] is None
    with pytest.raises(DeviceError, match="has no shutter.*AC_FEATURES_SHUTTER"):
        ccd.set_shutter("closed")
    assert sent == [] and cam.SetShutter(1, 2, 0, 0) == 20991  # the SDK's answer: DRV_NOT_SUPPORTED
    Kymera(shamrock).set_center_wavelength_nm(700.0)
    world.shutter_open = True
    light = ccd.acquire_single(0.5).astype(float)  # nothing in the camera blocks the light
    assert np.median(light) - world.ground_truth()["ccd"]["baseline_counts"] > 50


def test_shutter_times_are_at_least_the_camera_minimum():
    world, _, cam = rig(shutter_min_times_ms=(27, 41))
    ccd = IDus(cam, sleep=world.clock.advance)  # the old driver sent 0 ms: refused (P3 invalid)
    assert ccd.settings()["shutter_times_ms"] == {"closing": 27, "opening": 41}
    assert ccd.settings()["shutter_min_times_ms"] == {"closing": 27, "opening": 41}
    with pytest.raises(ValueError, match="closing time 5 ms.*minimum 27 ms"):
        ccd.set_shutter("closed", closing_ms=5)
    ccd.set_shutter("closed", closing_ms=50)
    assert cam._shutter_mode == 2 and ccd.settings()["shutter_times_ms"] == {"closing": 50, "opening": 41}


# ---------------------------------------------------------------------------------------- at_32
def test_at_32_arguments_are_32_bit():
    """atmcdLXd.h: at_32 is int and at_u32 unsigned int under _LP64 (C long is 64-bit there)."""
    for name, position in (("GetAcquisitionProgress", 0), ("GetAcquisitionProgress", 1), ("GetAcquiredData", 0),
                           ("GetMostRecentImage", 0)):
        assert ctypes.sizeof(SDK2_SIGNATURES[name][position]._type_) == 4, (name, position)
    for name in ("GetAcquiredData", "GetAcquiredData16", "GetMostRecentImage"):
        assert ctypes.sizeof(SDK2_SIGNATURES[name][1]) == 4 and SDK2_SIGNATURES[name][1](-1).value > 0, name
    world, _, cam = rig()
    ccd = IDus(cam, sleep=world.clock.advance)
    wide = ctypes.c_int64()
    assert cam.GetAcquisitionProgress(ctypes.byref(wide), ctypes.byref(wide)) == 20066  # an 8-byte output
    assert ccd.acquire_kinetic(0.01, 3).shape == (3, 1024)


# ---------------------------------------------------------------------------------------- the wait's budget
def test_successful_waits_count_against_the_budget():
    """A camera that keeps reporting scans (DRV_SUCCESS) but never becomes idle."""
    lib = idus_lib(outputs={"GetStatus": (20072,), "GetAcquisitionProgress": (0, 0),
                            "GetAcquisitionTimings": (0.5, 0.535, 0.535)},
                   returns={"GetTemperatureF": 20034, "WaitForAcquisitionTimeOut": 20002,
                            "GetAcquiredData": 20072})  # DRV_ACQUIRING: the data never comes either
    ccd = IDus(lib, timeout_margin_s=2.0)
    start = time.monotonic()
    with pytest.raises(DeviceError, match=r"Andor DU420_OE #4242 \(RecordingLib\): waited for the end of a "
                                          r"1-frame acquisition \(0.5 s exposure.*time budget") as info:
        ccd.acquire_single(0.5)
    assert time.monotonic() - start < 1.0  # not the 2.5 s wall-clock deadline
    assert info.value.waited_s == pytest.approx(2.535, abs=0.54)
    assert lib.names().count("WaitForAcquisitionTimeOut") == 5  # 2.535 s budget / 0.535 s a scan
    assert lib.names()[-1] == "AbortAcquisition"


# ---------------------------------------------------------------------------------------- Kymera
@pytest.fixture
def kymera_rig():
    world = World(sample=BandSample(), seed=5)
    shamrock = SimShamrock(world, ccd_port="side", exit_port_at_power_on="direct")
    cam = SimSDK2(world, shamrock)
    ccd, ky = IDus(cam, sleep=world.clock.advance), Kymera(shamrock)
    cam.cooler.temperature_c = -70.0
    ccd.set_temperature_c(-70)
    ccd.cooler_on()
    ky.set_center_wavelength_nm(700.0)
    world.shutter_open = True
    return world, shamrock, ccd, ky


def test_the_exit_port_decides_whether_the_ccd_sees_light(kymera_rig):
    world, shamrock, ccd, ky = kymera_rig
    assert ky.exit_port() == "direct"  # power-on: the flipper sends the light away from the CCD
    dark = ccd.acquire_single(1.0).astype(float) - world.ground_truth()["ccd"]["baseline_counts"]
    assert abs(dark.mean()) < 2.0
    ky.set_exit_port("side")
    assert shamrock._exit_port == 1 and world.ground_truth()["spectrograph"]["exit_port"] == "side"
    light = ccd.acquire_single(1.0).astype(float) - world.ground_truth()["ccd"]["baseline_counts"]
    assert light.max() > 300
    with pytest.raises(ValueError, match="exit port 'front'"):
        ky.set_exit_port("front")


def _lamp_line(world, ccd, near_nm: float, wl: np.ndarray) -> tuple[float, float]:
    """(FWHM in pixels of the lamp line nearest ``near_nm``, counts of the whole spectrum)."""
    world.lamp_on = True
    counts = ccd.acquire_single(0.2).astype(float) - world.ground_truth()["ccd"]["baseline_counts"]
    world.lamp_on = False
    i = int(np.argmin(np.abs(wl - near_nm)))
    window = counts[i - 6:i + 7]
    peak = i - 6 + int(np.argmax(window))
    half = counts[peak] / 2.0
    left, right = peak, peak
    while counts[left - 1] >= half:
        left -= 1
    while counts[right + 1] >= half:
        right += 1
    # width at half maximum, interpolated on both flanks (pixels)
    fwhm = (right - left) + (counts[left] - half) / (counts[left] - counts[left - 1]) \
        + (counts[right] - half) / (counts[right] - counts[right + 1])
    return float(fwhm), float(counts.sum())


def test_the_slit_sets_throughput_and_resolution(kymera_rig):
    world, shamrock, ccd, ky = kymera_rig
    ky.set_exit_port("side")
    world.shutter_open, world.sample.rate = True, 0.0
    wl = np.array(world.ground_truth()["spectrograph"]["true_wavelength_nm"])
    widths, totals = {}, {}
    for slit_um in (10.0, 15.0, 100.0, 500.0):
        ky.set_slit_width_um(slit_um)
        assert ky.slit_width_um() == slit_um and shamrock._slit_width_um[2] == slit_um
        widths[slit_um], totals[slit_um] = _lamp_line(world, ccd, 763.5, wl)
    # resolution: 500 µm is ~19 pixels of 26 µm wide; the narrow slits are limited by optics and pixels
    assert widths[10.0] <= widths[15.0] <= 3 < widths[100.0] < widths[500.0]
    assert widths[500.0] == pytest.approx(500.0 / 26.0, abs=2.0)
    # throughput: the ~8 µm spot passes a 10 µm slit only in part, a wide one whole
    assert totals[10.0] / totals[100.0] == pytest.approx(0.859, abs=0.05)
    assert totals[500.0] / totals[100.0] == pytest.approx(1.0, abs=0.05)
    for bad in (5.0, 3000.0, float("nan")):
        with pytest.raises(ValueError, match="slit width .* outside the slit's range \\[10, 2500\\] µm"):
            ky.set_slit_width_um(bad)
    assert shamrock._slit_width_um[2] == 500.0
    with pytest.raises(DeviceError, match="no motorised input_side slit"):
        ky.set_slit_width_um(50.0, "side")


def test_the_filter_wheel(kymera_rig):
    world, shamrock, ccd, ky = kymera_rig
    ky.set_exit_port("side")
    band = slice(480, 540)
    base = world.ground_truth()["ccd"]["baseline_counts"]
    open_ = (ccd.acquire_single(1.0).astype(float) - base)[band].mean()
    ky.set_filter(3)
    assert ky.filter() == 3 and ky.filter_info() == "ND 1.0" and shamrock._filter == 3
    nd = (ccd.acquire_single(1.0).astype(float) - base)[band].mean()
    assert nd / open_ == pytest.approx(0.1, abs=0.02)
    with pytest.raises(ValueError, match="filter position 7"):
        ky.set_filter(7)


def test_config_refuses_a_slit_port_or_filter_the_kymera_has_not():
    text = open("config/sim.yaml").read()
    for old, new, words in (("slit_width_um: 15", "slit_width_um: 5", "slit_width_um"),
                            ("slit_width_um: 15", "slit_width_um: 3000", "slit_width_um"),
                            ("exit_port: side", "exit_port: front", "exit_port"),
                            ("filter: 1 ", "filter: 9 ", "filter")):
        assert old in text
        with pytest.raises(ConfigError, match=words):
            parse_config(text.replace(old, new))
