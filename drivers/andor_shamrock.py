"""Andor Shamrock / Kymera spectrograph driver through the ShamrockCIF library.

The driver is given a library object exposing the ShamrockCIF C functions: on the rig
``load_shamrock(path)`` (``libshamrockcif.so`` on Linux, ``ShamrockCIF.dll`` on Windows), in simulation
``tepl.sims.andor_shamrock.SimShamrock``. Every return code is checked; anything but SHAMROCK_SUCCESS
raises ``DeviceError`` naming the function and the code.

Units: nanometres (``_nm``) for wavelengths, micrometres (``_um``) for pixel widths, metres for the focal
length the EEPROM reports, degrees for its angles. Gratings are numbered from 1.
"""

from __future__ import annotations

import ctypes
import math
import re
from typing import Any

import numpy as np

from tepl.drivers.ctypes_lib import (
    CHAR_P,
    FLOAT,
    INT,
    P_FLOAT,
    P_INT,
    call_named,
    load_library,
    read_outputs,
    text_buffer,
    text_of,
)
from tepl.roles import DeviceError

SHAMROCK_SUCCESS = 20202
SHAMROCK_CODES = {
    20201: "SHAMROCK_COMMUNICATION_ERROR", 20202: "SHAMROCK_SUCCESS", 20266: "SHAMROCK_P1INVALID",
    20267: "SHAMROCK_P2INVALID", 20268: "SHAMROCK_P3INVALID", 20269: "SHAMROCK_P4INVALID",
    20270: "SHAMROCK_P5INVALID", 20275: "SHAMROCK_NOT_INITIALIZED", 20292: "SHAMROCK_NOT_AVAILABLE",
}

# Argument types of the ShamrockCIF functions this driver calls (ShamrockCIF.h); all return unsigned int.
SHAMROCK_SIGNATURES: dict[str, list] = {
    "ShamrockInitialize": [CHAR_P], "ShamrockClose": [],
    "ShamrockGetNumberDevices": [P_INT], "ShamrockGetSerialNumber": [INT, CHAR_P],
    "ShamrockEepromGetOpticalParams": [INT, P_FLOAT, P_FLOAT, P_FLOAT],
    "ShamrockGetNumberGratings": [INT, P_INT], "ShamrockGetGrating": [INT, P_INT], "ShamrockSetGrating": [INT, INT],
    "ShamrockGetGratingInfo": [INT, INT, P_FLOAT, CHAR_P, P_INT, P_INT],
    "ShamrockWavelengthIsPresent": [INT, P_INT], "ShamrockGetWavelength": [INT, P_FLOAT],
    "ShamrockSetWavelength": [INT, FLOAT], "ShamrockGetWavelengthLimits": [INT, INT, P_FLOAT, P_FLOAT],
    "ShamrockSetPixelWidth": [INT, FLOAT], "ShamrockSetNumberPixels": [INT, INT],
    "ShamrockGetCalibration": [INT, P_FLOAT, INT],
    "ShamrockShutterIsPresent": [INT, P_INT], "ShamrockGetShutter": [INT, P_INT], "ShamrockSetShutter": [INT, INT],
    "ShamrockAutoSlitIsPresent": [INT, INT, P_INT], "ShamrockGetAutoSlitWidth": [INT, INT, P_FLOAT],
    "ShamrockSetAutoSlitWidth": [INT, INT, FLOAT],
    "ShamrockFlipperMirrorIsPresent": [INT, INT, P_INT], "ShamrockGetFlipperMirror": [INT, INT, P_INT],
    "ShamrockSetFlipperMirror": [INT, INT, INT],
    "ShamrockFilterIsPresent": [INT, P_INT], "ShamrockGetFilter": [INT, P_INT], "ShamrockSetFilter": [INT, INT],
    "ShamrockGetFilterInfo": [INT, INT, CHAR_P],
}

