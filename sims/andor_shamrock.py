"""Simulated Andor Kymera 328i spectrograph behind the ShamrockCIF library interface.

``SimShamrock`` is a Python object with the C library's function names (``ShamrockInitialize``,
``ShamrockSetWavelength``, ``ShamrockGetCalibration`` ...), its argument conventions (inputs by value,
outputs through ``ctypes.byref(c_int()/c_float())``, string buffers and float arrays) and its integer return
codes, so the driver cannot tell it from ``libshamrockcif.so``.

Optics: a Czerny-Turner with focal length f, deviation angle between incident and diffracted beam and a
detector tilt. ``ShamrockGetCalibration`` answers the grating equation with the NOMINAL parameters (the
EEPROM values, as the real library does); the light that reaches the CCD follows the TRUE parameters, which
differ slightly (a lateral detector shift of a fraction of a pixel and a focal length a few 0.1 % off, both
seeded). The true wavelength of every detector pixel is recorded as ground truth ``"spectrograph"``.

The spectrograph's entrance shutter sets ``world.shutter_open``: closed, no light (sample or lamp) reaches
the CCD.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from tepl.sims.andor import api_factory
from tepl.sims.andor_optics import (
    KYMERA_FILTERS,
    LAMP_RENDER_PX,
    blur_spectrum,
    filter_transmission,
    instrument_line_fwhm_px,
    slit_throughput,
)
from tepl.sims.c_args import ArgError, c_array, report_function, set_out, set_text, val
from tepl.sims.tepl_memo import LastCall

SHAMROCK_COMMUNICATION_ERROR = 20201
SHAMROCK_SUCCESS = 20202
SHAMROCK_P1INVALID = 20266
SHAMROCK_P2INVALID = 20267
SHAMROCK_P3INVALID = 20268
SHAMROCK_P4INVALID = 20269
SHAMROCK_P5INVALID = 20270
SHAMROCK_NOT_INITIALIZED = 20275
SHAMROCK_NOT_AVAILABLE = 20292

_P_INVALID = {1: SHAMROCK_P1INVALID, 2: SHAMROCK_P2INVALID, 3: SHAMROCK_P3INVALID,
              4: SHAMROCK_P4INVALID, 5: SHAMROCK_P5INVALID}

WIRE_TIME_S = 0.3e-3  # USB round trip per library call
GRATING_CHANGE_S = 12.0  # turret exchange
ROTATION_DEG_PER_S = 20.0
MAX_GRATING_ANGLE_DEG = 35.0
# ShamrockCIF.h: slit indices, flipper indices and ports, slit width range
SLIT_INPUT_SIDE, SLIT_INPUT_DIRECT, SLIT_OUTPUT_SIDE, SLIT_OUTPUT_DIRECT = 1, 2, 3, 4
INPUT_FLIPPER, OUTPUT_FLIPPER = 1, 2
PORTS = {"direct": 0, "side": 1}
PORT_NAMES = {v: k for k, v in PORTS.items()}
SLIT_WIDTH_MIN_UM, SLIT_WIDTH_MAX_UM = 10.0, 2500.0
SLIT_RESET_UM = 10.0
SLIT_UM_PER_S = 500.0  # motorised slit travel
FLIPPER_S = 1.0
FILTER_CHANGE_S = 1.5


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


def _render_fwhm_nm(wavelength_nm: np.ndarray) -> float:
    return float(LAMP_RENDER_PX * np.abs(np.diff(wavelength_nm)).mean())


_lamp_render_fwhm_nm = LastCall(_render_fwhm_nm)  # the same axis every exposure of a scan


_api = api_factory(SHAMROCK_NOT_INITIALIZED, _P_INVALID, WIRE_TIME_S)


def _reports(*values: Any, handle: bool = True):
    """A ShamrockCIF function that only reports (``c_args.report_function``): the device index first (0, the
    one device) unless ``handle`` is False."""
    return report_function(_api(), values, success=SHAMROCK_SUCCESS, handle=handle,
                           check=lambda shamrock, device: shamrock._check_device(device))


class SimShamrock:
    """A Kymera 328i with a three-grating turret, an entrance shutter, a motorised input slit on the direct
    port, an output flipper mirror choosing the exit port and a six-position filter wheel; one device (index 0).

    ``ccd_port`` ("direct" or "side") is where the CCD is mounted: with the flipper sending the light to the
    other port the CCD sees only its dark current and bias. ``exit_port_at_power_on`` is the flipper's
    position after ShamrockInitialize; the slit starts at 10 µm (its reset width) and the filter wheel at
    position 1. What the slit and the filters do to the light is ``tepl.sims.andor_optics``.
    """

    def __init__(self, world: Any, serial: str = "KY-7342", focal_length_m: float = 0.328,
                 deviation_deg: float = 14.0, tilt_deg: float = 0.0,
                 gratings: tuple[Grating, ...] = KYMERA_328I_GRATINGS,
                 detector_pixels: int = 1024, detector_pixel_um: float = 26.0, ccd_port: str = "side",
                 exit_port_at_power_on: str = "side"):
        for name, port in (("ccd_port", ccd_port), ("exit_port_at_power_on", exit_port_at_power_on)):
            if port not in PORTS:
                raise ValueError(f"simulated Kymera {name} {port!r} is not one of {sorted(PORTS)}")
        self.ccd_port = PORTS[ccd_port]
        self._power_on_port = PORTS[exit_port_at_power_on]
        self._slit_width_um = {SLIT_INPUT_DIRECT: SLIT_RESET_UM}  # the motorised slits fitted
        self._exit_port = self._power_on_port
        self._filter = 1
        self.world = world
        self._lock = threading.RLock()
        self.serial = serial
        self.gratings = tuple(gratings)
        self.focal_length_m = float(focal_length_m)
        self.deviation_deg = float(deviation_deg)
        self.tilt_deg = float(tilt_deg)
        self.detector_pixels = int(detector_pixels)
        self.detector_pixel_um = float(detector_pixel_um)
        rng = world.rng("spectrograph")
        # Hidden truth: the chip sits a little off the optical axis and the focal length is a little off.
        shift_nm = rng.uniform(0.3, 0.5) * rng.choice([-1.0, 1.0])
        pair_nm = self._nominal(700.0, 1, 2)
        nm_per_um = (pair_nm[1] - pair_nm[0]) / self.detector_pixel_um
        self.true_detector_shift_um = float(shift_nm / nm_per_um)
        self.true_focal_length_m = self.focal_length_m * (1.0 + rng.uniform(0.002, 0.0035) * rng.choice([-1, 1]))
        self._initialized = False
        self._grating = 1
        self._center_nm = 0.0
        self._pixel_width_um = 0.0
        self._n_pixels = 0
        self._shutter_mode = 0
        self._true_axis: tuple[tuple, np.ndarray] | None = None  # (arguments, axis): the same every pixel of a scan

    # ------------------------------------------------------------------ optics used by the CCD simulator
    def _nominal(self, center_nm: float, grating: int, n_pixels: int, pixel_um: float | None = None):
        return grating_wavelengths_nm(center_nm, self.gratings[grating - 1].lines_per_mm,
                                      self.focal_length_m * 1000.0, self.deviation_deg, self.tilt_deg,
                                      self.detector_pixel_um if pixel_um is None else pixel_um, n_pixels)

    def true_wavelengths_nm(self, n_pixels: int | None = None, pixel_width_um: float | None = None) -> np.ndarray:
        """True centre wavelength (nm) of each pixel of the attached detector at the present settings
        (read-only)."""
        args = (self._center_nm, self.gratings[self._grating - 1].lines_per_mm, self.true_focal_length_m * 1000.0,
                self.deviation_deg, self.tilt_deg, self.detector_pixel_um if pixel_width_um is None else pixel_width_um,
                self.detector_pixels if n_pixels is None else n_pixels, self.true_detector_shift_um)
        kept = self._true_axis
        if kept is None or kept[0] != args:  # plain numbers: compared as one tuple
            axis = grating_wavelengths_nm(*args)
            axis.flags.writeable = False
            kept = self._true_axis = (args, axis)
        return kept[1]

    def _limits_nm(self, grating: int) -> tuple[float, float]:
        d_nm = 1e6 / self.gratings[grating - 1].lines_per_mm
        half = math.radians(self.deviation_deg) / 2.0
        return 0.0, 2.0 * d_nm * math.cos(half) * math.sin(math.radians(MAX_GRATING_ANGLE_DEG))

    def _grating_angle_deg(self, grating: int, center_nm: float) -> float:
        d_nm = 1e6 / self.gratings[grating - 1].lines_per_mm
        half = math.radians(self.deviation_deg) / 2.0
        return math.degrees(math.asin(center_nm / (2.0 * d_nm * math.cos(half))))

    def _record_truth(self) -> None:
        nominal = self._nominal(self._center_nm, self._grating, self.detector_pixels)
        true = self.true_wavelengths_nm()
        self.world.record_truth("spectrograph", {
            "serial": self.serial,
            "grating": self._grating,
            "lines_per_mm": self.gratings[self._grating - 1].lines_per_mm,
            "center_wavelength_nm": self._center_nm,
            "focal_length_nominal_m": self.focal_length_m,
            "focal_length_true_m": self.true_focal_length_m,
            "detector_shift_um": self.true_detector_shift_um,
            "detector_pixels": self.detector_pixels,
            "detector_pixel_um": self.detector_pixel_um,
            "true_wavelength_nm": true.tolist(),
            "nominal_wavelength_nm": nominal.tolist(),
            "input_slit_width_um": self._slit_width_um.get(SLIT_INPUT_DIRECT),
            "slit_throughput": slit_throughput(self._slit_width_um.get(SLIT_INPUT_DIRECT, 0.0)),
            "instrument_fwhm_px": instrument_line_fwhm_px(self._slit_width_um.get(SLIT_INPUT_DIRECT, 0.0),
                                                          self.detector_pixel_um),
            "exit_port": PORT_NAMES[self._exit_port], "ccd_port": PORT_NAMES[self.ccd_port],
            "filter": self._filter, "filter_info": KYMERA_FILTERS[self._filter].info,
        })

    # ------------------------------------------------------------------ light on its way to the CCD
    def light_reaches_ccd(self) -> bool:
        """The output flipper sends the light to the port the CCD sits on."""
        return self._exit_port == self.ccd_port

    def lamp_render_fwhm_nm(self, wavelength_nm: np.ndarray) -> float:
        """The width (nm) the World renders the lamp's lines at: ``LAMP_RENDER_PX`` pixels of this dispersion."""
        return _lamp_render_fwhm_nm(wavelength_nm)

    def pass_light(self, photons: np.ndarray, wavelength_nm: np.ndarray, pixel_um: float) -> np.ndarray:
        """Photons per pixel on the CCD from ``photons`` arriving at the input slit: the slit's throughput,
        the filter's transmission, and the slit image and optics spreading each wavelength."""
        width_um = self._slit_width_um.get(SLIT_INPUT_DIRECT, 0.0)
        passed = photons * slit_throughput(width_um)
        passed *= filter_transmission(self._filter, wavelength_nm)  # in place: ``passed`` is this call's own
        return blur_spectrum(passed, width_um, pixel_um)

    def _check_device(self, device: Any) -> None:
        if int(val(device)) != 0:
            raise ArgError(1)

    def _check_grating(self, grating: Any, position: int) -> int:
        g = int(val(grating))
        if not 1 <= g <= len(self.gratings):
            raise ArgError(position)
        return g

    # ------------------------------------------------------------------ init and identity
    @_api(requires_init=False)
    def ShamrockInitialize(self, ini_dir: Any = b"") -> int:
        if not self._initialized:
            self._initialized = True
            self._grating, self._center_nm = 1, 0.0
            self._pixel_width_um, self._n_pixels = 0.0, 0
            self._shutter_mode = 0
            self._slit_width_um = {SLIT_INPUT_DIRECT: SLIT_RESET_UM}
            self._exit_port, self._filter = self._power_on_port, 1
            self.world.shutter_open = False
            self._record_truth()
        return SHAMROCK_SUCCESS

    @_api()
    def ShamrockClose(self) -> int:
        self._initialized = False
        return SHAMROCK_SUCCESS

    ShamrockGetNumberDevices = _reports(lambda s: 1, handle=False)
    ShamrockGetSerialNumber = _reports(lambda s: s.serial)
    # focal length m, angular deviation and focal tilt degrees
    ShamrockEepromGetOpticalParams = _reports(lambda s: s.focal_length_m, lambda s: s.deviation_deg,
                                              lambda s: s.tilt_deg)

    # ------------------------------------------------------------------ gratings
    ShamrockGetNumberGratings = _reports(lambda s: len(s.gratings))
    ShamrockGetGrating = _reports(lambda s: s._grating)

    @_api()
    def ShamrockSetGrating(self, device: Any, grating: Any) -> int:
        self._check_device(device)
        g = self._check_grating(grating, 2)
        if g != self._grating:
            self.world.clock.advance(GRATING_CHANGE_S)
            self._grating = g
            self._center_nm = min(self._center_nm, self._limits_nm(g)[1])
            self._record_truth()
        return SHAMROCK_SUCCESS

    @_api()
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
    ShamrockWavelengthIsPresent = _reports(lambda s: 1)
    ShamrockGetWavelength = _reports(lambda s: s._center_nm)  # nm

    @_api()
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

    @_api()
    def ShamrockGetWavelengthLimits(self, device: Any, grating: Any, min_ref: Any, max_ref: Any) -> int:
        self._check_device(device)
        low, high = self._limits_nm(self._check_grating(grating, 2))
        set_out(min_ref, low, 3)
        set_out(max_ref, high, 4)
        return SHAMROCK_SUCCESS

    @_api()
    def ShamrockGotoZeroOrder(self, device: Any) -> int:
        self._check_device(device)
        return self.ShamrockSetWavelength(0, 0.0)

    ShamrockAtZeroOrder = _reports(lambda s: int(s._center_nm == 0.0))

    # ------------------------------------------------------------------ calibration
    @_api()
    def ShamrockSetPixelWidth(self, device: Any, width_um: Any) -> int:
        self._check_device(device)
        width = float(val(width_um))
        if not (math.isfinite(width) and 0.0 < width <= 1000.0):
            return SHAMROCK_P2INVALID
        self._pixel_width_um = width
        return SHAMROCK_SUCCESS

    ShamrockGetPixelWidth = _reports(lambda s: s._pixel_width_um)  # µm

    @_api()
    def ShamrockSetNumberPixels(self, device: Any, n_pixels: Any) -> int:
        self._check_device(device)
        n = int(val(n_pixels))
        if not 0 < n <= 65536:
            return SHAMROCK_P2INVALID
        self._n_pixels = n
        return SHAMROCK_SUCCESS

    ShamrockGetNumberPixels = _reports(lambda s: s._n_pixels)

    @_api()
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

    # ------------------------------------------------------------------ shutter
    ShamrockShutterIsPresent = _reports(lambda s: 1)

    @_api()
    def ShamrockIsModePossible(self, device: Any, mode: Any, possible_ref: Any) -> int:
        self._check_device(device)
        set_out(possible_ref, int(int(val(mode)) in (0, 1)), 3)
        return SHAMROCK_SUCCESS

    ShamrockGetShutter = _reports(lambda s: s._shutter_mode)

    @_api()
    def ShamrockSetShutter(self, device: Any, mode: Any) -> int:
        """0 closed, 1 open (2, BNC-controlled, is not fitted on this unit)."""
        self._check_device(device)
        m = int(val(mode))
        if m not in (0, 1):
            return SHAMROCK_P2INVALID
        self.world.clock.advance(0.02)
        self._shutter_mode = m
        self.world.shutter_open = m == 1
        return SHAMROCK_SUCCESS

    # ------------------------------------------------------------------ input slit
    def _check_slit(self, index: Any) -> int:
        i = int(val(index))
        if not 1 <= i <= 4:
            raise ArgError(2)
        return i

    @_api()
    def ShamrockAutoSlitIsPresent(self, device: Any, index: Any, present_ref: Any) -> int:
        self._check_device(device)
        set_out(present_ref, int(self._check_slit(index) in self._slit_width_um), 3)
        return SHAMROCK_SUCCESS

    @_api()
    def ShamrockGetAutoSlitWidth(self, device: Any, index: Any, width_ref: Any) -> int:
        """Width of slit ``index`` in µm; SHAMROCK_NOT_AVAILABLE for a slit that is not fitted."""
        self._check_device(device)
        i = self._check_slit(index)
        if i not in self._slit_width_um:
            return SHAMROCK_NOT_AVAILABLE
        set_out(width_ref, self._slit_width_um[i], 3)
        return SHAMROCK_SUCCESS

    @_api()
    def ShamrockSetAutoSlitWidth(self, device: Any, index: Any, width_um: Any) -> int:
        """Drive slit ``index`` to ``width_um`` (10-2500 µm, else SHAMROCK_P3INVALID)."""
        self._check_device(device)
        i = self._check_slit(index)
        if i not in self._slit_width_um:
            return SHAMROCK_NOT_AVAILABLE
        width = float(val(width_um))
        if not (math.isfinite(width) and SLIT_WIDTH_MIN_UM <= width <= SLIT_WIDTH_MAX_UM):
            return SHAMROCK_P3INVALID
        self.world.clock.advance(0.1 + abs(width - self._slit_width_um[i]) / SLIT_UM_PER_S)
        self._slit_width_um[i] = float(np.float32(width))
        self._record_truth()
        return SHAMROCK_SUCCESS

    # ------------------------------------------------------------------ exit port (output flipper mirror)
    def _check_flipper(self, flipper: Any) -> int:
        f = int(val(flipper))
        if f not in (INPUT_FLIPPER, OUTPUT_FLIPPER):
            raise ArgError(2)
        return f

    @_api()
    def ShamrockFlipperMirrorIsPresent(self, device: Any, flipper: Any, present_ref: Any) -> int:
        self._check_device(device)
        set_out(present_ref, int(self._check_flipper(flipper) == OUTPUT_FLIPPER), 3)
        return SHAMROCK_SUCCESS

    @_api()
    def ShamrockGetFlipperMirror(self, device: Any, flipper: Any, port_ref: Any) -> int:
        self._check_device(device)
        if self._check_flipper(flipper) != OUTPUT_FLIPPER:
            return SHAMROCK_NOT_AVAILABLE
        set_out(port_ref, self._exit_port, 3)
        return SHAMROCK_SUCCESS

    @_api()
    def ShamrockSetFlipperMirror(self, device: Any, flipper: Any, port: Any) -> int:
        """Flip the output mirror to port 0 (direct) or 1 (side)."""
        self._check_device(device)
        if self._check_flipper(flipper) != OUTPUT_FLIPPER:
            return SHAMROCK_NOT_AVAILABLE
        p = int(val(port))
        if p not in PORT_NAMES:
            return SHAMROCK_P3INVALID
        if p != self._exit_port:
            self.world.clock.advance(FLIPPER_S)
            self._exit_port = p
            self._record_truth()
        return SHAMROCK_SUCCESS

    # ------------------------------------------------------------------ filter wheel
    ShamrockFilterIsPresent = _reports(lambda s: 1)
    ShamrockGetFilter = _reports(lambda s: s._filter)

    @_api()
    def ShamrockSetFilter(self, device: Any, position: Any) -> int:
        """Turn the wheel to position 1-6 (SHAMROCK_FILTERMIN..MAX, else SHAMROCK_P2INVALID)."""
        self._check_device(device)
        f = int(val(position))
        if f not in KYMERA_FILTERS:
            return SHAMROCK_P2INVALID
        if f != self._filter:
            self.world.clock.advance(FILTER_CHANGE_S)
            self._filter = f
            self._record_truth()
        return SHAMROCK_SUCCESS

    @_api()
    def ShamrockGetFilterInfo(self, device: Any, position: Any, info_buffer: Any) -> int:
        self._check_device(device)
        f = int(val(position))
        if f not in KYMERA_FILTERS:
            return SHAMROCK_P2INVALID
        set_text(info_buffer, KYMERA_FILTERS[f].info, 3)
        return SHAMROCK_SUCCESS
