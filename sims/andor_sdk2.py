"""Simulated Andor iDus 420 (DU420_OE) behind the SDK2 library interface (libandor.so / atmcd64d.dll).

``SimSDK2`` is a Python object with the SDK2 C function names, argument conventions (inputs by value as
Python numbers or ctypes objects, outputs through ``ctypes.byref(c_int()/c_float())``, char buffers and
ctypes arrays) and integer return codes, so the driver code is the same for the simulator and the rig.

Physics: the CCD is read in full vertical binning (FVB; other read modes answer DRV_NOT_SUPPORTED). Light
comes from ``world.spectrum_photons`` at the true wavelength of each pixel, which the attached spectrograph
simulator knows. Signal = Poisson(QE·photons + dark) + read noise, divided by the gain, on a baseline, rare
cosmic-ray spikes, 16-bit ADC. The thermoelectric cooler is integrated over ``world.clock`` time and
``GetTemperature`` returns the thermal status the way the SDK does. Acquisitions run on a schedule in
simulated time (see ``AcquisitionSchedule``).
"""

from __future__ import annotations

import ctypes
import math
import threading
import time
from typing import Any

import numpy as np

from tepl.sims.andor import SATURATION_COUNTS, AcquisitionSchedule, Busy, CoolerModel, FvbSensor, api_factory
from tepl.sims.c_args import ArgError, c_array, report_function, set_out, val
from tepl.sims.faults import Faults

DRV_SUCCESS = 20002
DRV_NO_NEW_DATA = 20024
DRV_P1INVALID, DRV_P2INVALID, DRV_P3INVALID, DRV_P4INVALID = 20066, 20067, 20068, 20069
DRV_ACQUIRING = 20072
DRV_IDLE = 20073
DRV_INIERROR = 20070
DRV_NOT_INITIALIZED = 20075
DRV_NOT_SUPPORTED = 20991
DRV_NOT_AVAILABLE = 20992
AC_FEATURES_POLLING, AC_FEATURES_EVENTS, AC_FEATURES_SHUTTER, AC_FEATURES_SHUTTEREX = 1, 2, 8, 16
AC_FEATURES_TEMPERATUREDURINGACQUISITION = 512
_P_INVALID = {1: DRV_P1INVALID, 2: DRV_P2INVALID, 3: DRV_P3INVALID, 4: DRV_P4INVALID}

WIRE_TIME_S = 0.2e-3  # USB round trip per library call
HS_SPEEDS_MHZ = (0.1, 0.05, 0.033)  # index 0 is the fastest, as the SDK lists them
READ_NOISE_E = (7.0, 5.0, 4.0)  # rms electrons at each horizontal speed
VERTICAL_SHIFT_S = 4.25e-6  # per row, FVB

_api = api_factory(DRV_NOT_INITIALIZED, _P_INVALID, WIRE_TIME_S, busy=DRV_ACQUIRING, before="_catch_up")


def check_width(ref: Any, n_bytes: int, position: int) -> None:
    """An output passed by reference must be a C object of ``n_bytes`` (the header's type); else ArgError."""
    obj = getattr(ref, "_obj", None)
    if obj is None and hasattr(ref, "contents"):
        obj = ref.contents
    if obj is None or ctypes.sizeof(obj) != n_bytes:
        raise ArgError(position)


def _reports(*values: Any):
    """An SDK2 function that only reports, through its output arguments (``c_args.report_function``)."""
    return report_function(_api(), values, success=DRV_SUCCESS, handle=False)


def _sets(attribute: str, kind: type, allowed: Any):
    """An SDK2 function that stores one setting: ``kind`` of the argument if ``allowed`` (else DRV_P1INVALID;
    DRV_ACQUIRING while acquiring), kept as ``attribute`` of the camera."""

    def set_value(self, value: Any) -> int:
        setattr(self, attribute, kind(self._setting(value, allowed)))
        return DRV_SUCCESS

    return _api()(set_value)


# the values the data array of each GetAcquiredData variant holds (int32, uint16)
_LIMITS = {dtype: (np.iinfo(dtype).min, np.iinfo(dtype).max) for dtype in (np.int32, np.uint16)}


