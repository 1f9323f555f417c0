"""The light path of the simulated Kymera 328i (``tepl.sims.andor_shamrock.SimShamrock``) as the CCD simulator
(``tepl.sims.andor_sdk2.SimSDK2``) sees it (``ShamrockLightPath``, a part of ``SimShamrock``): whether the
light reaches the port the CCD sits on, the TRUE wavelength (nm) of each of its pixels at the present settings
(the grating equation with the true focal length and detector shift), and what the slit and the filter leave
of the light arriving at the input slit.
"""

from __future__ import annotations

import numpy as np

from tepl.sims.andor_optics import LAMP_RENDER_PX, blur_spectrum, filter_transmission, slit_throughput
from tepl.sims.andor_shamrock_grating import Grating, grating_wavelengths_nm
from tepl.sims.andor_shamrock_ports import SLIT_INPUT_DIRECT
from tepl.sims.tepl_memo import LastCall


def _render_fwhm_nm(wavelength_nm: np.ndarray) -> float:
    return float(LAMP_RENDER_PX * np.abs(np.diff(wavelength_nm)).mean())


_lamp_render_fwhm_nm = LastCall(_render_fwhm_nm)  # the same axis every exposure of a scan


class ShamrockLightPath:
    """What the CCD simulator asks the spectrograph at every exposure (read-only)."""

    gratings: tuple[Grating, ...]
    true_focal_length_m: float
    true_detector_shift_um: float
    _true_axis: tuple[tuple, np.ndarray] | None  # (arguments, axis): the same every pixel of a scan

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
