"""``calibrate``: pixel-to-wavelength calibration from the lines of an Ar-Hg lamp."""

from __future__ import annotations

import numpy as np

from tepl.plan import PlanBuilder
from tepl.procedures import interlocks
from tepl.procedures.base import Procedure, RunContext
from tepl.procedures.params import Parameter
from tepl.procedures.spectral import spectral_axes


class Calibrate(Procedure):
    name = "calibrate"
    summary = "pixel-to-wavelength from the Ar-Hg lamp lines; installs the result on the station"
    roles = ("spectrometer", "shutter", "lamp")
    excites = False  # the lamp's lines, not the sample's emission
    parameters = (
        Parameter("exposure_s", 0.5, "s", 1e-4, 3600.0, limit="exposure_s", doc="CCD exposure"),
        Parameter("accumulations", 4, "", 1, 1000, kind=int, doc="exposures summed"),
        Parameter("order", 3, "", 1, 5, kind=int, doc="polynomial order pixel → wavelength"),
        Parameter("apply", True, kind=bool, doc="install the calibration on the station for later runs"),
    )

    def make_plan(self, station, plan: PlanBuilder) -> None:
        interlocks.exposure(plan, station, self["exposure_s"])
        n_pixels = station.spectrometer.spectrograph_wavelengths_nm().size
        plan.points(("shot",), shot=[0], exposure_s=[self["exposure_s"]], accumulations=[self["accumulations"]])
        # the wavelength axis is the calibration's result: known once the lamp lines are found
        plan.dataset("spectra", (n_pixels,), ("wavelength_nm",), "counts", signal=True)
        plan.dataset("line_pixel", (None,), ("line",), "px")
        plan.dataset("line_wavelength_nm", (None,), ("line",), "nm")
        plan.estimate(self["accumulations"] * (self["exposure_s"] + 0.035))
        plan.view("spectrum", "spectra", ("wavelength_nm",), "lamp spectrum")
        plan.view("approach", "line_wavelength_nm", ("line_pixel",), "lamp lines found: wavelength vs pixel")

    def execute(self, ctx: RunContext) -> None:
        from tepl.analysis.calibration import calibrate_wavelength

        st, rec = ctx.station, ctx.recorder
        nominal_nm = st.spectrometer.spectrograph_wavelengths_nm()
        (shot,) = ctx.plan.points.rows()
        st.lamp.open()
        st.shutter.open()
        ctx.checkpoint()
        counts = st.spectrometer.acquire(shot["exposure_s"], shot["accumulations"])
        st.shutter.shut()
        st.lamp.shut()
        ctx.write("spectra", slice(None), counts)
        rec.add_axis("nominal_wavelength_nm", nominal_nm, "nm", dim="wavelength_nm")
        try:
            cal = calibrate_wavelength(counts, nominal_nm, order=self["order"])
        except ValueError:
            spectral_axes(rec.add_axis, nominal_nm)  # the lamp spectrum stays readable on the nominal axis
            raise
        spectral_axes(rec.add_axis, cal.wavelength_nm)
        n = len(cal.line_pixels)
        ctx.create("line_pixel", n)
        ctx.create("line_wavelength_nm", n)
        ctx.write("line_pixel", slice(None), np.asarray(cal.line_pixels, float))
        ctx.write("line_wavelength_nm", slice(None), np.asarray(cal.line_wavelengths_nm, float))
        rec.set_attrs("/entry/data", residual_rms_nm=float(cal.rms_nm), lines_used=int(n),
                      coefficients=np.asarray(cal.coefficients, float))
        ctx.log(f"calibrated on {n} Ar-Hg lines, residual {cal.rms_nm:.3f} nm RMS")
        if self["apply"]:
            st.spectrometer.set_calibration_nm(cal.wavelength_nm)
        ctx.progress(1, 1, f"{n} lines, {cal.rms_nm:.3f} nm RMS")

