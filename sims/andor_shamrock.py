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

Modules: this one holds the spectrograph's hidden truth, its initialisation and identity; ``andor_shamrock_api``
the return codes and how a function is called, ``andor_shamrock_grating`` the gratings, the wavelength and the
calibration, ``andor_shamrock_ports`` the shutter, slits, flipper mirrors and filter wheel,
``andor_shamrock_light`` the light path the CCD simulator asks about. ``SimShamrock`` is one object answering
all of them.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from tepl.sims.andor_optics import KYMERA_FILTERS, instrument_line_fwhm_px, slit_throughput
from tepl.sims.andor_shamrock_api import SHAMROCK_SUCCESS, api, reports
from tepl.sims.andor_shamrock_grating import KYMERA_328I_GRATINGS, Grating, ShamrockGratings
from tepl.sims.andor_shamrock_light import ShamrockLightPath
from tepl.sims.andor_shamrock_ports import PORT_NAMES, PORTS, SLIT_INPUT_DIRECT, SLIT_RESET_UM, ShamrockPorts
from tepl.sims.c_args import ArgError, val


class SimShamrock(ShamrockGratings, ShamrockPorts, ShamrockLightPath):
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
        self._power_on()
        self._true_axis: tuple[tuple, np.ndarray] | None = None  # (arguments, axis): the same every pixel of a scan

    def _power_on(self) -> None:
        """The settings after ShamrockInitialize: grating 1 at zero order, no calibration set, shutter closed,
        the input slit at its reset width (the motorised slits fitted), the flipper at its power-on port,
        filter 1."""
        self._grating, self._center_nm = 1, 0.0
        self._pixel_width_um, self._n_pixels = 0.0, 0
        self._shutter_mode = 0
        self._slit_width_um = {SLIT_INPUT_DIRECT: SLIT_RESET_UM}
        self._exit_port, self._filter = self._power_on_port, 1

    # ------------------------------------------------------------------ ground truth
    def _record_truth(self) -> None:
        nominal = self._nominal(self._center_nm, self._grating, self.detector_pixels)
        true = self.true_wavelengths_nm()
        slit_um = self._slit_width_um.get(SLIT_INPUT_DIRECT, 0.0)
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
            "slit_throughput": slit_throughput(slit_um),
            "instrument_fwhm_px": instrument_line_fwhm_px(slit_um, self.detector_pixel_um),
            "exit_port": PORT_NAMES[self._exit_port], "ccd_port": PORT_NAMES[self.ccd_port],
            "filter": self._filter, "filter_info": KYMERA_FILTERS[self._filter].info,
        })

    def _check_device(self, device: Any) -> None:
        if int(val(device)) != 0:
            raise ArgError(1)

    # ------------------------------------------------------------------ init and identity
    @api(requires_init=False)
    def ShamrockInitialize(self, ini_dir: Any = b"") -> int:
        if not self._initialized:
            self._initialized = True
            self._power_on()
            self.world.shutter_open = False
            self._record_truth()
        return SHAMROCK_SUCCESS

    @api()
    def ShamrockClose(self) -> int:
        self._initialized = False
        return SHAMROCK_SUCCESS

    ShamrockGetNumberDevices = reports(lambda s: 1, handle=False)
    ShamrockGetSerialNumber = reports(lambda s: s.serial)
    # focal length m, angular deviation and focal tilt degrees
    ShamrockEepromGetOpticalParams = reports(lambda s: s.focal_length_m, lambda s: s.deviation_deg,
                                              lambda s: s.tilt_deg)