# ShamrockCIF.h constants
SLITS = {"input_side": 1, "input_direct": 2, "output_side": 3, "output_direct": 4}  # SHAMROCK_*_SLIT_*
INPUT_SLITS = ("direct", "side")  # the config's input_slit: input_<name>
SLIT_WIDTH_UM = (10.0, 2500.0)  # SHAMROCK_SLITWIDTHMIN / MAX
OUTPUT_FLIPPER = 2  # SHAMROCK_OUTPUT_FLIPPER (1 is the input flipper)
PORTS = {"direct": 0, "side": 1}  # SHAMROCK_DIRECT_PORT / SHAMROCK_SIDE_PORT
FILTERS = range(1, 7)  # SHAMROCK_FILTERMIN .. SHAMROCK_FILTERMAX


def load_shamrock(path: str) -> ctypes.CDLL:
    """Load the ShamrockCIF library (stdcall ``WinDLL`` on Windows) and declare the functions used."""
    return load_library(path, SHAMROCK_SIGNATURES, "Andor Shamrock")


class Kymera:
    """A Kymera / Shamrock spectrograph: turret, centre wavelength, pixel calibration, shutter.

    ``pixel_width_um`` and ``number_pixels`` describe the camera on the exit port; the library's
    calibration (``calibration_nm``) is computed for them.
    """

    def __init__(self, lib: Any, device: int = 0, ini_dir: str = "", pixel_width_um: float = 26.0,
                 number_pixels: int = 1024):
        self.lib, self.device = lib, int(device)
        self._call("ShamrockInitialize", ini_dir.encode())
        n_devices = self._get("ShamrockGetNumberDevices", ctypes.c_int, with_device=False)[0]
        if not 0 <= self.device < n_devices:
            raise DeviceError(f"spectrograph index {self.device} not present ({n_devices} found)")
        serial = text_buffer(63)
        self._call("ShamrockGetSerialNumber", self.device, serial)
        self.serial_number = text_of(serial)
        self.focal_length_m, self.angular_deviation_deg, self.focal_tilt_deg = self._get(
            "ShamrockEepromGetOpticalParams", ctypes.c_float, n_out=3)
        self.shutter_present = bool(self._get("ShamrockShutterIsPresent", ctypes.c_int)[0])
        self.slits_present = [name for name, index in SLITS.items()
                              if self._get("ShamrockAutoSlitIsPresent", ctypes.c_int, index)[0]]
        self.exit_flipper_present = bool(self._get("ShamrockFlipperMirrorIsPresent", ctypes.c_int,
                                                   OUTPUT_FLIPPER)[0])
        self.filter_present = bool(self._get("ShamrockFilterIsPresent", ctypes.c_int)[0])
        self.input_slit = "direct"
        self.setup_pixels(pixel_width_um, number_pixels)

    # ------------------------------------------------------------------ library plumbing
    def _call(self, name: str, *args: Any) -> None:
        call_named(self.lib, name, args, (SHAMROCK_SUCCESS,), SHAMROCK_CODES, "Andor Shamrock")

    def _get(self, name: str, ctype: Any, *inputs: Any, n_out: int = 1, with_device: bool = True) -> tuple:
        head = (self.device,) if with_device else ()
        return read_outputs(self._call, ctype, n_out, name, *head, *inputs)

    # ------------------------------------------------------------------ gratings
    def number_gratings(self) -> int:
        return self._get("ShamrockGetNumberGratings", ctypes.c_int)[0]

    def grating(self) -> int:
        """The grating in the beam, numbered from 1."""
        return self._get("ShamrockGetGrating", ctypes.c_int)[0]

    def set_grating(self, grating: int) -> None:
        """Turn the turret to ``grating`` (1..number_gratings); takes seconds on the real instrument."""
        n = self.number_gratings()
        if int(grating) != grating or not 1 <= grating <= n:
            raise ValueError(f"grating {grating} does not exist; this turret has gratings 1..{n}")
        if grating != self.grating():
            self._call("ShamrockSetGrating", self.device, int(grating))

    def grating_info(self, grating: int | None = None) -> dict:
        """Lines per mm, blaze (text and nm when it reads as a number), home and offset steps."""
        g = self.grating() if grating is None else int(grating)
        lines, home, offset = ctypes.c_float(), ctypes.c_int(), ctypes.c_int()
        blaze = text_buffer(63)
        self._call("ShamrockGetGratingInfo", self.device, g, ctypes.byref(lines), blaze, ctypes.byref(home),
                   ctypes.byref(offset))
        text = text_of(blaze)
        number = re.match(r"\s*([0-9.]+)", text)
        return {"grating": g, "lines_per_mm": float(lines.value), "blaze": text,
                "blaze_nm": float(number.group(1)) if number else None, "home": home.value, "offset": offset.value}

    # ------------------------------------------------------------------ wavelength
    def center_wavelength_nm(self) -> float:
        return float(self._get("ShamrockGetWavelength", ctypes.c_float)[0])

    def wavelength_limits_nm(self, grating: int | None = None) -> tuple[float, float]:
        """(lowest, highest) centre wavelength the grating can be turned to, nm."""
        g = self.grating() if grating is None else int(grating)
        return self._get("ShamrockGetWavelengthLimits", ctypes.c_float, g, n_out=2)

    def set_center_wavelength_nm(self, center_wavelength_nm: float) -> None:
        """Turn the grating so ``center_wavelength_nm`` falls on the middle of the detector."""
        low, high = self.wavelength_limits_nm()
        if not (math.isfinite(center_wavelength_nm) and low <= center_wavelength_nm <= high):
            raise ValueError(f"centre wavelength {center_wavelength_nm} nm is outside this grating's range "
                             f"[{low:.1f}, {high:.1f}] nm")
        self._call("ShamrockSetWavelength", self.device, ctypes.c_float(center_wavelength_nm))

    # ------------------------------------------------------------------ calibration
    def setup_pixels(self, pixel_width_um: float, number_pixels: int) -> None:
        """Tell the library the detector geometry its calibration is computed for."""
        if not (math.isfinite(pixel_width_um) and pixel_width_um > 0) or int(number_pixels) < 1:
            raise ValueError(f"detector geometry {number_pixels} pixels of {pixel_width_um} µm is not valid")
        self._call("ShamrockSetPixelWidth", self.device, ctypes.c_float(pixel_width_um))
        self._call("ShamrockSetNumberPixels", self.device, int(number_pixels))
        self.pixel_width_um, self.number_pixels = float(pixel_width_um), int(number_pixels)

    def calibration_nm(self) -> np.ndarray:
        """Wavelength of each detector pixel (nm, float64) from the library's grating model."""
        values = (ctypes.c_float * self.number_pixels)()
        self._call("ShamrockGetCalibration", self.device, values, self.number_pixels)
        wl = np.ctypeslib.as_array(values).astype(float)
        if not np.all(np.isfinite(wl)) or not np.all(np.diff(wl) > 0):
            raise DeviceError("Andor Shamrock GetCalibration returned a wavelength table that is not increasing "
                              f"(first {wl[0]:g} nm, last {wl[-1]:g} nm)")
        return wl

    # ------------------------------------------------------------------ shutter
    def _require_shutter(self) -> None:
        if not self.shutter_present:
            raise DeviceError(f"spectrograph {self.serial_number} has no shutter")

    def open_shutter(self) -> None:
        self._require_shutter()
        self._call("ShamrockSetShutter", self.device, 1)

    def close_shutter(self) -> None:
        self._require_shutter()
        self._call("ShamrockSetShutter", self.device, 0)

    def shutter_is_open(self) -> bool:
        self._require_shutter()
        return self._get("ShamrockGetShutter", ctypes.c_int)[0] == 1

    # ------------------------------------------------------------------ input slit
    def _slit(self, slit: str) -> int:
        name = f"input_{slit}"
        if slit not in INPUT_SLITS:
            raise ValueError(f"spectrograph {self.serial_number}: input slit {slit!r} is not one of {INPUT_SLITS}")
        if name not in self.slits_present:
            raise DeviceError(f"spectrograph {self.serial_number} has no motorised {name} slit "
                              f"(ShamrockAutoSlitIsPresent; fitted: {self.slits_present or 'none'})")
        return SLITS[name]

    def slit_width_um(self, slit: str | None = None) -> float:
        """Width (µm) of the input slit ``slit`` ("direct" / "side"; default the one in use)."""
        return float(self._get("ShamrockGetAutoSlitWidth", ctypes.c_float, self._slit(slit or self.input_slit))[0])

    def set_slit_width_um(self, width_um: float, slit: str | None = None) -> None:
        """Drive the input slit ``slit`` (default the one in use) to ``width_um`` (10-2500 µm); with ``slit``
        given, that slit becomes the one in use. Refused (ValueError) outside the range, before anything moves."""
        which = slit or self.input_slit
        index = self._slit(which)
        low, high = SLIT_WIDTH_UM
        if not (math.isfinite(width_um) and low <= width_um <= high):
            raise ValueError(f"spectrograph {self.serial_number}: input slit width {width_um} µm is outside the "
                             f"slit's range [{low:g}, {high:g}] µm")
        self._call("ShamrockSetAutoSlitWidth", self.device, index, ctypes.c_float(width_um))
        self.input_slit = which

    # ------------------------------------------------------------------ exit port
    def _require_flipper(self) -> None:
        if not self.exit_flipper_present:
            raise DeviceError(f"spectrograph {self.serial_number} has no output flipper mirror "
                              "(ShamrockFlipperMirrorIsPresent)")

    def exit_port(self) -> str:
        """The exit port the output flipper mirror sends the light to: "direct" or "side"."""
        self._require_flipper()
        port = self._get("ShamrockGetFlipperMirror", ctypes.c_int, OUTPUT_FLIPPER)[0]
        return {v: k for k, v in PORTS.items()}.get(port, f"unknown ({port})")

    def set_exit_port(self, port: str) -> None:
        """Flip the output mirror to ``port`` ("direct" / "side"): the port the CCD is mounted on."""
        if port not in PORTS:
            raise ValueError(f"spectrograph {self.serial_number}: exit port {port!r} is not one of {sorted(PORTS)}")
        self._require_flipper()
        self._call("ShamrockSetFlipperMirror", self.device, OUTPUT_FLIPPER, PORTS[port])

    # ------------------------------------------------------------------ filter wheel
    def _require_filter(self) -> None:
        if not self.filter_present:
            raise DeviceError(f"spectrograph {self.serial_number} has no filter wheel (ShamrockFilterIsPresent)")

    def filter(self) -> int:
        """The filter-wheel position in the beam (1-6)."""
        self._require_filter()
        return self._get("ShamrockGetFilter", ctypes.c_int)[0]

    def set_filter(self, position: int) -> None:
        """Turn the filter wheel to ``position`` (1-6)."""
        if int(position) != position or position not in FILTERS:
            raise ValueError(f"spectrograph {self.serial_number}: filter position {position} is not one of "
                             f"{FILTERS.start}..{FILTERS.stop - 1}")
        self._require_filter()
        self._call("ShamrockSetFilter", self.device, int(position))

    def filter_info(self, position: int | None = None) -> str:
        """The label the library holds for a filter position (default the one in the beam)."""
        self._require_filter()
        info = text_buffer(63)
        self._call("ShamrockGetFilterInfo", self.device, self.filter() if position is None else int(position), info)
        return text_of(info)

    def close(self) -> None:
        """Release the library."""
        self._call("ShamrockClose")

    def settings(self) -> dict:
        limits = self.wavelength_limits_nm()
        return {
            "serial_number": self.serial_number, "focal_length_m": self.focal_length_m,
            "angular_deviation_deg": self.angular_deviation_deg, "focal_tilt_deg": self.focal_tilt_deg,
            "grating": self.grating_info(), "center_wavelength_nm": self.center_wavelength_nm(),
            "wavelength_limits_nm": list(limits), "pixel_width_um": self.pixel_width_um,
            "number_pixels": self.number_pixels,
            "shutter_open": self.shutter_is_open() if self.shutter_present else None,
            "input_slit": self.input_slit if f"input_{self.input_slit}" in self.slits_present else None,
            "slit_width_um": self.slit_width_um() if f"input_{self.input_slit}" in self.slits_present else None,
            "exit_port": self.exit_port() if self.exit_flipper_present else None,
            "filter": self.filter() if self.filter_present else None,
            "filter_info": self.filter_info() if self.filter_present else None,
        }
