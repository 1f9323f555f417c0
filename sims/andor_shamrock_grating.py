"""The turret and the grating drive of the simulated Kymera 328i (``tepl.sims.andor_shamrock.SimShamrock``),
as ShamrockCIF functions (``ShamrockGratings``, a part of ``SimShamrock``): which grating, the centre
wavelength (nm) and the calibration (nm per pixel) the library computes from the NOMINAL optical parameters
with the grating equation (``grating_wavelengths_nm``). Exchanging a grating and turning it take simulated
time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tepl.sims.andor_shamrock_api import SHAMROCK_P2INVALID, SHAMROCK_P3INVALID, SHAMROCK_SUCCESS, api, reports
from tepl.sims.c_args import ArgError, c_array, set_out, set_text, val

GRATING_CHANGE_S = 12.0  # turret exchange
ROTATION_DEG_PER_S = 20.0
MAX_GRATING_ANGLE_DEG = 35.0


@dataclass(frozen=True)
class Grating:
    lines_per_mm: float
    blaze: str  # as the library reports it (nm, text)


KYMERA_328I_GRATINGS = (Grating(150.0, "800"), Grating(600.0, "750"), Grating(1200.0, "500"))


def grating_wavelengths_nm(center_wavelength_nm: float, lines_per_mm: float, focal_length_mm: float,
                           deviation_deg: float, tilt_deg: float, pixel_width_um: float, n_pixels: int,
                           detector_shift_um: float = 0.0, order: int = 1) -> np.ndarray:
    """Wavelength (nm) at the centre of each pixel of a detector in the spectrograph's focal plane.

    Grating equation m·λ = d·(sin α + sin β) with α - β = the deviation angle; the grating is turned so
    that ``center_wavelength_nm`` falls on the middle of the chip. ``detector_shift_um`` moves the chip
    along the dispersion direction.
    """
    d_nm = 1e6 / lines_per_mm
    half = math.radians(deviation_deg) / 2.0
    sin_phi = order * center_wavelength_nm / (2.0 * d_nm * math.cos(half))
    phi = math.asin(max(-1.0, min(1.0, sin_phi)))
    alpha, beta_c = phi + half, phi - half
    x_mm = ((np.arange(n_pixels) - (n_pixels - 1) / 2.0) * pixel_width_um + detector_shift_um) / 1000.0
    tilt = math.radians(tilt_deg)
    beta = beta_c + np.arctan(x_mm * math.cos(tilt) / (focal_length_mm + x_mm * math.sin(tilt)))
    return d_nm * (math.sin(alpha) + np.sin(beta)) / order


class ShamrockGratings:
    """The ShamrockCIF functions of the gratings, the wavelength drive and the calibration; the state lives on
    the spectrograph (``_grating`` 1-based, ``_center_nm``, ``_pixel_width_um``, ``_n_pixels``)."""

    gratings: tuple[Grating, ...]
    focal_length_m: float
    deviation_deg: float
    tilt_deg: float
    detector_pixel_um: float

    def _nominal(self, center_nm: float, grating: int, n_pixels: int, pixel_um: float | None = None):
        return grating_wavelengths_nm(center_nm, self.gratings[grating - 1].lines_per_mm,
                                      self.focal_length_m * 1000.0, self.deviation_deg, self.tilt_deg,
                                      self.detector_pixel_um if pixel_um is None else pixel_um, n_pixels)

    def _two_d_cos_nm(self, grating: int) -> float:
        """2·d·cos(deviation / 2) of ``grating`` (nm): λ = that · sin(grating angle) in first order."""
        d_nm = 1e6 / self.gratings[grating - 1].lines_per_mm
        half = math.radians(self.deviation_deg) / 2.0
        return 2.0 * d_nm * math.cos(half)

    def _limits_nm(self, grating: int) -> tuple[float, float]:
        return 0.0, self._two_d_cos_nm(grating) * math.sin(math.radians(MAX_GRATING_ANGLE_DEG))

    def _grating_angle_deg(self, grating: int, center_nm: float) -> float:
        return math.degrees(math.asin(center_nm / self._two_d_cos_nm(grating)))

    def _check_grating(self, grating: Any, position: int) -> int:
        g = int(val(grating))
        if not 1 <= g <= len(self.gratings):
            raise ArgError(position)
        return g

    # ------------------------------------------------------------------ gratings
    ShamrockGetNumberGratings = reports(lambda s: len(s.gratings))
    ShamrockGetGrating = reports(lambda s: s._grating)

    @api()
    def ShamrockSetGrating(self, device: Any, grating: Any) -> int:
        self._check_device(device)
        g = self._check_grating(grating, 2)
        if g != self._grating:
            self.world.clock.advance(GRATING_CHANGE_S)
            self._grating = g
            self._center_nm = min(self._center_nm, self._limits_nm(g)[1])
            self._record_truth()
        return SHAMROCK_SUCCESS

    @api()
    def ShamrockGetGratingInfo(self, device: Any, grating: Any, lines_ref: Any, blaze_buffer: Any,
                               home_ref: Any, offset_ref: Any) -> int:
        self._check_device(device)
        g = self._check_grating(grating, 2)
        set_out(lines_ref, self.gratings[g - 1].lines_per_mm, 3)
        set_text(blaze_buffer, self.gratings[g - 1].blaze, 4)
        set_out(home_ref, 41000 + 100000 * (g - 1), 5)
        set_out(offset_ref, 0, 6)
        return SHAMROCK_SUCCESS

    # ------------------------------------------------------------------ wavelength
    ShamrockWavelengthIsPresent = reports(lambda s: 1)
    ShamrockGetWavelength = reports(lambda s: s._center_nm)  # nm

    @api()
    def ShamrockSetWavelength(self, device: Any, wavelength_nm: Any) -> int:
        self._check_device(device)
        target = float(val(wavelength_nm))
        low, high = self._limits_nm(self._grating)
        if not (math.isfinite(target) and low <= target <= high):
            return SHAMROCK_P2INVALID
        turn_deg = abs(self._grating_angle_deg(self._grating, target)
                       - self._grating_angle_deg(self._grating, self._center_nm))
        self.world.clock.advance(0.2 + turn_deg / ROTATION_DEG_PER_S)
        self._center_nm = target
        self._record_truth()
        return SHAMROCK_SUCCESS

    @api()
    def ShamrockGetWavelengthLimits(self, device: Any, grating: Any, min_ref: Any, max_ref: Any) -> int:
        self._check_device(device)
        low, high = self._limits_nm(self._check_grating(grating, 2))
        set_out(min_ref, low, 3)
        set_out(max_ref, high, 4)
        return SHAMROCK_SUCCESS

    @api()
    def ShamrockGotoZeroOrder(self, device: Any) -> int:
        self._check_device(device)
        return self.ShamrockSetWavelength(0, 0.0)

    ShamrockAtZeroOrder = reports(lambda s: int(s._center_nm == 0.0))

    # ------------------------------------------------------------------ calibration
    @api()
    def ShamrockSetPixelWidth(self, device: Any, width_um: Any) -> int:
        self._check_device(device)
        width = float(val(width_um))
        if not (math.isfinite(width) and 0.0 < width <= 1000.0):
            return SHAMROCK_P2INVALID
        self._pixel_width_um = width
        return SHAMROCK_SUCCESS

    ShamrockGetPixelWidth = reports(lambda s: s._pixel_width_um)  # µm

    @api()
    def ShamrockSetNumberPixels(self, device: Any, n_pixels: Any) -> int:
        self._check_device(device)
        n = int(val(n_pixels))
        if not 0 < n <= 65536:
            return SHAMROCK_P2INVALID
        self._n_pixels = n
        return SHAMROCK_SUCCESS

    ShamrockGetNumberPixels = reports(lambda s: s._n_pixels)

    @api()
    def ShamrockGetCalibration(self, device: Any, values: Any, n_pixels: Any) -> int:
        """Nominal wavelength (nm) of each pixel; all zeros until pixel width and count are set."""
        self._check_device(device)
        n = int(val(n_pixels))
        if n <= 0:
            return SHAMROCK_P3INVALID
        out = c_array(values, n, np.float32, 2)
        if self._pixel_width_um <= 0.0 or self._n_pixels <= 0:
            out[:n] = 0.0
        else:
            wl = self._nominal(self._center_nm, self._grating, self._n_pixels, self._pixel_width_um)
            out[:n] = wl[:n] if n <= wl.size else np.concatenate([wl, np.zeros(n - wl.size)])
        return SHAMROCK_SUCCESS
