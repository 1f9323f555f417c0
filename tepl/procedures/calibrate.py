"""``calibrate``: pixel-to-wavelength calibration from the lines of an Ar-Hg lamp."""

from __future__ import annotations

import numpy as np

from tepl.procedures.base import Procedure, RunContext
from tepl.procedures.common import add_spectral_axes, check_exposure
from tepl.procedures.params import Parameter


class Calibrate(Procedure):
    name = "calibrate"
    summary = "pixel-to-wavelength from the Ar-Hg lamp lines; installs the result on the station"
    roles = ("spectrometer", "shutter", "lamp")
    parameters = (
        Parameter("exposure_s", 0.5, "s", 1e-4, 3600.0, doc="CCD exposure"),
        Parameter("accumulations", 4, "", 1, 1000, kind=int, doc="exposures summed"),
        Parameter("order", 3, "", 1, 5, kind=int, doc="polynomial order pixel → wavelength"),
        Parameter("apply", True, kind=bool, doc="install the calibration on the station for later runs"),
    )

    def check(self, station) -> list[str]:
        return [check_exposure(station, self["exposure_s"])]

    def estimate_s(self, station) -> float:
        return self["accumulations"] * (self["exposure_s"] + 0.035)

    def execute(self, ctx: RunContext) -> None:
        from tepl.analysis.calibration import calibrate_wavelength

        st, rec = ctx.station, ctx.recorder
        nominal_nm = st.spectrometer.spectrograph_wavelengths_nm()
        st.lamp.open()
        st.shutter.open()
        ctx.checkpoint()
        counts = st.spectrometer.acquire(self["exposure_s"], self["accumulations"])
        st.shutter.close()
        st.lamp.close()
        rec.add_dataset("spectra", counts.shape, ("wavelength_nm",), "counts", signal=True)
        ctx.write("spectra", slice(None), counts)
        rec.add_axis("nominal_wavelength_nm", nominal_nm, "nm", dim="wavelength_nm")
        try:
            cal = calibrate_wavelength(counts, nominal_nm, order=self["order"])
        except ValueError:
            add_spectral_axes(rec, nominal_nm)  # the lamp spectrum stays readable on the nominal axis
            raise
        add_spectral_axes(rec, cal.wavelength_nm)
        n = len(cal.line_pixels)
        rec.add_dataset("line_pixel", (n,), ("line",), "px")
        rec.add_dataset("line_wavelength_nm", (n,), ("line",), "nm")
        ctx.write("line_pixel", slice(None), np.asarray(cal.line_pixels, float))
        ctx.write("line_wavelength_nm", slice(None), np.asarray(cal.line_wavelengths_nm, float))
        rec.set_attrs("/entry/data", residual_rms_nm=float(cal.rms_nm), lines_used=int(n),
                      coefficients=np.asarray(cal.coefficients, float))
        ctx.log(f"calibrated on {n} Ar-Hg lines, residual {cal.rms_nm:.3f} nm RMS")
        if self["apply"]:
            st.spectrometer.set_calibration_nm(cal.wavelength_nm)
        ctx.progress(1, 1, f"{n} lines, {cal.rms_nm:.3f} nm RMS")
