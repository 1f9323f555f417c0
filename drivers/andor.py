"""Andor spectrometer roles: an iDus CCD (SDK2) behind a Kymera spectrograph (ShamrockCIF).

``AndorSpectrometer`` is the ``Spectrometer`` role over an ``IDus`` and a ``Kymera``; ``KymeraShutter`` is
the ``Shutter`` role over the Kymera's shutter. The library loaders and the device drivers live in
``tepl.drivers.andor_sdk2`` and ``tepl.drivers.andor_shamrock``; they are re-exported here.

Wiring on the rig::

    ccd = IDus(load_sdk2("/usr/local/lib/libandor.so"))
    kymera = Kymera(load_shamrock("/usr/local/lib/libshamrockcif.so"))
    spectrometer = AndorSpectrometer(ccd, kymera, Range(0.001, 600.0, "s"))

and in simulation ``IDus(SimSDK2(world, shamrock), sleep=world.clock.advance)``,
``Kymera(SimShamrock(world))`` and ``sleep=world.clock.advance`` for the spectrometer.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from tepl.drivers.andor_sdk2 import IDus, load_sdk2
from tepl.drivers.andor_shamrock import Kymera, load_shamrock
from tepl.drivers.polling import poll
from tepl.roles import DeviceError, LimitError, Range, Shutter, Spectrometer

__all__ = ["AndorSpectrometer", "IDus", "Kymera", "KymeraShutter", "load_sdk2", "load_shamrock"]


class AndorSpectrometer(Spectrometer):
    """Spectrograph + CCD in full vertical binning: one spectrum per acquisition, counts as float64.

    ``sleep`` paces the wait for the cooler (``world.clock.advance`` in simulation); the temperature is
    read every ``poll_s`` seconds.
    """

    def __init__(self, ccd: IDus, spectrograph: Kymera, exposure_s: Range,
                 sleep: Callable[[float], None] = time.sleep, poll_s: float = 5.0):
        super().__init__(exposure_s)
        self.ccd, self.spectrograph = ccd, spectrograph
        self.sleep, self.poll_s = sleep, float(poll_s)
        spectrograph.setup_pixels(ccd.pixel_size_um[0], ccd.detector_pixels[0])

    # ------------------------------------------------------------------ acquisition
    def _do_acquire(self, exposure_s: float, accumulations: int) -> np.ndarray:
        if accumulations == 1:
            return self.ccd.acquire_single(exposure_s).astype(float)
        return self.ccd.acquire_accumulate(exposure_s, accumulations).astype(float)

    def _do_acquire_series(self, exposure_s: float, frames: int, cycle_s: float) -> np.ndarray:
        if cycle_s < exposure_s:
            raise LimitError(f"series cycle {cycle_s:g} s is shorter than the exposure {exposure_s:g} s")
        return self.ccd.acquire_kinetic(exposure_s, frames, cycle_s).astype(float)

    def _do_wavelengths(self) -> np.ndarray:
        return self.spectrograph.calibration_nm()

    # ------------------------------------------------------------------ spectrograph
    def _do_set_center_wavelength_nm(self, center_wavelength_nm: float) -> None:
        """Turn the grating; refused (LimitError) outside the grating's range."""
        low, high = self.spectrograph.wavelength_limits_nm()
        value = Range(low, high, "nm").check(center_wavelength_nm, "centre wavelength")
        self.spectrograph.set_center_wavelength_nm(value)

    def center_wavelength_nm(self) -> float:
        return self.spectrograph.center_wavelength_nm()

    def _do_set_grating(self, grating: int) -> None:
        """Turn the turret to grating 1..n; refused (LimitError) for a grating that is not there."""
        n = self.spectrograph.number_gratings()
        if int(grating) != grating or not 1 <= grating <= n:
            raise LimitError(f"grating {grating} does not exist; the turret has gratings 1..{n}")
        self.spectrograph.set_grating(int(grating))

    def grating(self) -> int:
        return self.spectrograph.grating()

    # ------------------------------------------------------------------ cooling
    def temperature_c(self) -> tuple[float, str]:
        return self.ccd.temperature_c()

    def cool(self, target_c: float, wait: bool = True, timeout_s: float = 900.0) -> float:
        """Cooler on at ``target_c`` (whole °C); with ``wait``, poll until stabilized, at most ``timeout_s``
        (s) of device time and of wall-clock time."""
        low, high = self.ccd.temperature_range_c
        target = Range(low, high, "°C").check(target_c, "CCD cooling target")
        self.ccd.set_temperature_c(int(round(target)))
        self.ccd.cooler_on()
        t_c, _ = poll(self.ccd.temperature_c, lambda reading: not wait or reading[1] == "stabilized", self.sleep,
                      self.poll_s, timeout_s,
                      lambda reading: DeviceError(f"{self.ccd.where}: CCD did not stabilise at {target:g} °C "
                                                  f"within {timeout_s:g} s of device and wall-clock time (it is "
                                                  f"at {reading[0]:.1f} °C, {reading[1]})"))
        return t_c

    def make_safe(self) -> str:
        """Abort an acquisition in progress (AbortAcquisition; nothing to do when idle). The CCD stays cold
        until the station closes."""
        self.ccd.abort()
        return "idle"

    def warm_up(self) -> None:
        """Switch the cooler off (the sensor drifts back to ambient)."""
        self.ccd.cooler_off()

    def disconnect(self) -> None:
        """Warm the CCD above -20 °C and ShutDown (``IDus.shutdown``), then close the spectrograph library."""
        try:
            self.ccd.shutdown()
        finally:
            self.spectrograph.close()

    def settings(self) -> dict:
        return {**super().settings(), "ccd": self.ccd.settings(), "spectrograph": self.spectrograph.settings(),
                "calibration": "station" if self._calibration_nm is not None else "spectrograph"}


class KymeraShutter(Shutter):
    """The Kymera's entrance shutter as a ``Shutter`` role (0 closed, 1 open in the library)."""

    def __init__(self, spectrograph: Kymera):
        self.spectrograph = spectrograph

    def open(self) -> None:
        self.spectrograph.open_shutter()

    def shut(self) -> None:
        self.spectrograph.close_shutter()

    def is_open(self) -> bool:
        return self.spectrograph.shutter_is_open()
