"""Andor iDus (SDK2) + Kymera (ShamrockCIF): drivers against a recording library, simulators against truth."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from tepl.drivers.andor_sdk2 import IDus, default_config_dir, load_sdk2
from tepl.drivers.andor_sdk2_header import AC_FEATURES_SHUTTER, SDK2_SIGNATURES
from tepl.drivers.andor_shamrock import SHAMROCK_SIGNATURES, Kymera, load_shamrock
from tepl.roles import DeviceError
from tepl.sims.andor import FvbSensor, quantum_efficiency
from tepl.sims.andor_sdk2 import SimSDK2
from tepl.sims.andor_shamrock import SimShamrock
from tepl.sims.world import ARHG_LINES_NM, World
from tests.standins import BandSample

OK, SHAM_OK = 20002, 20202
NOT_REACHED, NOT_STABILIZED, STABILIZED, TEMP_OFF, DRIFT = 20037, 20035, 20036, 20034, 20040


# ====================================================================== drivers on a recording library
def _plain(arg):
    if isinstance(arg, ctypes.Array):
        return f"buf[{len(arg)}]"
    if hasattr(arg, "_obj"):
        return "out"
    return arg.value if isinstance(arg, (ctypes.c_float, ctypes.c_int)) else arg


class RecordingLib:
    """Records every call; answers from ``returns`` / ``outputs`` / ``texts`` (a list is consumed in order)."""

    def __init__(self, success, returns=None, outputs=None, texts=None, arrays=None, structs=None):
        self.success, self.calls = success, []
        self.structs = dict(structs or {})
        self.returns, self.outputs = dict(returns or {}), dict(outputs or {})
        self.texts, self.arrays = dict(texts or {}), dict(arrays or {})

    @staticmethod
    def _next(table, name, default):
        value = table.get(name, default)
        return (value.pop(0) if len(value) > 1 else value[0]) if isinstance(value, list) else value

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args):
            self.calls.append((name, tuple(_plain(a) for a in args)))
            outs = iter(self._next(self.outputs, name, ()))
            for a in args:
                if hasattr(a, "_obj") and isinstance(a._obj, ctypes.Structure):
                    for field, value in self.structs.get(name, {}).items():
                        setattr(a._obj, field, value)
                elif hasattr(a, "_obj"):
                    a._obj.value = next(outs)
                elif isinstance(a, ctypes.Array) and a._type_ is ctypes.c_char:
                    a.value = self.texts[name].encode()
                elif isinstance(a, ctypes.Array):
                    a[:] = list(self.arrays[name][: len(a)])
            return self._next(self.returns, name, self.success)

        return call

    def names(self):
        return [name for name, _ in self.calls]


def idus_lib(**kw):
    outputs = {"GetCameraSerialNumber": (4242,), "GetDetector": (1024, 255), "GetPixelSize": (26.0, 26.0),
               "GetTemperatureRange": (-100, 20), "GetNumberHSSpeeds": (3,), "GetHSSpeed": [(0.1,), (0.05,), (0.033,)],
               "GetTemperatureF": (19.5,), "GetStatus": (20073,), "GetAcquisitionTimings": (0.5, 0.535, 0.535)}
    outputs.update(kw.pop("outputs", {}))
    outputs.setdefault("GetShutterMinTimes", (25, 30))
    return RecordingLib(OK, outputs=outputs, texts={"GetHeadModel": "DU420_OE"}, returns=kw.pop("returns", {
        "GetTemperatureF": 20034}), arrays={"GetAcquiredData": np.arange(4096)},
        structs={"GetCapabilities": {"ulFeatures": kw.pop("features", AC_FEATURES_SHUTTER)}})


def test_idus_opens_with_the_sdk_call_sequence():
    ccd = IDus(lib := idus_lib())
    assert lib.calls == [
        ("Initialize", (default_config_dir().encode(),)), ("GetCameraSerialNumber", ("out",)),
        ("GetHeadModel", ("buf[256]",)), ("GetCapabilities", ("out",)), ("GetShutterMinTimes", ("out", "out")),
        ("GetDetector", ("out", "out")), ("GetPixelSize", ("out", "out")), ("GetTemperatureRange", ("out", "out")),
        ("GetNumberHSSpeeds", (0, 0, "out")), ("GetHSSpeed", (0, 0, 0, "out")), ("GetHSSpeed", (0, 0, 1, "out")),
        ("GetHSSpeed", (0, 0, 2, "out")), ("SetReadMode", (0,)), ("SetTriggerMode", (0,)),
        ("SetAcquisitionMode", (1,)), ("SetHSSpeed", (0, 2)), ("SetShutter", (1, 0, 25, 30)),
        ("GetTemperatureF", ("out",)),
    ]
    assert (ccd.serial_number, ccd.head_model, ccd.detector_pixels) == (4242, "DU420_OE", (1024, 255))
    assert ccd.hs_speed_mhz == pytest.approx(0.033) and ccd.temperature_c() == (19.5, "off")


def test_idus_single_accumulate_and_kinetic_calls():
    ccd = IDus(lib := idus_lib())
    del lib.calls[:]
    spectrum = ccd.acquire_single(0.5)
    assert lib.calls == [("SetExposureTime", (0.5,)),  # single-scan mode is in force since Initialize
                         ("GetAcquisitionTimings", ("out", "out", "out")), ("StartAcquisition", ()),
                         ("WaitForAcquisitionTimeOut", (1000,)),  # within the exposure: no status asked first
                         ("GetAcquiredData", ("buf[1024]", 1024))]  # its one scan reported: the data
    np.testing.assert_array_equal(spectrum, np.arange(1024))
    del lib.calls[:]
    ccd.acquire_accumulate(0.25, 5)
    assert lib.calls[:4] == [("SetAcquisitionMode", (2,)), ("SetExposureTime", (0.25,)),
                             ("SetNumberAccumulations", (5,)), ("SetAccumulationCycleTime", (0.0,))]
    del lib.calls[:]
    series = ccd.acquire_kinetic(0.1, 3, cycle_s=2.0)
    assert lib.calls[2:6] == [("SetNumberAccumulations", (1,)), ("SetAccumulationCycleTime", (0.0,)),
                              ("SetNumberKinetics", (3,)), ("SetKineticCycleTime", (2.0,))]
    assert lib.calls[-1] == ("GetAcquiredData", ("buf[3072]", 3072))
    np.testing.assert_array_equal(series, np.arange(3072).reshape(3, 1024))


def test_idus_asks_the_status_first_once_an_exposure_could_be_over():
    """A camera that reports a zero exposure may be idle at once: GetStatus comes before any wait."""
    ccd = IDus(lib := idus_lib(outputs={"GetAcquisitionTimings": (0.0, 0.035, 0.035)}))
    del lib.calls[:]
    ccd.acquire_single(0.0)
    assert lib.names()[2:] == ["StartAcquisition", "GetStatus", "GetAcquiredData"]


def test_idus_waits_for_a_readout_still_running_after_the_last_scan_event():
    """GetAcquiredData answering DRV_ACQUIRING (the readout is finishing): the driver waits for GetStatus idle and
    asks again, without another scan event."""
    ccd = IDus(lib := idus_lib(outputs={"GetStatus": [(20072,), (20073,)], "GetAcquisitionProgress": (0, 1)},
                               returns={"GetTemperatureF": 20034, "GetAcquiredData": [20072, OK]}))
    del lib.calls[:]
    spectrum = ccd.acquire_single(0.5)
    assert lib.names()[2:] == ["StartAcquisition", "WaitForAcquisitionTimeOut", "GetAcquiredData", "GetStatus",
                               "GetAcquisitionProgress", "GetStatus", "GetAcquiredData"]
    np.testing.assert_array_equal(spectrum, np.arange(1024))


def test_idus_waits_on_scan_events_and_aborts_when_late():
    lib = idus_lib(outputs={"GetStatus": (20072,), "GetAcquisitionProgress": (0, 0)},
                   returns={"GetTemperatureF": 20034, "WaitForAcquisitionTimeOut": 20024})
    ccd = IDus(lib, timeout_margin_s=2.0)
    with pytest.raises(DeviceError, match="did not finish"):
        ccd.acquire_single(0.5)
    assert lib.names().count("WaitForAcquisitionTimeOut") == 3
    assert ("WaitForAcquisitionTimeOut", (1000,)) in lib.calls and lib.names()[-1] == "AbortAcquisition"


def test_idus_errors_name_function_and_code():
    lib = idus_lib(returns={"GetTemperatureF": 20034, "SetTemperature": 20066, "StartAcquisition": 20075})
    ccd = IDus(lib)
    with pytest.raises(DeviceError, match=r"SetTemperature returned 20066 \(DRV_P1INVALID\)"):
        ccd.set_temperature_c(-70)
    with pytest.raises(DeviceError, match="StartAcquisition.*DRV_NOT_INITIALIZED"):
        ccd.acquire_single(0.1)
    with pytest.raises(ValueError, match="setpoint"):
        ccd.set_temperature_c(-150)
    assert ("SetTemperature", (-150,)) not in lib.calls
    with pytest.raises(ValueError, match="exposure"):
        ccd.acquire_single(-1.0)


def test_idus_temperature_status_words_and_acquiring():
    lib = idus_lib(outputs={"GetTemperatureF": [(19.5,), (-12.5,), (-12.5,), (-70.0,)]},
                   returns={"GetTemperatureF": [20034, 20037, 20072, 20036]})
    ccd = IDus(lib)
    assert ccd.temperature_c() == (-12.5, "not_reached")
    assert ccd.temperature_c() == (-12.5, "not_reached")  # DRV_ACQUIRING: last reading
    assert ccd.temperature_c() == (-70.0, "stabilized")


def kymera_lib(**returns):
    return RecordingLib(SHAM_OK, returns=returns, texts={"ShamrockGetSerialNumber": "KY-0001",
                                                         "ShamrockGetGratingInfo": "800nm"},
                        outputs={"ShamrockGetNumberDevices": (1,), "ShamrockEepromGetOpticalParams": (0.328, 14.0, 0.0),
                                 "ShamrockShutterIsPresent": (1,), "ShamrockGetGrating": (1,),
                                 "ShamrockGetNumberGratings": (3,), "ShamrockGetWavelengthLimits": (0.0, 7590.0),
                                 "ShamrockGetShutter": (1,), "ShamrockGetGratingInfo": (150.0, 41000, 0),
                                 "ShamrockAutoSlitIsPresent": [(0,), (1,), (0,), (0,)],
                                 "ShamrockFlipperMirrorIsPresent": (1,), "ShamrockFilterIsPresent": (1,)},
                        arrays={"ShamrockGetCalibration": np.linspace(430.0, 970.0, 1024)})


def test_kymera_calls():
    ky = Kymera(lib := kymera_lib())
    assert lib.calls == [
        ("ShamrockInitialize", (b"",)), ("ShamrockGetNumberDevices", ("out",)),
        ("ShamrockGetSerialNumber", (0, "buf[64]")), ("ShamrockEepromGetOpticalParams", (0, "out", "out", "out")),
        ("ShamrockShutterIsPresent", (0, "out")), ("ShamrockAutoSlitIsPresent", (0, 1, "out")),
        ("ShamrockAutoSlitIsPresent", (0, 2, "out")), ("ShamrockAutoSlitIsPresent", (0, 3, "out")),
        ("ShamrockAutoSlitIsPresent", (0, 4, "out")), ("ShamrockFlipperMirrorIsPresent", (0, 2, "out")),
        ("ShamrockFilterIsPresent", (0, "out")), ("ShamrockSetPixelWidth", (0, 26.0)),
        ("ShamrockSetNumberPixels", (0, 1024)),
    ]
    assert ky.serial_number == "KY-0001" and ky.focal_length_m == pytest.approx(0.328)
    assert ky.slits_present == ["input_direct"] and ky.exit_flipper_present and ky.filter_present
    del lib.calls[:]
    ky.set_center_wavelength_nm(700.0)
    ky.open_shutter()
    assert lib.calls == [("ShamrockGetGrating", (0, "out")), ("ShamrockGetWavelengthLimits", (0, 1, "out", "out")),
                         ("ShamrockSetWavelength", (0, 700.0)), ("ShamrockSetShutter", (0, 1))]
    assert ky.grating_info()["blaze_nm"] == 800.0 and ky.shutter_is_open()
    np.testing.assert_allclose(ky.calibration_nm(), np.linspace(430.0, 970.0, 1024), atol=1e-4)
    with pytest.raises(ValueError, match="outside"):
        ky.set_center_wavelength_nm(9000.0)
    with pytest.raises(ValueError, match="grating 4"):
        ky.set_grating(4)


def test_kymera_errors_name_function_and_code():
    ky = Kymera(kymera_lib(ShamrockSetWavelength=20267))
    with pytest.raises(DeviceError, match=r"ShamrockSetWavelength returned 20267 \(SHAMROCK_P2INVALID\)"):
        ky.set_center_wavelength_nm(700.0)
    with pytest.raises(DeviceError, match="SHAMROCK_NOT_INITIALIZED"):
        Kymera(kymera_lib(ShamrockGetNumberDevices=20275))


def test_loaders_report_a_missing_library():
    with pytest.raises(DeviceError, match="nonexistent/libandor.so"):
        load_sdk2("/nonexistent/libandor.so")
    with pytest.raises(DeviceError, match="Shamrock"):
        load_shamrock("/nonexistent/libshamrockcif.so")


# ====================================================================== simulators
@pytest.fixture
def rig():
    world = World(sample=BandSample(), seed=7)
    shamrock = SimShamrock(world)
    return world, shamrock, SimSDK2(world, shamrock)


def _ready(rig, cooled=True, center_nm=700.0):
    world, shamrock, cam = rig
    ccd = IDus(cam, sleep=world.clock.advance)
    ky = Kymera(shamrock)
    ky.set_center_wavelength_nm(center_nm)
    if cooled:
        cam.cooler.temperature_c = -70.0
        ccd.set_temperature_c(-70)
        ccd.cooler_on()
    return ccd, ky


def test_drivers_use_only_declared_functions_and_sims_provide_them(rig):
    world, shamrock, cam = rig
    assert all(callable(getattr(cam, name)) for name in SDK2_SIGNATURES)
    assert all(callable(getattr(shamrock, name)) for name in SHAMROCK_SIGNATURES)
    used = []

    class Spy:
        def __init__(self, target):
            self.target = target

        def __getattr__(self, name):
            used.append(name)
            return getattr(self.target, name)

    ccd, ky = IDus(Spy(cam), sleep=world.clock.advance), Kymera(Spy(shamrock))
    ccd.acquire_kinetic(0.1, 2, 0.5)
    ccd.acquire_accumulate(0.1, 2)
    ky.set_grating(2)
    ky.calibration_nm()
    ccd.settings(), ky.settings(), ccd.shutdown(), ky.close()
    assert set(used) <= set(SDK2_SIGNATURES) | set(SHAMROCK_SIGNATURES)


def test_calls_before_initialize_and_twice(rig):
    world, shamrock, cam = rig
    n = ctypes.c_int()
    assert cam.GetDetector(ctypes.byref(n), ctypes.byref(n)) == 20075
    assert cam.SetExposureTime(ctypes.c_float(0.1)) == 20075 and cam.StartAcquisition() == 20075
    assert shamrock.ShamrockGetGrating(0, ctypes.byref(n)) == 20275
    t0 = world.clock.now()
    assert cam.Initialize(b"") == 20070  # DRV_INIERROR: a Linux install needs its configuration directory
    assert cam.Initialize(b"/usr/local/etc/andor") == OK and cam.Initialize(b"/usr/local/etc/andor") == 20992
    assert world.clock.now() > t0
    assert cam.SetReadMode(9) == 20066 and cam.SetShutter(1, 5, 0, 0) == 20067
    assert cam.GetDetector(None, ctypes.byref(n)) == 20066
    assert cam.ShutDown() == OK and cam.GetStatus(ctypes.byref(n)) == 20075
    assert shamrock.ShamrockInitialize(b"") == SHAM_OK
    assert shamrock.ShamrockSetGrating(0, 4) == 20267 and shamrock.ShamrockSetGrating(1, 1) == 20266
    assert shamrock.ShamrockSetWavelength(0, ctypes.c_float(-5.0)) == 20267


def test_cooling_timeline_in_simulated_minutes(rig):
    world, _, cam = rig
    cam.Initialize(b"/usr/local/etc/andor")
    t = ctypes.c_float()
    assert cam.GetTemperatureF(ctypes.byref(t)) == TEMP_OFF and t.value == pytest.approx(20.0)
    cam.SetTemperature(-70)
    cam.CoolerON()
    start, seen, temps, arrived = world.clock.now(), [], [], None
    while world.clock.now() - start < 15 * 60:
        status = cam.GetTemperatureF(ctypes.byref(t))
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == NOT_STABILIZED and arrived is None:
            arrived = world.clock.now() - start
        temps.append(t.value)
        world.clock.advance(10.0)
    assert seen == [NOT_REACHED, NOT_STABILIZED, STABILIZED]
    assert 8 * 60 <= arrived <= 10 * 60 and np.all(np.diff(temps) <= 0) and temps[-1] == pytest.approx(-70.0)
    cam.cooler.disturb(+4.0, world.clock.now())
    assert cam.GetTemperatureF(ctypes.byref(t)) == DRIFT
    cam.CoolerOFF()
    world.clock.advance(120.0)
    assert cam.GetTemperatureF(ctypes.byref(t)) == TEMP_OFF and -60.0 < t.value < 0.0


def test_lamp_lines_at_true_wavelengths_and_nominal_calibration_offset(rig):
    world = rig[0]
    ccd, ky = _ready(rig)
    world.lamp_on = world.shutter_open = True
    counts = ccd.acquire_single(0.5).astype(float)
    truth = world.ground_truth()
    true_wl = np.array(truth["spectrograph"]["true_wavelength_nm"])
    signal = counts - truth["ccd"]["baseline_counts"]
    peaks = [i for i in range(1, 1023) if signal[i] > 500 and signal[i] >= signal[i - 1] and signal[i] >= signal[i + 1]]
    assert len(peaks) >= 8
    for i in peaks:  # sub-pixel centroid at the true wavelengths
        centroid = np.sum(true_wl[i - 2:i + 3] * signal[i - 2:i + 3]) / np.sum(signal[i - 2:i + 3])
        assert np.min(np.abs(ARHG_LINES_NM - centroid)) < 0.25
    # the lamp's lines rendered 1.4 px wide, through the 10 µm slit the Kymera starts with
    rendered = world.spectrum_photons(true_wl, 0.5, resolution_fwhm_nm=1.4 * np.mean(np.diff(true_wl)))
    expected_e = quantum_efficiency(true_wl) * rendered * truth["spectrograph"]["slit_throughput"]
    assert truth["spectrograph"]["slit_throughput"] == pytest.approx(0.859, abs=0.001)
    assert signal.sum() == pytest.approx(expected_e.sum() / truth["ccd"]["gain_e_per_count"], rel=0.03)
    difference = np.abs(ky.calibration_nm() - true_wl)
    assert 0.2 <= difference.max() <= 1.5
    assert 0.50 < np.mean(np.diff(ky.calibration_nm())) < 0.54  # 150 l/mm at f = 328 mm, 26 µm pixels
    ky.set_grating(2)
    assert 0.10 < np.mean(np.diff(ky.calibration_nm())) < 0.14
    assert world.ground_truth()["spectrograph"]["lines_per_mm"] == 600.0


def test_dark_baseline_read_noise_and_dark_current_against_truth(rig):
    world, cam = rig[0], rig[2]
    ccd, _ = _ready(rig, cooled=False)
    ccd.set_shutter("closed")
    warm = ccd.acquire_single(1.0).astype(float)
    truth = world.ground_truth()["ccd"]
    dark_counts = FvbSensor.dark_e_per_pixel_s(20.0) * 255 / truth["gain_e_per_count"]
    assert np.median(warm) - truth["baseline_counts"] == pytest.approx(dark_counts, rel=0.05)
    cam.cooler.temperature_c = -70.0
    ccd.set_temperature_c(-70)
    ccd.cooler_on()
    for speed, noise in ((0.033, 4.0), (0.1, 7.0)):
        ccd.set_hs_speed_mhz(speed)
        frames = ccd.acquire_kinetic(0.01, 40).astype(float)
        truth = world.ground_truth()["ccd"]
        assert truth["read_noise_e"] == noise
        assert frames.mean() == pytest.approx(truth["baseline_counts"], abs=0.3)
        assert np.median(frames.std(axis=0)) == pytest.approx(noise / truth["gain_e_per_count"], rel=0.1)


def test_saturation_accumulation_and_kinetic_timing(rig):
    world, _, _ = rig
    ccd, _ = _ready(rig)
    world.lamp_on = world.shutter_open = True
    single = ccd.acquire_single(0.2).astype(float)
    summed = ccd.acquire_accumulate(0.2, 4).astype(float)
    assert summed.sum() == pytest.approx(4 * single.sum(), rel=0.01)
    assert ccd.acquire_single(60.0).max() == 65535
    assert ccd.acquire_accumulate(60.0, 2).max() == 2 * 65535
    world.lamp_on, t0 = False, world.clock.now()
    series = ccd.acquire_kinetic(0.5, 3, cycle_s=2.0)
    exposure, accumulate, kinetic = ccd.acquisition_timings_s()
    assert series.shape == (3, 1024) and kinetic == pytest.approx(2.0) and accumulate > exposure
    assert 4.5 < world.clock.now() - t0 < 6.6


def test_kinetic_frames_see_the_world_at_their_own_time():
    world = World(sample=BandSample(rate_per_px_s=5e3, off_after_s=0.0), seed=3)
    shamrock = SimShamrock(world)
    ccd, _ = _ready((world, shamrock, SimSDK2(world, shamrock)))
    world.shutter_open = True
    world.sample.off_after_s = world.clock.now() + 2.5
    series = ccd.acquire_kinetic(1.0, 5, cycle_s=1.0)
    band = series[:, 500:530].mean(axis=1) - world.ground_truth()["ccd"]["baseline_counts"]
    assert np.all(band[:2] > 1000) and np.all(band[3:] < 20)


def test_acquired_data_checks_and_status_polling(rig):
    world, cam, _ = rig[0], rig[2], _ready(rig)
    data, status = (ctypes.c_int32 * 1024)(), ctypes.c_int()
    assert cam.GetAcquiredData(data, 1024) == 20024  # nothing acquired yet
    cam.SetExposureTime(ctypes.c_float(1.0))
    assert cam.StartAcquisition() == OK and cam.StartAcquisition() == 20072
    cam.GetStatus(ctypes.byref(status))
    assert status.value == 20072 and cam.GetAcquiredData(data, 1024) == 20072
    assert cam.GetTemperature(ctypes.byref(status)) == 20072 and cam.SetExposureTime(ctypes.c_float(2.0)) == 20072
    world.clock.advance(1.1)
    cam.GetStatus(ctypes.byref(status))
    assert status.value == 20073
    assert cam.GetAcquiredData(data, 1000) == 20067
    assert cam.GetAcquiredData((ctypes.c_int16 * 1024)(), 1024) == 20066
    assert cam.GetAcquiredData(data, 1024) == OK and min(data) > 400
    recent = (ctypes.c_int32 * 1024)()
    assert cam.GetMostRecentImage(recent, 1024) == OK and list(recent) == list(data)
    assert cam.AbortAcquisition() == 20073


def test_cosmic_rays_are_rare_spikes(rig):
    world, (ccd, _) = rig[0], _ready(rig)
    frames = ccd.acquire_kinetic(60.0, 4)
    hits = world.ground_truth()["ccd"]["cosmic_ray_hits"]
    assert 2 <= len(hits) <= 40
    for exposure, column, _ in hits:
        assert frames[exposure, column] - np.median(frames[exposure]) > 50


def test_spectrograph_shutter_is_the_excitation_shutter(rig):
    world, shamrock, (_, ky) = rig[0], rig[1], _ready(rig)
    ky.open_shutter()
    assert world.shutter_open and ky.shutter_is_open()
    ky.close_shutter()
    assert not world.shutter_open and not ky.shutter_is_open()
    assert shamrock.ShamrockSetShutter(0, 2) == 20267