class SimSDK2:
    """An iDus 420 on USB: 1024 × 255 pixels of 26 µm, TE cooled, one conventional amplifier.

    ``platform`` "linux" models the Linux SDK: ``Initialize`` must be given the directory its configuration
    files were installed in (``config_dir``, ``/usr/local/etc/andor``), anything else answers DRV_INIERROR
    (20070, "unable to load DETECTOR.INI"). "windows" models the DLL, which also finds its files with an empty
    string. ``shutter`` False is a camera without a shutter: GetCapabilities reports neither
    AC_FEATURES_SHUTTER nor AC_FEATURES_SHUTTEREX, and SetShutter / GetShutterMinTimes answer
    DRV_NOT_SUPPORTED; light then reaches the chip whatever was asked. ``shutter_min_times_ms`` are the
    (closing, opening) minima GetShutterMinTimes reports; SetShutter refuses shorter times (P3 / P4 invalid).
    """

    def __init__(self, world: Any, spectrograph: Any = None, serial: int = 14821, head_model: str = "DU420_OE",
                 n_x: int = 1024, n_y: int = 255, pixel_um: float = 26.0, gain_e_per_count: float = 1.5,
                 platform: str = "linux", config_dir: str = "/usr/local/etc/andor", shutter: bool = True,
                 shutter_min_times_ms: tuple[int, int] = (20, 20)):
        if platform not in ("linux", "windows"):
            raise ValueError(f"simulated SDK2 platform {platform!r} is not 'linux' or 'windows'")
        self.world = world
        self.spectrograph = spectrograph
        self.platform, self.config_dir = platform, config_dir.rstrip("/\\")
        self.shutter_fitted = bool(shutter)
        self.shutter_min_times_ms = (int(shutter_min_times_ms[0]), int(shutter_min_times_ms[1]))
        self.initialize_dir: str | None = None  # what the last successful Initialize was given
        self._lock = threading.RLock()
        self.faults = Faults()  # off; see _faulty_call
        self.serial, self.head_model = int(serial), head_model
        self.n_x, self.n_y, self.pixel_um = int(n_x), int(n_y), float(pixel_um)
        rng = world.rng("ccd")
        self.sensor = FvbSensor(rng, self.n_x, self.n_y, gain_e_per_count, float(rng.uniform(480.0, 540.0)))
        self.cooler = CoolerModel(world.clock.now())
        self._initialized = False
        self.shutdown_temperature_c: float | None = None  # sensor temperature at the last ShutDown
        self._acq: AcquisitionSchedule | None = None
        self._truth_kept: tuple[int, list] | None = None  # what the recorded "ccd" truth was made of
        self._reset_settings()

    def _reset_settings(self) -> None:
        self._acq_mode, self._exposure_s, self._n_acc, self._acc_cycle_s = 1, 0.01, 1, 0.0
        self._n_kin, self._kin_cycle_s, self._hs_index, self._shutter_mode = 1, 0.0, 0, 0

    # ------------------------------------------------------------------ model
    def _readout_s(self) -> float:
        return self.n_x / (HS_SPEEDS_MHZ[self._hs_index] * 1e6) + self.n_y * VERTICAL_SHIFT_S

    def _timings(self) -> tuple[float, float, float]:
        return AcquisitionSchedule.cycle_times(self._acq_mode, self._exposure_s, self._readout_s(), self._n_acc,
                                               self._acc_cycle_s, self._kin_cycle_s)

    def _record_truth(self) -> None:
        """The camera's hidden parameters as ground truth; again only when they changed since the last time
        (the readout speed, or the cosmic-ray hits of the present acquisition)."""
        hits = self.sensor.cosmic_ray_hits
        kept = self._truth_kept
        if kept is not None and kept[0] == self._hs_index and kept[1] == hits:
            return
        self._truth_kept = (self._hs_index, list(hits))
        self.world.record_truth("ccd", {
            "serial": self.serial, "head_model": self.head_model, "pixels": [self.n_x, self.n_y],
            "pixel_um": self.pixel_um, "read_noise_e": READ_NOISE_E[self._hs_index],
            "hs_speed_mhz": HS_SPEEDS_MHZ[self._hs_index], **self.sensor.truth(),
        })

    def _expose(self, exposure_s: float, start_s: float | None = None) -> np.ndarray:
        """Counts of one FVB readout after ``exposure_s`` of the light reaching the chip from ``start_s``
        (default now)."""
        photons = wl = None
        optics = self.spectrograph
        if optics is not None and (self._shutter_mode in (0, 1) or not self.shutter_fitted) \
                and optics.light_reaches_ccd():
            wl = optics.true_wavelengths_nm(self.n_x, self.pixel_um)
            # the width the lamp's lines are drawn at: only asked for while the lamp shines
            lamp = {"resolution_fwhm_nm": optics.lamp_render_fwhm_nm(wl)} if self.world.lamp_on else {}
            photons = self.world.spectrum_photons(wl, exposure_s, start_s=start_s, **lamp)
            photons = optics.pass_light(photons, wl, self.pixel_um)
        return self.sensor.read(photons, wl, exposure_s, self.cooler.temperature_c,
                                READ_NOISE_E[self._hs_index], self._acq.done if self._acq else 0)

    def _run_next_exposure(self, on_time: bool) -> None:
        """Read out the next scheduled exposure; ``on_time`` first moves the clock to its start."""
        acq = self._acq
        frame, start_s = acq.schedule[acq.done]
        clock = self.world.clock
        now = clock.now()
        if on_time and now < start_s:
            now = clock.advance_and_now(start_s - now)
        self.cooler.update(now)
        acq.add_readout(frame, self._expose(acq.exposure_s, start_s))  # the light of its own exposure time
        if on_time:
            now, end_s = clock.now(), start_s + acq.exposure_s + acq.readout_s
            if now < end_s:
                clock.advance(end_s - now)
        acq.done += 1
        self._record_truth()

    def _catch_up(self, now_s: float | None = None) -> None:
        """Bring the cooler and any running acquisition up to the present simulated time (``now_s``, s, when
        the caller has just read the clock)."""
        now = self.world.clock.now() if now_s is None else now_s
        self.cooler.update(now)
        acq = self._acq
        while acq is not None and acq.due(now):
            self._run_next_exposure(on_time=False)

    def _busy(self) -> bool:
        return self._acq is not None and self._acq.running

    def _faulty_call(self, fault: Faults, name: str, args: tuple) -> int | None:
        """What a fault does to one SDK2 call (``tepl.sims.faults``): ``interrupt`` raises KeyboardInterrupt,
        ``delay_s`` takes that much wall time, ``error_code`` is returned instead, ``stall`` hangs the
        acquisition: GetStatus stays DRV_ACQUIRING, no scan is ever complete, and WaitForAcquisitionTimeOut
        returns at once reporting a scan event that never shows. None: the call runs as usual."""
        fault.interrupt_now()
        if fault.delay_s is not None:
            time.sleep(min(fault.delay_s, 60.0))
        if fault.error_code is not None:
            return int(fault.error_code)
        if fault.stall and name == "GetStatus":
            set_out(args[0], DRV_ACQUIRING, 1)
            return DRV_SUCCESS
        if fault.stall and name == "GetAcquisitionProgress":
            set_out(args[0], 0, 1)
            set_out(args[1], 0, 2)
            return DRV_SUCCESS
        if fault.stall and name in ("WaitForAcquisitionTimeOut", "WaitForAcquisition"):
            return DRV_SUCCESS
        return None

    # ------------------------------------------------------------------ init and identity
    def _finds_config(self, ini_dir: Any) -> bool:
        raw = val(ini_dir)
        text = (raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw or "")).rstrip("/\\")
        return text == self.config_dir or (self.platform == "windows" and text == "")

    @_api(requires_init=False)
    def Initialize(self, ini_dir: Any = b"") -> int:
        """Load the configuration files from ``ini_dir`` (bytes) and the firmware; DRV_INIERROR when the
        directory does not hold them."""
        if self._initialized:
            return DRV_NOT_AVAILABLE
        if not self._finds_config(ini_dir):
            return DRV_INIERROR
        self.initialize_dir = val(ini_dir).decode() if isinstance(val(ini_dir), bytes) else str(val(ini_dir))
        self.world.clock.advance(2.0)  # firmware load
        self._initialized = True
        self._reset_settings()
        self._acq = None
        self._record_truth()
        return DRV_SUCCESS

    @_api()
    def ShutDown(self) -> int:
        if self._acq is not None and self._acq.running:
            self._acq.aborted = True
        self.cooler.update(self.world.clock.now())
        self.shutdown_temperature_c = self.cooler.temperature_c
        self.cooler.switch(False, self.world.clock.now())
        self._initialized = False
        return DRV_SUCCESS

    GetCameraSerialNumber = _reports(lambda c: c.serial)
    GetHeadModel = _reports(lambda c: c.head_model)
    GetDetector = _reports(lambda c: c.n_x, lambda c: c.n_y)  # pixels
    GetPixelSize = _reports(lambda c: c.pixel_um, lambda c: c.pixel_um)  # µm

    # ------------------------------------------------------------------ cooling
    GetTemperatureRange = _reports(lambda c: int(c.cooler.RANGE_C[0]), lambda c: int(c.cooler.RANGE_C[1]))  # °C

    @_api()
    def SetTemperature(self, temperature_c: Any) -> int:
        t = int(val(temperature_c))
        if not self.cooler.RANGE_C[0] <= t <= self.cooler.RANGE_C[1]:
            return DRV_P1INVALID
        self.cooler.set_setpoint(t, self.world.clock.now())
        return DRV_SUCCESS

    @_api()
    def CoolerON(self) -> int:
        self.cooler.switch(True, self.world.clock.now())
        return DRV_SUCCESS

    @_api()
    def CoolerOFF(self) -> int:
        self.cooler.switch(False, self.world.clock.now())
        return DRV_SUCCESS

    IsCoolerOn = _reports(lambda c: int(c.cooler.on))

    def _temperature(self, temperature_ref: Any, value: float) -> int:
        if self._busy():
            return DRV_ACQUIRING
        set_out(temperature_ref, value, 1)
        return self.cooler.status(self.world.clock.now())

    @_api()
    def GetTemperature(self, temperature_ref: Any) -> int:
        """Writes the sensor temperature (whole °C); the return value is the thermal status."""
        return self._temperature(temperature_ref, int(round(self.cooler.temperature_c)))

    @_api()
    def GetTemperatureF(self, temperature_ref: Any) -> int:
        """Writes the sensor temperature (°C, float); the return value is the thermal status."""
        return self._temperature(temperature_ref, self.cooler.temperature_c)

    # ------------------------------------------------------------------ modes and timing
    def _setting(self, value: Any, allowed: Any, position: int = 1) -> Any:
        if self._busy():
            raise Busy
        v = val(value)
        if not allowed(v):
            raise ArgError(position)
        return v

    @_api()
    def SetReadMode(self, mode: Any) -> int:
        """Only 0 (full vertical binning) is simulated."""
        return DRV_SUCCESS if int(self._setting(mode, lambda v: int(v) in range(5))) == 0 else DRV_NOT_SUPPORTED

    @_api()
    def SetAcquisitionMode(self, mode: Any) -> int:
        m = int(self._setting(mode, lambda v: int(v) in range(1, 6)))
        if m not in (1, 2, 3):
            return DRV_NOT_SUPPORTED
        self._acq_mode = m
        return DRV_SUCCESS

    @_api()
    def SetTriggerMode(self, mode: Any) -> int:
        """Only 0 (internal) is simulated: nothing in the simulated rig sends trigger pulses."""
        m = int(self._setting(mode, lambda v: int(v) in (0, 1, 6, 7, 9, 10, 12)))
        return DRV_SUCCESS if m == 0 else DRV_NOT_SUPPORTED

    SetExposureTime = _sets("_exposure_s", float, lambda v: math.isfinite(v) and 0.0 <= v <= 1e5)  # s
    SetNumberAccumulations = _sets("_n_acc", int, lambda v: int(v) >= 1)
    SetAccumulationCycleTime = _sets("_acc_cycle_s", float, lambda v: math.isfinite(v) and v >= 0.0)  # s
    SetNumberKinetics = _sets("_n_kin", int, lambda v: int(v) >= 1)
    SetKineticCycleTime = _sets("_kin_cycle_s", float, lambda v: math.isfinite(v) and v >= 0.0)  # s

    @_api()
    def GetAcquisitionTimings(self, exposure_ref: Any, accumulate_ref: Any, kinetic_ref: Any) -> int:
        exposure, acc, kin = self._timings()
        set_out(exposure_ref, exposure, 1)
        set_out(accumulate_ref, acc, 2)
        set_out(kinetic_ref, kin, 3)
        return DRV_SUCCESS

    GetReadOutTime = _reports(lambda c: c._readout_s())  # s

    @property
    def features(self) -> int:
        """AndorCapabilities.ulFeatures: polling, events, temperature during acquisition, and the shutter bits
        when a shutter is fitted."""
        base = AC_FEATURES_POLLING | AC_FEATURES_EVENTS | AC_FEATURES_TEMPERATUREDURINGACQUISITION
        return base | (AC_FEATURES_SHUTTER | AC_FEATURES_SHUTTEREX if self.shutter_fitted else 0)

    @_api()
    def GetCapabilities(self, caps_ref: Any) -> int:
        """Fill an ``AndorCapabilities`` passed by reference; its ``ulSize`` must be at least the 12 fields."""
        caps = getattr(caps_ref, "_obj", None)
        if caps is None and hasattr(caps_ref, "contents"):
            caps = caps_ref.contents
        if caps is None or not hasattr(caps, "ulFeatures") or caps.ulSize < 48:
            return DRV_P1INVALID
        caps.ulAcqModes = 1 | 4 | 8  # single, accumulate, kinetic
        caps.ulReadModes = 8  # full vertical binning (the only one simulated)
        caps.ulTriggerModes = 1  # internal
        caps.ulCameraType = 7  # AC_CAMERATYPE_IDUS
        caps.ulPixelMode = 4  # 16 bit
        caps.ulSetFunctions = 0x01 | 0x02 | 0x04  # vertical / horizontal readout, temperature
        caps.ulGetFunctions = 0x01 | 0x02 | 0x04 | 0x08  # temperature, target, range, detector size
        caps.ulFeatures = self.features
        return DRV_SUCCESS

    @_api()
    def GetShutterMinTimes(self, closing_ref: Any, opening_ref: Any) -> int:
        """Minimum (closing, opening) times of the shutter in ms; DRV_NOT_SUPPORTED without a shutter."""
        if not self.shutter_fitted:
            return DRV_NOT_SUPPORTED
        set_out(closing_ref, self.shutter_min_times_ms[0], 1)
        set_out(opening_ref, self.shutter_min_times_ms[1], 2)
        return DRV_SUCCESS

    @_api()
    def SetShutter(self, ttl_type: Any, mode: Any, closing_ms: Any, opening_ms: Any) -> int:
        """Camera shutter: mode 0 auto (opens for each exposure), 1 permanently open, 2 permanently closed.
        DRV_NOT_SUPPORTED on a camera without a shutter."""
        if not self.shutter_fitted:
            return DRV_NOT_SUPPORTED
        self._setting(ttl_type, lambda v: int(v) in (0, 1), 1)
        m = int(self._setting(mode, lambda v: int(v) in (0, 1, 2), 2))
        self._setting(closing_ms, lambda v: int(v) >= self.shutter_min_times_ms[0], 3)
        self._setting(opening_ms, lambda v: int(v) >= self.shutter_min_times_ms[1], 4)
        self._shutter_mode = m
        return DRV_SUCCESS

    @staticmethod
    def _check_channel_amp(channel: Any, amplifier: Any) -> None:
        if int(val(channel)) != 0 or int(val(amplifier)) != 0:
            raise ArgError(1 if int(val(channel)) != 0 else 2)

    @_api()
    def GetNumberHSSpeeds(self, channel: Any, amplifier: Any, number_ref: Any) -> int:
        self._check_channel_amp(channel, amplifier)
        set_out(number_ref, len(HS_SPEEDS_MHZ), 3)
        return DRV_SUCCESS

    @_api()
    def GetHSSpeed(self, channel: Any, amplifier: Any, index: Any, speed_ref: Any) -> int:
        """Horizontal readout speed number ``index`` in MHz."""
        self._check_channel_amp(channel, amplifier)
        if not 0 <= int(val(index)) < len(HS_SPEEDS_MHZ):
            raise ArgError(3)
        set_out(speed_ref, HS_SPEEDS_MHZ[int(val(index))], 4)
        return DRV_SUCCESS

    @_api()
    def SetHSSpeed(self, amplifier: Any, index: Any) -> int:
        self._setting(amplifier, lambda v: int(v) == 0, 1)
        self._hs_index = int(self._setting(index, lambda v: 0 <= int(v) < len(HS_SPEEDS_MHZ), 2))
        self._record_truth()
        return DRV_SUCCESS

    # ------------------------------------------------------------------ acquisition
    @_api()
    def StartAcquisition(self) -> int:
        if self._busy():
            return DRV_ACQUIRING
        exposure, acc, kin = self._timings()
        self.sensor.cosmic_ray_hits = []
        self._acq = AcquisitionSchedule(self.world.clock.now(), self._n_kin if self._acq_mode == 3 else 1,
                                        self._n_acc if self._acq_mode in (2, 3) else 1, exposure,
                                        self._readout_s(), acc, kin, self.n_x)
        return DRV_SUCCESS

    @_api()
    def GetStatus(self, status_ref: Any) -> int:
        set_out(status_ref, DRV_ACQUIRING if self._busy() else DRV_IDLE, 1)
        return DRV_SUCCESS

    @_api()
    def WaitForAcquisition(self) -> int:
        """Returns after the next exposure is read out; DRV_NO_NEW_DATA at once when nothing runs."""
        if not self._busy():
            return DRV_NO_NEW_DATA
        self._run_next_exposure(on_time=True)
        return DRV_SUCCESS

    @_api()
    def WaitForAcquisitionTimeOut(self, timeout_ms: Any) -> int:
        timeout_s = max(0, int(val(timeout_ms))) / 1000.0
        clock = self.world.clock
        if not self._busy() or self._acq.next_end_s() - clock.now() > timeout_s:
            clock.advance(timeout_s)
            self._catch_up()
            return DRV_NO_NEW_DATA
        self._run_next_exposure(on_time=True)
        return DRV_SUCCESS

    @_api()
    def AbortAcquisition(self) -> int:
        if not self._busy():
            return DRV_IDLE
        self._acq.aborted = True
        return DRV_SUCCESS

    @_api()
    def GetAcquisitionProgress(self, accumulations_ref: Any, series_ref: Any) -> int:
        """Writes two ``at_32`` (32-bit) counts; an output of another width is refused (P1 / P2 invalid), as a
        64-bit C ``long`` would be misread by a big-endian or a stack-checking build."""
        check_width(accumulations_ref, 4, 1)
        check_width(series_ref, 4, 2)
        acq = self._acq
        done, n_acc = (acq.done, acq.accumulations) if acq is not None else (0, 1)
        complete = acq is not None and not acq.running and not acq.aborted
        set_out(accumulations_ref, n_acc if complete else done % n_acc, 1)
        set_out(series_ref, done // n_acc, 2)
        return DRV_SUCCESS

    def _copy_out(self, array: Any, size: Any, frames: np.ndarray, dtype: Any) -> int:
        n = int(val(size))
        if n != frames.size:
            return DRV_P2INVALID
        low, high = _LIMITS[dtype]
        out = c_array(array, n, dtype, 1)[:n]
        if high >= SATURATION_COUNTS * self._acq.accumulations:  # every count fits (each readout is 0..65535)
            out[:] = frames.ravel()
            return DRV_SUCCESS
        values = np.maximum(frames.ravel(), low)  # a new array: clipped in place
        np.minimum(values, high, out=values)
        out[:] = values
        return DRV_SUCCESS

    def _acquired(self, array: Any, size: Any, dtype: Any) -> int:
        acq = self._acq
        if self._busy():
            return DRV_ACQUIRING
        if acq is None or acq.aborted:
            return DRV_NO_NEW_DATA
        return self._copy_out(array, size, acq.data, dtype)

    @_api()
    def GetAcquiredData(self, array: Any, size: Any) -> int:
        """The whole acquisition as int32, frame after frame; ``size`` must be frames × 1024."""
        return self._acquired(array, size, np.int32)

    @_api()
    def GetAcquiredData16(self, array: Any, size: Any) -> int:
        """As GetAcquiredData, into a uint16 array (values above 65535 are clipped)."""
        return self._acquired(array, size, np.uint16)

    @_api()
    def GetMostRecentImage(self, array: Any, size: Any) -> int:
        """The last completed frame (works during a kinetic series)."""
        acq = self._acq
        if acq is None or acq.frames_done() == 0:
            return DRV_NO_NEW_DATA
        return self._copy_out(array, size, acq.data[acq.frames_done() - 1], np.int32)

