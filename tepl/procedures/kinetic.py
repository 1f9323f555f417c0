"""``kinetic-series``: spectra vs time at one position (spectral diffusion, charged-exciton switching,
correlated peaks of single nanocrystals). One frame is written and flushed as soon as it is read."""

from __future__ import annotations

import numpy as np

from tepl.plan import PlanBuilder
from tepl.procedures import interlocks
from tepl.procedures.base import Procedure, RunContext
from tepl.procedures.moves import move_to_spot
from tepl.procedures.params import Parameter
from tepl.procedures.spectral import spectral_axes

_READOUT_S = 0.035  # FVB readout per frame, for the time estimate


class KineticSeries(Procedure):
    name = "kinetic-series"
    resumable = True
    summary = "Spectra vs time at one position (spectral diffusion and jumps of single emitters)"
    roles = ("stage", "spectrometer", "shutter")
    parameters = (
        Parameter("x_um", 50.0, "µm", 0.0, 100.0, doc="stage x of the emitter"),
        Parameter("y_um", 50.0, "µm", 0.0, 100.0, doc="stage y of the emitter"),
        Parameter("exposure_s", 1.0, "s", 1e-4, 3600.0, limit="exposure_s", doc="CCD exposure per frame"),
        Parameter("frames", 100, "", 1, 1_000_000, kind=int, doc="number of spectra"),
    )

    def make_plan(self, station, plan: PlanBuilder) -> None:
        n = self["frames"]
        interlocks.stage_travel(plan, station, self["x_um"], self["y_um"])
        interlocks.exposure(plan, station, self["exposure_s"])
        plan.points(("frame",), frame=np.arange(n), exposure_s=np.full(n, self["exposure_s"]))
        wl = station.spectrometer.wavelengths_nm()
        plan.dataset("spectra", (n, wl.size), ("time_s", "wavelength_nm"), "counts", signal=True)
        plan.measured_axis("time_s", n, "s", description="start of each exposure, s from the first one; "
                                                         "start_clock_s: the first one on the station clock")
        spectral_axes(plan.axis, wl)
        plan.estimate(n * (self["exposure_s"] + _READOUT_S))
        plan.view("frames", "spectra", ("wavelength_nm", "time_s"), "spectra vs frame")
        plan.view("spectrum", "spectra", ("wavelength_nm",), "latest spectrum")

    def execute(self, ctx: RunContext) -> None:
        st = ctx.station
        st.shutter.shut()
        move_to_spot(ctx, self["x_um"], self["y_um"])
        st.shutter.open()
        t0 = None
        if ctx.first_step:  # resumed: frame times go on from the last frame kept, one exposure later
            last_s = float(ctx.recorder.dataset("time_s")[ctx.first_step - 1])
            t0 = st.now_s() - (last_s + float(ctx.plan.points["exposure_s"][0]))
        for point in ctx.visit(lambda p: f"frame {p['frame'] + 1}/{len(ctx.plan.points)}"):
            t = st.now_s()
            if t0 is None:
                t0 = t
                ctx.recorder.set_attrs("time_s", start_clock_s=t0)
            spectrum = st.spectrometer.acquire(point["exposure_s"])
            ctx.write("time_s", point["frame"], t - t0)
            ctx.write("spectra", point["frame"], spectrum)
        st.shutter.shut()
