"""The spectrometer role: spectrograph + CCD, one spectrum (counts per pixel) per acquisition."""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from tepl.limits import LimitError, Range
from tepl.roles.base import Instrument


class Spectrometer(Instrument, abc.ABC):
    """Spectrograph + CCD read in full vertical binning: one spectrum per acquisition."""

    safe_group = "camera"
    target_temperature_c: float | None = None
    """CCD temperature (°C) ``start`` cools to; None leaves the cooler as it is."""

    def __init__(self, exposure_s: Range):
        self.exposure_range_s = exposure_s
        self._calibration_nm: np.ndarray | None = None

    def start(self, wait: bool) -> None:
        """Cool the CCD to ``target_temperature_c``; ``wait`` blocks until it is stable."""
        if self.target_temperature_c is not None:
            self.cool(self.target_temperature_c, wait=wait)

    def acquire(self, exposure_s: float, accumulations: int = 1) -> np.ndarray:
        """One spectrum (CCD counts per pixel, float64), summed over ``accumulations`` exposures."""
        exposure_s = self.exposure_range_s.check(exposure_s, "exposure")
        if int(accumulations) < 1:
            raise LimitError(f"accumulations = {accumulations} must be at least 1")
        return self._do_acquire(exposure_s, int(accumulations))

    def acquire_series(self, exposure_s: float, frames: int, cycle_s: float | None = None) -> np.ndarray:
        """Kinetic series: ``frames`` spectra, one every ``cycle_s`` (≥ exposure); shape (frames, pixels)."""
        exposure_s = self.exposure_range_s.check(exposure_s, "exposure")
        if int(frames) < 1:
            raise LimitError(f"frames = {frames} must be at least 1")
        return self._do_acquire_series(exposure_s, int(frames), cycle_s or exposure_s)

    def wavelengths_nm(self) -> np.ndarray:
        """Wavelength of each pixel, nm: the station's calibration if one is set, else the spectrograph's."""
        if self._calibration_nm is not None:
            return self._calibration_nm.copy()
        return self._do_wavelengths()

    def set_calibration_nm(self, wavelengths_nm: np.ndarray | None) -> None:
        """Install a measured pixel-to-wavelength table (or None to fall back to the spectrograph's)."""
        if wavelengths_nm is None:
            self._calibration_nm = None
            return
        table = np.asarray(wavelengths_nm, float)
        pixels = self._do_wavelengths().size
        if table.shape != (pixels,) or not np.all(np.isfinite(table)) or not np.all(np.diff(table) > 0):
            raise ValueError(f"a wavelength calibration needs {pixels} finite increasing values, got shape "
                             f"{table.shape}")
        self._calibration_nm = table

    def spectrograph_wavelengths_nm(self) -> np.ndarray:
        """The spectrograph's own pixel-to-wavelength table (nm), whatever calibration is installed."""
        return self._do_wavelengths()

    def set_center_wavelength_nm(self, center_wavelength_nm: float) -> None:
        """Turn the grating to a new centre (nm). A measured calibration belongs to the old setting: dropped."""
        self._do_set_center_wavelength_nm(center_wavelength_nm)
        self._calibration_nm = None

    def set_grating(self, grating: int) -> None:
        """Change grating (1..n). A measured calibration belongs to the old grating: dropped."""
        self._do_set_grating(grating)
        self._calibration_nm = None

    @abc.abstractmethod
    def _do_set_center_wavelength_nm(self, center_wavelength_nm: float) -> None: ...

    @abc.abstractmethod
    def _do_set_grating(self, grating: int) -> None: ...

    @abc.abstractmethod
    def center_wavelength_nm(self) -> float: ...

    @abc.abstractmethod
    def grating(self) -> int: ...

    @abc.abstractmethod
    def temperature_c(self) -> tuple[float, str]:
        """(sensor temperature °C, status word: off / not_reached / not_stabilized / stabilized / drift)."""

    @abc.abstractmethod
    def cool(self, target_c: float, wait: bool = True, timeout_s: float = 900.0) -> float:
        """Switch the cooler on to ``target_c``; if ``wait``, block until stabilized. Returns °C."""

    @abc.abstractmethod
    def _do_acquire(self, exposure_s: float, accumulations: int) -> np.ndarray: ...

    @abc.abstractmethod
    def _do_acquire_series(self, exposure_s: float, frames: int, cycle_s: float) -> np.ndarray: ...

    @abc.abstractmethod
    def _do_wavelengths(self) -> np.ndarray: ...

    def make_safe(self) -> str:
        """Nothing is exposed between acquisitions (each acquisition waits for its own end); the CCD stays
        cold until the station closes."""
        return "idle"

    def status(self, name: str) -> dict[str, Any]:
        temperature_c, state = self.temperature_c()
        return {"ccd_temperature_c": temperature_c, "ccd_status": state}

    def status_keys(self, name: str) -> tuple[str, ...]:
        return ("ccd_temperature_c", "ccd_status")

    def settings(self) -> dict:
        return {"exposure_range_s": [self.exposure_range_s.low, self.exposure_range_s.high]}
