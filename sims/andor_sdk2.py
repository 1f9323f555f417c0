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

Modules: this one holds the camera's identity, its initialisation and shutdown, its ground truth and its
faults; ``andor_sdk2_api`` the return codes and how a function is called, ``andor_sdk2_settings`` the modes,
times, capabilities, shutter and readout speeds, ``andor_sdk2_acquisition`` the acquisition and its data,
``andor_sdk2_cooling`` the cooler. ``SimSDK2`` is one object answering all of them.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from tepl.sims.andor import AcquisitionSchedule, CoolerModel, FvbSensor
from tepl.sims.andor_sdk2_acquisition import SDK2Acquisition
from tepl.sims.andor_sdk2_api import (
    DRV_ACQUIRING,
    DRV_INIERROR,
    DRV_NOT_AVAILABLE,
    DRV_SUCCESS,
    api,
    reports,
)
from tepl.sims.andor_sdk2_cooling import SDK2Cooling
from tepl.sims.andor_sdk2_settings import HS_SPEEDS_MHZ, READ_NOISE_E, SDK2Settings
from tepl.sims.c_args import set_out, val
from tepl.sims.faults import Faults


class SimSDK2(SDK2Acquisition, SDK2Settings, SDK2Cooling):
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

    # ------------------------------------------------------------------ ground truth and faults
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

    @api(requires_init=False)
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

    @api()
    def ShutDown(self) -> int:
        if self._acq is not None and self._acq.running:
            self._acq.aborted = True
        self.cooler.update(self.world.clock.now())
        self.shutdown_temperature_c = self.cooler.temperature_c
        self.cooler.switch(False, self.world.clock.now())
        self._initialized = False
        return DRV_SUCCESS

    GetCameraSerialNumber = reports(lambda c: c.serial)
    GetHeadModel = reports(lambda c: c.head_model)
    GetDetector = reports(lambda c: c.n_x, lambda c: c.n_y)  # pixels
    GetPixelSize = reports(lambda c: c.pixel_um, lambda c: c.pixel_um)  # µm
