"""Andor SDK2 driver for the iDus 420 spectroscopy CCD, read in full vertical binning.

The driver is given a library object exposing the SDK2 C functions: on the rig ``load_sdk2(path)`` (a
ctypes library: ``libandor.so`` on Linux, ``atmcd64d.dll`` on Windows), in simulation
``tepl.sims.andor_sdk2.SimSDK2``. It passes what a C caller passes (numbers, ``ctypes.byref`` outputs,
char buffers, ctypes arrays) and checks every return code: anything but the expected codes raises
``DeviceError`` naming the function and the code.

Units: seconds (``_s``), degrees Celsius (``_c``), micrometres (``_um``), MHz for readout speeds.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from tepl.drivers.andor_sdk2_header import (
    AC_FEATURES_SHUTTER,
    AC_FEATURES_SHUTTEREX,
    AT_32,
    DRV_ACQUIRING,
    DRV_IDLE,
    DRV_NO_NEW_DATA,
    DRV_SUCCESS,
    DRV_TEMP_CODES,
    SDK2_CODES,
    SDK2_SIGNATURES,
    TEMPERATURE_STATUS,
    AndorCapabilities,
)
from tepl.drivers.ctypes_lib import call_named, library_name, load_library, read_outputs, text_buffer, text_of
from tepl.drivers.polling import Wait
from tepl.roles import DeviceError


def default_config_dir() -> str:
    """Where ``Initialize`` finds the SDK's configuration files (detector.ini, firmware) by default: the Linux
    SDK installs them in ``/usr/local/etc/andor`` and needs the directory; on Windows the DLL finds its own
    (an empty string)."""
    return "" if os.name == "nt" else "/usr/local/etc/andor"


SHUTTER_MODES = {"auto": 0, "open": 1, "closed": 2}
ACQUISITION_MODES = {1: "single", 2: "accumulate", 3: "kinetics"}


def load_sdk2(path: str) -> ctypes.CDLL:
    """Load the SDK2 library (stdcall ``WinDLL`` on Windows) and declare the functions the driver uses."""
    return load_library(path, SDK2_SIGNATURES, "Andor SDK2")


class IDus:
    """Andor iDus CCD through SDK2: cooling, FVB single / accumulate / kinetic acquisitions.

    ``sleep`` is used while waiting for the last readout of an acquisition to settle (pass
    ``world.clock.advance`` in simulation). ``hs_speed_mhz`` picks the horizontal readout speed; by default
    the slowest (lowest read noise).

    ``config_dir`` is the directory ``Initialize`` reads the SDK's configuration files from (default
    ``default_config_dir()``: ``/usr/local/etc/andor`` on Linux, empty on Windows).

    The camera's shutter is driven only when ``GetCapabilities`` reports one (``AC_FEATURES_SHUTTER`` or
    ``AC_FEATURES_SHUTTEREX``); its opening and closing times are then at least ``GetShutterMinTimes``. A
    camera without a shutter is never sent ``SetShutter`` (the SDK answers DRV_NOT_SUPPORTED); darks are then
    taken with the spectrograph's shutter.

    An acquisition waits in ``WaitForAcquisitionTimeOut(wait_timeout_ms)`` steps for at most its expected
    duration (GetAcquisitionTimings) + ``timeout_margin_s`` (s), in device time and in wall-clock time; a wait
    that times out counts ``wait_timeout_ms``, one that reports a scan counts one scan (the accumulate cycle).
    Then the acquisition is aborted and a ``WaitTimeout`` (a ``DeviceError``) names the camera, its library,
    the exposure and the wait.
    """

    def __init__(self, lib: Any, sleep: Callable[[float], None] = time.sleep, config_dir: str | None = None,
                 hs_speed_mhz: float | None = None, wait_timeout_ms: int = 1000, timeout_margin_s: float = 10.0):
        self.lib, self.sleep = lib, sleep
        self.wait_timeout_ms, self.timeout_margin_s = int(wait_timeout_ms), float(timeout_margin_s)
        self.head_model, self.serial_number = "iDus", None
        self.config_dir = default_config_dir() if config_dir is None else str(config_dir)
        try:
            self._call("Initialize", self.config_dir.encode())
        except DeviceError as exc:
            raise DeviceError(f"{exc}; Initialize was given the configuration directory {self.config_dir!r} "
                              "(config key config_dir: the directory holding the SDK's detector.ini and "
                              "firmware, /usr/local/etc/andor on a Linux install)") from exc
        self.serial_number = self._get("GetCameraSerialNumber")[0]
        head = text_buffer(255)
        self._call("GetHeadModel", head)
        self.head_model = text_of(head)
        caps = AndorCapabilities()
        caps.ulSize = ctypes.sizeof(AndorCapabilities)
        self._call("GetCapabilities", ctypes.byref(caps))
        self.features = int(caps.ulFeatures)
        self.has_shutter = bool(self.features & (AC_FEATURES_SHUTTER | AC_FEATURES_SHUTTEREX))
        # (closing, opening) ms
        self.shutter_min_times_ms: tuple[int, int] | None = self._get("GetShutterMinTimes", 2) \
            if self.has_shutter else None
        self.shutter_mode: str | None = None
        self._shutter_times_ms: tuple[int, int] | None = None
        self.detector_pixels: tuple[int, int] = self._get("GetDetector", 2)
        self.pixel_size_um: tuple[float, float] = self._get("GetPixelSize", 2, ctypes.c_float)
        self.temperature_range_c: tuple[int, int] = self._get("GetTemperatureRange", 2)
        n_speeds = self._get("GetNumberHSSpeeds", 1, ctypes.c_int, 0, 0)[0]
        self.hs_speeds_mhz = [self._get("GetHSSpeed", 1, ctypes.c_float, 0, 0, i)[0] for i in range(n_speeds)]
        self._call("SetReadMode", 0)
        self._call("SetTriggerMode", 0)
        self._acquisition_mode = 1
        self._call("SetAcquisitionMode", 1)
        # the acquisition mode this driver set last and knows to be in force; None after an abort or a failure
        self._mode_set: int | None = 1
        self.set_hs_speed_mhz(min(self.hs_speeds_mhz) if hs_speed_mhz is None else hs_speed_mhz)
        if self.has_shutter:
            self.set_shutter("auto")
        self._exposure_s = self._accumulations = self._frames = None
        # (exposure asked for, exposure GetAcquisitionTimings reported) of the last SetExposureTime this driver
        # sent; None when not known (before the first acquisition, after an abort or a failure)
        self._exposure_set: tuple[float, float] | None = None
        self._setpoint_c: int | None = None
        self._last_temperature = (float("nan"), "off")
        self.temperature_c()

    # ------------------------------------------------------------------ library plumbing
    @property
    def where(self) -> str:
        """The camera and its library, for error messages: ``Andor DU420_OE #14821 (libandor.so)``."""
        serial = "" if self.serial_number is None else f" #{self.serial_number}"
        return f"Andor {self.head_model}{serial} ({library_name(self.lib)})"

    def _call(self, name: str, *args: Any, ok: tuple[int, ...] = (DRV_SUCCESS,)) -> int:
        return call_named(self.lib, name, args, ok, SDK2_CODES, self._what)

    def _what(self) -> str:
        """``<where>: SDK2``, the start of an error message; made again only when the camera's name changes."""
        named = (self.head_model, self.serial_number)
        kept = self.__dict__.get("_what_kept")
        if kept is None or kept[0] != named:
            kept = self._what_kept = (named, f"{self.where}: SDK2")
        return kept[1]

    def _get(self, name: str, n_out: int = 1, ctype: Any = ctypes.c_int, *inputs: Any) -> tuple:
        return read_outputs(self._call, ctype, n_out, name, *inputs)  # self._call(name, *inputs, outputs...)

    # ------------------------------------------------------------------ cooling
    def set_temperature_c(self, setpoint_c: int) -> None:
        """Cooler setpoint (whole °C) within the camera's GetTemperatureRange."""
        low, high = self.temperature_range_c
        if int(setpoint_c) != setpoint_c or not low <= setpoint_c <= high:
            raise ValueError(f"CCD setpoint {setpoint_c} °C must be a whole number in [{low}, {high}] °C")
        self._call("SetTemperature", int(setpoint_c))
        self._setpoint_c = int(setpoint_c)

    def cooler_on(self) -> None:
        self._call("CoolerON")

    def cooler_off(self) -> None:
        self._call("CoolerOFF")

    def is_cooler_on(self) -> bool:
        return bool(self._get("IsCoolerOn")[0])

    def temperature_c(self) -> tuple[float, str]:
        """(sensor °C, status: off / not_reached / not_stabilized / stabilized / drift).

        During an acquisition the SDK does not read the sensor; the last reading is returned then.
        """
        t = ctypes.c_float()
        code = self._call("GetTemperatureF", ctypes.byref(t), ok=(*DRV_TEMP_CODES, DRV_ACQUIRING))
        if code != DRV_ACQUIRING:
            self._last_temperature = (float(t.value), TEMPERATURE_STATUS[code])
        return self._last_temperature

    # ------------------------------------------------------------------ settings
    def set_hs_speed_mhz(self, speed_mhz: float) -> None:
        """Horizontal readout speed, one of ``hs_speeds_mhz``."""
        matches = [i for i, s in enumerate(self.hs_speeds_mhz) if abs(s - speed_mhz) < 1e-3]
        if not matches:
            raise ValueError(f"readout speed {speed_mhz} MHz is not one of {self.hs_speeds_mhz} MHz")
        self._call("SetHSSpeed", 0, matches[0])
        self.hs_speed_mhz = self.hs_speeds_mhz[matches[0]]

    def set_shutter(self, mode: str, closing_ms: int | None = None, opening_ms: int | None = None) -> None:
        """Camera shutter: ``auto`` (open during exposures), ``open`` or ``closed``; TTL high opens.

        ``closing_ms`` / ``opening_ms`` (ms) default to the camera's GetShutterMinTimes and may not be shorter.
        A camera whose capabilities report no shutter raises DeviceError and is sent nothing."""
        if mode not in SHUTTER_MODES:
            raise ValueError(f"shutter mode {mode!r} is not one of {sorted(SHUTTER_MODES)}")
        if not self.has_shutter or self.shutter_min_times_ms is None:
            raise DeviceError(f"{self.where}: the camera has no shutter (GetCapabilities ulFeatures "
                              f"0x{self.features:x} has neither AC_FEATURES_SHUTTER nor AC_FEATURES_SHUTTEREX); "
                              f"shutter mode {mode!r} cannot be set; close the spectrograph's shutter for darks")
        min_closing, min_opening = self.shutter_min_times_ms
        closing = min_closing if closing_ms is None else closing_ms
        opening = min_opening if opening_ms is None else opening_ms
        for what, value, least in (("closing", closing, min_closing), ("opening", opening, min_opening)):
            if int(value) != value or value < least:
                raise ValueError(f"{self.where}: shutter {what} time {value} ms must be a whole number of ms, at "
                                 f"least the camera's minimum {least} ms (GetShutterMinTimes)")
        self._call("SetShutter", 1, SHUTTER_MODES[mode], int(closing), int(opening))
        self.shutter_mode, self._shutter_times_ms = mode, (int(closing), int(opening))

    def acquisition_timings_s(self) -> tuple[float, float, float]:
        """(exposure, accumulate cycle, kinetic cycle) in s, as the camera will actually run them."""
        return self._get("GetAcquisitionTimings", 3, ctypes.c_float)

    # ------------------------------------------------------------------ acquisition
    def acquire_single(self, exposure_s: float) -> np.ndarray:
        """One FVB spectrum (counts per pixel, int32)."""
        return self._acquire(1, exposure_s)[0]

    def acquire_accumulate(self, exposure_s: float, accumulations: int, cycle_s: float = 0.0) -> np.ndarray:
        """Sum of ``accumulations`` FVB exposures made on the chip, one every ``cycle_s`` (0: as fast as possible)."""
        return self._acquire(2, exposure_s, accumulations=accumulations, accumulate_cycle_s=cycle_s)[0]

    def acquire_kinetic(self, exposure_s: float, frames: int, cycle_s: float = 0.0,
                        accumulations: int = 1) -> np.ndarray:
        """``frames`` FVB spectra, one every ``cycle_s`` (0: as fast as possible); shape (frames, pixels)."""
        return self._acquire(3, exposure_s, accumulations=accumulations, frames=frames, kinetic_cycle_s=cycle_s)

    def _acquire(self, mode: int, exposure_s: float, accumulations: int = 1, frames: int = 1,
                 accumulate_cycle_s: float = 0.0, kinetic_cycle_s: float = 0.0) -> np.ndarray:
        try:
            return self._set_up_and_acquire(mode, exposure_s, accumulations, frames, accumulate_cycle_s,
                                            kinetic_cycle_s)
        except BaseException:
            self._forget_settings()  # after a failure the camera's settings are not known any more
            raise

    def _forget_settings(self) -> None:
        """The next acquisition sends its mode and exposure again."""
        self._exposure_set = self._mode_set = None

    def _set_exposure(self, exposure_s: float) -> None:
        self._exposure_set = None
        self._call("SetExposureTime", ctypes.c_float(exposure_s))

    def _set_up_and_acquire(self, mode: int, exposure_s: float, accumulations: int, frames: int,
                            accumulate_cycle_s: float, kinetic_cycle_s: float) -> np.ndarray:
        """The settings (the mode this driver set last time is not sent again, nor an exposure it set last time
        that GetAcquisitionTimings reports unchanged), StartAcquisition, the wait, the data."""
        for what, value in (("exposure", exposure_s), ("accumulate cycle", accumulate_cycle_s),
                            ("kinetic cycle", kinetic_cycle_s)):
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{what} time {value} s must be a finite, non-negative number of seconds")
        if int(accumulations) < 1 or int(frames) < 1:
            raise ValueError(f"accumulations ({accumulations}) and frames ({frames}) must be at least 1")
        if self._mode_set != mode:
            self._mode_set = None
            self._call("SetAcquisitionMode", mode)
            self._mode_set = mode
        # an exposure this driver set last time is not sent again: GetAcquisitionTimings below checks it
        remembered = self._exposure_set is not None and self._exposure_set[0] == exposure_s
        if not remembered:
            self._set_exposure(exposure_s)
        if mode in (2, 3):
            self._call("SetNumberAccumulations", int(accumulations))
            self._call("SetAccumulationCycleTime", ctypes.c_float(accumulate_cycle_s))
        if mode == 3:
            self._call("SetNumberKinetics", int(frames))
            self._call("SetKineticCycleTime", ctypes.c_float(kinetic_cycle_s))
        self._acquisition_mode, self._accumulations, self._frames = mode, int(accumulations), int(frames)
        exposure, accumulate_cycle, kinetic_cycle = self.acquisition_timings_s()
        if remembered and exposure != self._exposure_set[1]:  # set otherwise behind this driver's back
            self._set_exposure(exposure_s)
            exposure, accumulate_cycle, kinetic_cycle = self.acquisition_timings_s()
        self._exposure_set = (exposure_s, exposure)
        self._exposure_s = exposure
        expected_s = kinetic_cycle * frames if mode == 3 else accumulate_cycle * (accumulations if mode == 2 else 1)
        self._call("StartAcquisition")
        started_s = time.monotonic()
        wait = Wait(lambda: self.where,
                    lambda: f"the end of a {frames}-frame acquisition ({exposure:g} s exposure; GetStatus idle)",
                    expected_s + self.timeout_margin_s, self.sleep)
        size = int(frames) * self.detector_pixels[0]
        data = (ctypes.c_int32 * size)()
        try:
            # less than one exposure after StartAcquisition no scan can be in and the camera cannot be idle yet
            self._wait_until_idle(wait, int(frames), accumulate_cycle, exposing=time.monotonic() - started_s < exposure,
                                  scans=int(frames) * self._accumulations)
            if self._call("GetAcquiredData", data, size, ok=(DRV_SUCCESS, DRV_ACQUIRING)) == DRV_ACQUIRING:
                self._wait_until_idle(wait, int(frames), accumulate_cycle)  # the last readout is finishing
                self._call("GetAcquiredData", data, size)
        except BaseException:
            with contextlib.suppress(DeviceError):  # a camera that does not answer must not hide the error
                self.abort()  # never leave the camera acquiring behind an error or Ctrl-C
            raise
        # a view of the buffer the library filled (it keeps the buffer alive): no copy
        return np.frombuffer(data, np.int32).reshape(int(frames), self.detector_pixels[0])

    def _wait_until_idle(self, wait: Wait, frames: int, scan_s: float, exposing: bool = False,
                         scans: int | None = None) -> None:
        """Wait for the camera's scan events until it is idle or, given ``scans``, until that many scans were
        reported (the acquisition's exposures: GetAcquiredData then answers DRV_ACQUIRING if the readout is not
        over, and the wait goes on); ``wait`` raises once the acquisition's time (device or wall-clock) runs
        out, after AbortAcquisition. Every wait counts: one that times out (DRV_NO_NEW_DATA) its timeout, one
        that reports a scan (DRV_SUCCESS) one scan of ``scan_s`` (the accumulate cycle, s), so a camera that
        keeps reporting scans but never becomes idle runs out of the budget too.

        ``exposing``: the first exposure cannot be over yet, so no scan is in and the camera is not idle: the
        first wait goes without GetStatus / GetAcquisitionProgress. A camera stopped meanwhile by someone else
        answers that wait DRV_NO_NEW_DATA and GetStatus idle after it.
        """
        timeout_s = self.wait_timeout_ms / 1000.0
        reported = 0
        while exposing or self._get("GetStatus")[0] == DRV_ACQUIRING:
            wait.check(self.abort, detail="the acquisition was aborted (AbortAcquisition)")
            if not exposing and self._get("GetAcquisitionProgress", 2, AT_32)[1] >= frames:
                wait.pause(0.002)  # all scans are in; the readout is finishing
            elif self._call("WaitForAcquisitionTimeOut", self.wait_timeout_ms,
                            ok=(DRV_SUCCESS, DRV_NO_NEW_DATA)) == DRV_NO_NEW_DATA:
                wait.count(timeout_s)
            else:
                wait.count(min(max(scan_s, 0.001), timeout_s))
                reported += 1
                if scans is not None and reported >= scans:
                    return
            exposing = False

    def abort(self) -> None:
        """Stop a running acquisition (no-op when idle). The camera may have been set up by another program
        meanwhile: the next acquisition sends its mode and exposure again."""
        self._forget_settings()
        self._call("AbortAcquisition", ok=(DRV_SUCCESS, DRV_IDLE))

    def shutdown(self, warm_to_c: float = -20.0, timeout_s: float = 900.0, poll_s: float = 5.0) -> None:
        """Switch the cooler off, wait until the sensor is warmer than ``warm_to_c`` (Andor's advice before
        ShutDown, to spare the sensor thermal stress), then release the camera."""
        self.abort()
        self.cooler_off()
        wait = Wait(self.where, f"the sensor to warm above {warm_to_c:g} °C", timeout_s, self.sleep)
        while self.temperature_c()[0] < warm_to_c and not wait.expired:  # then shut down anyway
            wait.pause(poll_s)
        self._call("ShutDown")

    def settings(self) -> dict:
        t_c, status = self.temperature_c()
        return {
            "serial_number": self.serial_number, "head_model": self.head_model,
            "detector_pixels": list(self.detector_pixels), "pixel_size_um": list(self.pixel_size_um),
            "temperature_c": t_c, "temperature_status": status, "setpoint_c": self._setpoint_c,
            "cooler_on": self.is_cooler_on(), "read_mode": "fvb",
            "acquisition_mode": ACQUISITION_MODES[self._acquisition_mode], "exposure_s": self._exposure_s,
            "accumulations": self._accumulations, "frames": self._frames, "hs_speed_mhz": self.hs_speed_mhz,
            "shutter_mode": self.shutter_mode, "trigger_mode": "internal", "config_dir": self.config_dir,
            "has_shutter": self.has_shutter, "shutter_min_times_ms": self._pair(self.shutter_min_times_ms),
            "shutter_times_ms": self._pair(self._shutter_times_ms),
        }

    @staticmethod
    def _pair(times_ms: tuple[int, int] | None) -> dict | None:
        return None if times_ms is None else {"closing": times_ms[0], "opening": times_ms[1]}
